// Package compare sets two groups of runs side by side, A and B (typically
// two ZooKeeper versions before an upgrade), and decides whether B is worse:
// verdicts per checker, availability, client-visible and server-side
// recovery per fault kind, latency quantiles per operation and throughput,
// per scenario and overall. It works from run directories alone (their
// results.json and, for older runs, history.jsonl), like checker and reports.
package compare

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/checker"
)

// RootPath names the verdict of a whole run (the worst of its checkers) among
// the checker paths.
const RootPath = "run"

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
	names := sortedKeys(aBy, bBy)
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

// firstLine returns s up to its first newline: harness errors may carry a
// stack trace.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
