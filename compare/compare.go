// Package compare sets two groups of runs side by side, A and B (typically
// two ZooKeeper versions before an upgrade), and decides whether B is worse:
// verdicts per checker, availability, client-visible and server-side
// recovery per fault kind, latency quantiles per operation and throughput,
// per scenario and overall. It works from run directories alone (their
// results.json and, for older runs, history.jsonl), like checker and reports.
package compare

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/recovery"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/reports"
	"github.com/zkchaos/zkchaos/scenarios"
)

// RootPath names the verdict of a whole run (the worst of its checkers) among
// the checker paths.
const RootPath = "run"

// Run is one run directory's results, ready to compare.
type Run struct {
	// Dir is the run directory.
	Dir string
	// Results is its results.json; Summary is filled in from the history
	// when an older results.json lacks it.
	Results reports.Results
	// Distribution names the ZooKeeper the run used: results.json's, or
	// else the resolved scenario's cluster.distribution.
	Distribution string
}

// Complete reports whether the run finished and was judged; runs the harness
// could not finish or that were interrupted are listed but not compared.
func (r Run) Complete() bool { return r.Results.Error == "" && !r.Results.Interrupted }

// skipReason says why an incomplete run is left out.
func (r Run) skipReason() string {
	if r.Results.Error != "" {
		return "harness error: " + r.Results.Error
	}
	return "interrupted"
}

// LoadRun reads a run directory. An older results.json without the summary
// has it computed from history.jsonl; a run that did not complete needs
// neither, since it is not compared.
func LoadRun(dir string) (Run, error) {
	return loadRun(dir, runFiles{
		results:  func() (reports.Results, error) { return reports.ReadResults(dir) },
		history:  func() (history.ReadResult, error) { return history.ReadFile(filepath.Join(dir, history.FileName)) },
		scenario: func() ([]byte, error) { return os.ReadFile(filepath.Join(dir, scenarioFile)) },
	})
}

// LoadRunFS is LoadRun for the run directory dir (a slash path) in fsys, such
// as an os.Root's, through which every file is opened.
func LoadRunFS(fsys fs.FS, dir string) (Run, error) {
	return loadRun(dir, runFiles{
		results:  func() (reports.Results, error) { return reports.ReadResultsFS(fsys, dir) },
		history:  func() (history.ReadResult, error) { return history.ReadFS(fsys, path.Join(dir, history.FileName)) },
		scenario: func() ([]byte, error) { return fs.ReadFile(fsys, path.Join(dir, scenarioFile)) },
	})
}

// scenarioFile is the scenario a run directory keeps.
const scenarioFile = "scenario.yaml"

// runFiles reads one run directory's files.
type runFiles struct {
	results  func() (reports.Results, error)
	history  func() (history.ReadResult, error)
	scenario func() ([]byte, error)
}

func loadRun(dir string, files runFiles) (Run, error) {
	res, err := files.results()
	if err != nil {
		return Run{}, err
	}
	r := Run{Dir: dir, Results: res, Distribution: res.Distribution}
	if r.Complete() && res.Summary == nil {
		read, err := files.history()
		if err != nil {
			return Run{}, fmt.Errorf("%s has no summary, and computing it from the history failed: %w",
				filepath.Join(dir, reports.ResultsFile), err)
		}
		s := reports.Summarize(read.Ops)
		r.Results.Summary = &s
	}
	if r.Distribution == "" {
		data, err := files.scenario()
		if err == nil {
			var s *scenarios.Scenario
			if s, err = scenarios.Parse(filepath.Join(dir, scenarioFile), "scenario", data); err == nil {
				r.Distribution = s.Cluster.Distribution
			}
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			// The distribution is only a label; a scenario file from an
			// older schema does not make the run unusable.
			r.Distribution = "unknown (" + err.Error() + ")"
		}
	}
	return r, nil
}

// Side is one of the two groups of runs.
type Side struct {
	// Source says where the runs came from: a distribution name in run
	// mode, the directories named in directory mode.
	Source string
	// Runs are the group's runs, complete or not.
	Runs []Run
}

// Report is compare.json: both groups, the decision and the comparison per
// scenario and overall.
type Report struct {
	// Generated is when the comparison was made.
	Generated time.Time `json:"generated"`
	// A and B describe the two groups.
	A SideInfo `json:"a"`
	B SideInfo `json:"b"`
	// Thresholds are the limits for availability and latency, if any.
	Thresholds Thresholds `json:"thresholds"`
	// Regression is true when any finding says B is worse.
	Regression bool `json:"regression"`
	// Summary is the decision in words, headline first.
	Summary []string `json:"summary"`
	// Findings are the differences the decision rests on.
	Findings []Finding `json:"findings"`
	// Notes are differences that do not decide anything (unknown verdicts,
	// scenarios run on one side only, runs left out).
	Notes []string `json:"notes,omitempty"`
	// Overall pools every complete run of each side, whatever its scenario.
	Overall Comparison `json:"overall"`
	// Scenarios compares each scenario, by name.
	Scenarios []Comparison `json:"scenarios"`
	// Runs lists every run, complete or not.
	Runs []RunRef `json:"runs"`
}

// SideInfo describes one group in the report.
type SideInfo struct {
	// Name is "A" or "B".
	Name string `json:"name"`
	// Source is where the runs came from.
	Source string `json:"source"`
	// Distributions are the distinct ZooKeeper distributions the runs name.
	Distributions []string `json:"distributions"`
	// Runs counts the complete runs compared; Skipped the others.
	Runs    int `json:"runs"`
	Skipped int `json:"skipped"`
}

// RunRef is one run in the report.
type RunRef struct {
	// Side is "A" or "B".
	Side string `json:"side"`
	// Scenario, Seed and Verdict are the run's own.
	Scenario string          `json:"scenario"`
	Seed     int64           `json:"seed"`
	Verdict  checker.Verdict `json:"verdict"`
	// Dir is the run directory.
	Dir string `json:"dir"`
	// Distribution names the ZooKeeper the run used.
	Distribution string `json:"distribution,omitempty"`
	// Skipped says why the run is not compared; empty when it is.
	Skipped string `json:"skipped,omitempty"`
}

// Comparison sets A and B side by side for one scenario, or overall.
type Comparison struct {
	// Scenario is the scenario's name; empty for the overall comparison.
	Scenario string `json:"scenario,omitempty"`
	// A and B are the availability and throughput of each side.
	A Stats `json:"a"`
	B Stats `json:"b"`
	// Checkers has one row per checker path, in the order the checkers
	// appear in the runs; RootPath is the run's own verdict.
	Checkers []CheckerRow `json:"checkers"`
	// Faults has one row per fault kind, by name.
	Faults []FaultRow `json:"faults"`
	// Latency has one row per operation (ok completions), by name.
	Latency []LatencyRow `json:"latency"`
}

// Stats are the availability and throughput of one side's runs.
type Stats struct {
	// Runs counts the complete runs.
	Runs int `json:"runs"`
	// Unavailable is the total outage time over the runs, and
	// UnavailablePerRun its mean per run.
	Unavailable       time.Duration `json:"unavailable_ns"`
	UnavailablePerRun time.Duration `json:"unavailable_per_run_ns"`
	// Availability is the share of time outside outages, in percent,
	// weighted by each run's workload duration.
	Availability float64 `json:"availability_pct"`
	// OpsPerSecond is the median throughput over the runs.
	OpsPerSecond float64 `json:"ops_per_second_median"`
	// LeaderChanges is the median number of leader changes per run.
	LeaderChanges float64 `json:"leader_changes_median"`
}

// CheckerRow counts one checker's verdicts on each side.
type CheckerRow struct {
	// Path is the checker below the run, e.g. "register/linearizable", or
	// RootPath for the run's verdict.
	Path string `json:"path"`
	// A and B count the checker's verdicts on each side.
	A VerdictCounts `json:"a"`
	B VerdictCounts `json:"b"`
}

// VerdictCounts counts the runs in which a checker was valid, invalid or unknown.
type VerdictCounts struct {
	// Runs counts the runs in which the checker ran; Valid, Invalid and
	// Unknown split them by verdict.
	Runs    int `json:"runs"`
	Valid   int `json:"valid"`
	Invalid int `json:"invalid"`
	Unknown int `json:"unknown"`
	// AnomalyRate is Invalid / Runs, 0 when there were no runs.
	AnomalyRate float64 `json:"anomaly_rate"`
	// Example is the first invalid result (or, with none, the first
	// unknown one), so a reader can see what went wrong and where.
	Example *Example `json:"example,omitempty"`
}

// Example points at one run's result for a checker.
type Example struct {
	// Dir and Seed name the run.
	Dir  string `json:"dir"`
	Seed int64  `json:"seed"`
	// Verdict and Message are the checker's.
	Verdict checker.Verdict `json:"verdict"`
	Message string          `json:"message"`
}

// FaultRow compares the recovery from one kind of fault.
type FaultRow struct {
	// Kind is the fault's kind: kill, pause, partition…
	Kind string `json:"kind"`
	// A and B pool each side's windows of that kind.
	A FaultStats `json:"a"`
	B FaultStats `json:"b"`
}

// FaultStats pools the fault windows of one kind over a side's runs. Client
// figures come from the runs' summaries (only windows whose injection may
// have taken effect); the new-leader time comes from the recovery checker.
type FaultStats struct {
	// Windows counts the fault windows.
	Windows int `json:"windows"`
	// NotRecovered counts windows after which no operation succeeded
	// before the run ended.
	NotRecovered int `json:"not_recovered"`
	// RecoveredMedian and RecoveredMax are the time from the heal to the
	// first ok operation, over the windows that recovered.
	RecoveredMedian time.Duration `json:"recovered_after_median_ns"`
	RecoveredMax    time.Duration `json:"recovered_after_max_ns"`
	// UnavailableMedian and UnavailableMax are the outage time from the
	// injection until service resumed.
	UnavailableMedian time.Duration `json:"unavailable_median_ns"`
	UnavailableMax    time.Duration `json:"unavailable_max_ns"`
	// Elections counts windows in which the servers elected a new leader,
	// and NewLeaderMedian is the median time from the fault to it.
	Elections       int           `json:"elections"`
	NewLeaderMedian time.Duration `json:"new_leader_median_ns,omitempty"`
}

// LatencyRow compares the latency of one operation's ok completions.
type LatencyRow struct {
	// Op is the operation, e.g. read.
	Op string `json:"op"`
	// A and B are each side's quantiles.
	A LatencyStats `json:"a"`
	B LatencyStats `json:"b"`
}

// LatencyStats are the median over runs of each run's quantile.
type LatencyStats struct {
	// Runs counts the runs with ok completions of the operation, and
	// Count those completions.
	Runs  int `json:"runs"`
	Count int `json:"count"`
	// P50, P90 and P99 are the medians over runs of each run's quantile.
	P50 time.Duration `json:"p50_ns"`
	P90 time.Duration `json:"p90_ns"`
	P99 time.Duration `json:"p99_ns"`
}

// Build compares the complete runs of a and b and decides with t.
func Build(a, b Side, t Thresholds) Report {
	rep := Report{
		A:          sideInfo("A", a),
		B:          sideInfo("B", b),
		Thresholds: t,
		Findings:   []Finding{},
		Scenarios:  []Comparison{},
	}
	aRuns, bRuns := complete(a.Runs), complete(b.Runs)
	rep.Overall = compareRuns("", aRuns, bRuns)
	byName := func(runs []Run) map[string][]Run {
		m := map[string][]Run{}
		for _, r := range runs {
			m[r.Results.Scenario] = append(m[r.Results.Scenario], r)
		}
		return m
	}
	aBy, bBy := byName(aRuns), byName(bRuns)
	var names []string
	for n := range aBy {
		names = append(names, n)
	}
	for n := range bBy {
		if _, ok := aBy[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		c := compareRuns(n, aBy[n], bBy[n])
		rep.Scenarios = append(rep.Scenarios, c)
		switch {
		case c.A.Runs == 0:
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s has runs in B only (%d); its checkers are compared with none in A.", n, c.B.Runs))
		case c.B.Runs == 0:
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s has runs in A only (%d); B was not tested on it.", n, c.A.Runs))
		}
	}
	rep.Findings = append(rep.Findings, Decide(rep.Scenarios, t)...)
	rep.Notes = append(rep.Notes, unknownNotes(rep.Scenarios)...)
	for _, side := range []struct {
		name string
		s    Side
	}{{"A", a}, {"B", b}} {
		for _, r := range side.s.Runs {
			ref := RunRef{Side: side.name, Scenario: r.Results.Scenario, Seed: r.Results.Seed,
				Verdict: r.Results.Verdict, Dir: r.Dir, Distribution: r.Distribution}
			if !r.Complete() {
				ref.Skipped = r.skipReason()
				rep.Notes = append(rep.Notes, fmt.Sprintf("%s run %s (%s seed %d) is left out: %s.",
					side.name, r.Dir, r.Results.Scenario, r.Results.Seed, firstLine(ref.Skipped)))
			}
			rep.Runs = append(rep.Runs, ref)
		}
	}
	for _, f := range rep.Findings {
		rep.Regression = rep.Regression || f.Worse
	}
	rep.Summary = summarize(rep)
	return rep
}

// sideInfo describes a side: its source, distributions and run counts.
func sideInfo(name string, s Side) SideInfo {
	info := SideInfo{Name: name, Source: s.Source, Distributions: []string{}}
	for _, r := range s.Runs {
		if r.Complete() {
			info.Runs++
		} else {
			info.Skipped++
		}
		if r.Distribution != "" && !slices.Contains(info.Distributions, r.Distribution) {
			info.Distributions = append(info.Distributions, r.Distribution)
		}
	}
	slices.Sort(info.Distributions)
	return info
}

// complete returns the runs that finished and were judged.
func complete(runs []Run) []Run {
	var out []Run
	for _, r := range runs {
		if r.Complete() {
			out = append(out, r)
		}
	}
	return out
}

// compareRuns builds the comparison of two sets of complete runs.
func compareRuns(scenario string, a, b []Run) Comparison {
	c := Comparison{Scenario: scenario, A: stats(a), B: stats(b)}
	c.Checkers = checkerRows(a, b)
	c.Faults = faultRows(a, b)
	c.Latency = latencyRows(a, b)
	return c
}

// stats computes availability and throughput over runs.
func stats(runs []Run) Stats {
	s := Stats{Runs: len(runs)}
	var weighted, weights, plain float64
	var ops, changes []float64
	for _, r := range runs {
		res := r.Results
		if res.Duration > 0 {
			ops = append(ops, res.OpsPerSecond)
		}
		sum := res.Summary
		if sum == nil {
			continue
		}
		s.Unavailable += sum.Unavailable
		w := res.Duration.Seconds()
		weighted += sum.Availability * w
		weights += w
		plain += sum.Availability
		changes = append(changes, float64(sum.LeaderChanges))
	}
	if len(runs) > 0 {
		s.UnavailablePerRun = s.Unavailable / time.Duration(len(runs))
		if weights > 0 {
			s.Availability = 100 * weighted / weights
		} else {
			s.Availability = 100 * plain / float64(len(runs))
		}
	}
	s.OpsPerSecond = median(ops)
	s.LeaderChanges = median(changes)
	return s
}

// checkerRows counts verdicts per checker path on both sides, in the order
// the paths first appear (A's runs, then B's).
func checkerRows(a, b []Run) []CheckerRow {
	var order []string
	rows := map[string]*CheckerRow{}
	count := func(runs []Run, side func(*CheckerRow) *VerdictCounts) {
		for _, r := range runs {
			for path, res := range verdicts(r.Results.Check) {
				row := rows[path]
				if row == nil {
					row = &CheckerRow{Path: path}
					rows[path] = row
				}
				side(row).add(r, res)
			}
			for _, p := range paths(r.Results.Check) {
				if !slices.Contains(order, p) {
					order = append(order, p)
				}
			}
		}
	}
	count(a, func(r *CheckerRow) *VerdictCounts { return &r.A })
	count(b, func(r *CheckerRow) *VerdictCounts { return &r.B })
	out := make([]CheckerRow, 0, len(order))
	for _, p := range order {
		out = append(out, *rows[p])
	}
	return out
}

// add counts one run's result for a checker.
func (v *VerdictCounts) add(r Run, res checker.Result) {
	v.Runs++
	switch res.Verdict {
	case checker.Valid:
		v.Valid++
	case checker.Invalid:
		v.Invalid++
	default:
		v.Unknown++
	}
	v.AnomalyRate = float64(v.Invalid) / float64(v.Runs)
	ex := &Example{Dir: r.Dir, Seed: r.Results.Seed, Verdict: res.Verdict, Message: res.Message}
	switch {
	case res.Verdict == checker.Invalid && (v.Example == nil || v.Example.Verdict != checker.Invalid):
		v.Example = ex
	case res.Verdict != checker.Valid && res.Verdict != checker.Invalid && v.Example == nil:
		ex.Verdict = checker.Unknown
		v.Example = ex
	}
}

// paths lists the checker paths of a result tree, depth first: RootPath for
// the root, then "register", "register/linearizable"…
func paths(root checker.Result) []string {
	var out []string
	walk(root, func(path string, _ checker.Result) { out = append(out, path) })
	return out
}

// verdicts maps each checker path of a result tree to its result; when a
// path occurs twice, the worse result wins.
func verdicts(root checker.Result) map[string]checker.Result {
	out := map[string]checker.Result{}
	walk(root, func(path string, r checker.Result) {
		if prev, ok := out[path]; ok && checker.Worst(prev.Verdict, r.Verdict) == prev.Verdict {
			return
		}
		out[path] = r
	})
	return out
}

// walk calls f for every node of a result tree with its path. A run that
// was never judged (no checker at the root) has none.
func walk(root checker.Result, f func(string, checker.Result)) {
	if root.Checker == "" && root.Verdict == "" {
		return
	}
	f(RootPath, root)
	var rec func(r checker.Result, prefix string)
	rec = func(r checker.Result, prefix string) {
		for _, c := range r.Children {
			p := c.Checker
			if prefix != "" {
				p = prefix + "/" + p
			}
			f(p, c)
			rec(c, p)
		}
	}
	rec(root, "")
}

// faultSamples gathers one side's fault windows of each kind.
type faultSamples struct {
	windows, notRecovered int
	recovered, unavail    []time.Duration
	newLeader             []time.Duration
}

// faultRows compares recovery per fault kind.
func faultRows(a, b []Run) []FaultRow {
	as, bs := collectFaults(a), collectFaults(b)
	var kinds []string
	for k := range as {
		kinds = append(kinds, k)
	}
	for k := range bs {
		if _, ok := as[k]; !ok {
			kinds = append(kinds, k)
		}
	}
	slices.Sort(kinds)
	out := make([]FaultRow, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, FaultRow{Kind: k, A: as[k].stats(), B: bs[k].stats()})
	}
	return out
}

// collectFaults pools the fault windows of runs by kind: client-visible
// figures from the summaries, new-leader times from the recovery checker.
func collectFaults(runs []Run) map[string]*faultSamples {
	out := map[string]*faultSamples{}
	get := func(kind string) *faultSamples {
		s := out[kind]
		if s == nil {
			s = &faultSamples{}
			out[kind] = s
		}
		return s
	}
	for _, r := range runs {
		kindOf := map[string]string{}
		if sum := r.Results.Summary; sum != nil {
			for _, w := range sum.Recoveries {
				kindOf[w.Name] = w.Kind
				if !w.Applied {
					continue
				}
				s := get(w.Kind)
				s.windows++
				s.unavail = append(s.unavail, w.Unavailable)
				if w.RecoveredAfter < 0 {
					s.notRecovered++
				} else {
					s.recovered = append(s.recovered, w.RecoveredAfter)
				}
			}
		}
		for _, w := range recoveryWindows(r.Results.Check) {
			if w.NewLeader == "" {
				continue
			}
			kind, ok := kindOf[w.Fault]
			if !ok {
				kind = labelKind(w.Fault)
			}
			get(kind).newLeader = append(get(kind).newLeader, w.NewLeaderAfter)
		}
	}
	return out
}

// stats turns the samples into figures; nil samples are all zero.
func (s *faultSamples) stats() FaultStats {
	if s == nil {
		return FaultStats{}
	}
	return FaultStats{
		Windows: s.windows, NotRecovered: s.notRecovered,
		RecoveredMedian: median(s.recovered), RecoveredMax: maxDuration(s.recovered),
		UnavailableMedian: median(s.unavail), UnavailableMax: maxDuration(s.unavail),
		Elections: len(s.newLeader), NewLeaderMedian: median(s.newLeader),
	}
}

// recoveryWindows returns the fault windows the recovery checker measured,
// decoding its details whether they are typed or came back from JSON.
func recoveryWindows(root checker.Result) []recovery.Window {
	rec, ok := root.Child(recovery.Checker{}.Name())
	if !ok || rec.Details == nil {
		return nil
	}
	if d, ok := rec.Details.(recovery.Details); ok {
		return d.Windows
	}
	b, err := json.Marshal(rec.Details)
	if err != nil {
		return nil
	}
	var d recovery.Details
	if json.Unmarshal(b, &d) != nil {
		return nil
	}
	return d.Windows
}

// labelKind reduces a fault label the summary did not name ("kill leader",
// "partition-halves") to its first word.
func labelKind(label string) string {
	if i := strings.IndexAny(label, " -"); i > 0 {
		return label[:i]
	}
	return label
}

// latencyRows compares the latency of ok completions per operation.
func latencyRows(a, b []Run) []LatencyRow {
	al, bl := collectLatency(a), collectLatency(b)
	var ops []string
	for f := range al {
		ops = append(ops, f)
	}
	for f := range bl {
		if _, ok := al[f]; !ok {
			ops = append(ops, f)
		}
	}
	slices.Sort(ops)
	out := make([]LatencyRow, 0, len(ops))
	for _, f := range ops {
		out = append(out, LatencyRow{Op: f, A: latencyStats(al[f]), B: latencyStats(bl[f])})
	}
	return out
}

// collectLatency gathers each run's ok-completion quantiles per operation.
func collectLatency(runs []Run) map[string][]reports.Quantiles {
	out := map[string][]reports.Quantiles{}
	for _, r := range runs {
		if r.Results.Summary == nil {
			continue
		}
		for f, byType := range r.Results.Summary.Latency {
			if q, ok := byType[history.OK]; ok && q.Count > 0 {
				out[f] = append(out[f], q)
			}
		}
	}
	return out
}

// latencyStats takes the median over runs of each quantile.
func latencyStats(qs []reports.Quantiles) LatencyStats {
	s := LatencyStats{Runs: len(qs)}
	var p50, p90, p99 []time.Duration
	for _, q := range qs {
		s.Count += q.Count
		p50 = append(p50, q.P50)
		p90 = append(p90, q.P90)
		p99 = append(p99, q.P99)
	}
	s.P50, s.P90, s.P99 = median(p50), median(p90), median(p99)
	return s
}

// number is what median takes: durations and floats.
type number interface{ ~int64 | ~float64 }

// median returns the median of xs (the mean of the middle two for an even
// count), 0 for none.
func median[T number](xs []T) T {
	var zero T
	if len(xs) == 0 {
		return zero
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// maxDuration returns the largest of ds, 0 for none.
func maxDuration(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Max(ds)
}

// firstLine returns s up to its first newline: harness errors may carry a
// stack trace.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
