package compare

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/reports"
)

// The files a comparison writes into its directory.
const (
	JSONFile = "compare.json"
	HTMLFile = "compare.html"
)

//go:embed compare.html.tmpl
var pageSource string

//go:embed compare.css
var pageCSS string

var pageTemplate = template.Must(template.New("compare").Funcs(template.FuncMap{
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") },
	"rate": func(v VerdictCounts) string {
		if v.Runs == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.0f%%", 100*v.AnomalyRate)
	},
}).Parse(pageSource))

// Write writes rep as dir/compare.json and dir/compare.html, creating dir.
// Both are written atomically: a reader never sees half a comparison.
func Write(dir string, rep Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("comparison directory: %w", err)
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", JSONFile, err)
	}
	if err := reports.WriteFileAtomic(filepath.Join(dir, JSONFile), append(b, '\n')); err != nil {
		return err
	}
	var page bytes.Buffer
	if err := RenderHTML(&page, rep, func(runDir string) string { return reportLink(dir, runDir) }, JSONFile); err != nil {
		return fmt.Errorf("render %s: %w", filepath.Join(dir, HTMLFile), err)
	}
	return reports.WriteFileAtomic(filepath.Join(dir, HTMLFile), page.Bytes())
}

// page is the report laid out for the template. html/template escapes
// every string taken from the runs.
type page struct {
	R        Report
	CSS      template.CSS
	Title    string
	Banner   string
	Limits   string
	Sides    []SideInfo
	Sections []section
	Runs     []runView
	JSONFile string
}

type section struct {
	ID, Title string
	Checkers  []checkerView
	Metrics   []metricView
	Faults    []faultView
	Latency   []latencyView
}

type checkerView struct {
	Label    string
	A, B     VerdictCounts
	Class    string // worse, better or empty, for B's invalid cells
	Examples []exampleView
}

type exampleView struct {
	Side    string
	Seed    int64
	Verdict string
	Message string
	Link    string
}

type metricView struct {
	Name, A, B, Delta string
	Class             string
}

type faultView struct {
	Kind  string
	A, B  faultCells
	Class string
}

type faultCells struct {
	Windows                       int
	RecoveredMedian, RecoveredMax string
	UnavailMedian, UnavailMax     string
	NotRecovered, NewLeader       string
}

type latencyView struct {
	Op    string
	A, B  latencyCells
	Delta string
	Class string
}

type latencyCells struct {
	Count         int
	P50, P90, P99 string
}

type runView struct {
	RunRef
	Class string // the verdict's badge class
	Link  string
}

// RenderHTML writes the comparison page to w. link turns a run directory
// into the address of its report; jsonFile, when not empty, is the address
// of the comparison's JSON, linked at the bottom.
func RenderHTML(w io.Writer, rep Report, link func(runDir string) string, jsonFile string) error {
	p := page{R: rep, CSS: template.CSS(pageCSS), Title: "no regression", Banner: "valid",
		Sides: []SideInfo{rep.A, rep.B}, JSONFile: jsonFile}
	if rep.Regression {
		p.Title, p.Banner = "B is worse", "invalid"
	}
	var limits []string
	if t := rep.Thresholds.Availability; t != nil {
		limits = append(limits, "availability and recovery "+fmtPct(*t))
	}
	if t := rep.Thresholds.Latency; t != nil {
		limits = append(limits, "p99 latency "+fmtPct(*t))
	}
	p.Limits = strings.Join(limits, ", ")
	if len(rep.Scenarios) != 1 {
		// With one scenario the overall comparison is the same again.
		p.Sections = append(p.Sections, buildSection("overall", "Overall", rep.Overall, nil, link))
	}
	for i, c := range rep.Scenarios {
		p.Sections = append(p.Sections, buildSection(fmt.Sprintf("scenario-%d", i+1), "Scenario "+c.Scenario, c, rep.Findings, link))
	}
	for _, r := range rep.Runs {
		p.Runs = append(p.Runs, runView{RunRef: r, Class: verdictClass(r.Verdict), Link: link(r.Dir)})
	}
	return pageTemplate.Execute(w, p)
}

// buildSection lays out one comparison; cells named by a finding are marked.
func buildSection(id, title string, c Comparison, findings []Finding, link func(string) string) section {
	marked := func(a Aspect, subject string) string {
		for _, f := range findings {
			if f.Worse && f.Scenario == c.Scenario && f.Aspect == a && f.Subject == subject {
				return "worse"
			}
		}
		return ""
	}
	s := section{ID: id, Title: title}
	for _, row := range c.Checkers {
		v := checkerView{Label: pathLabel(row.Path), A: row.A, B: row.B}
		switch {
		case moreInvalid(row.A, row.B):
			v.Class = "worse"
		case row.B.Runs > 0 && moreInvalid(row.B, row.A):
			v.Class = "better"
		}
		if isLeaf(row.Path, c.Checkers) {
			for _, side := range []struct {
				name string
				ex   *Example
			}{{"B", row.B.Example}, {"A", row.A.Example}} {
				if ex := side.ex; ex != nil {
					v.Examples = append(v.Examples, exampleView{Side: side.name, Seed: ex.Seed,
						Verdict: verdictClass(ex.Verdict), Message: ex.Message, Link: link(ex.Dir)})
				}
			}
		}
		s.Checkers = append(s.Checkers, v)
	}
	a, b := c.A, c.B
	s.Metrics = []metricView{
		{Name: "complete runs", A: fmt.Sprint(a.Runs), B: fmt.Sprint(b.Runs)},
		{Name: "unavailable, total", A: fmtDuration(a.Unavailable), B: fmtDuration(b.Unavailable)},
		{Name: "unavailable per run", A: fmtDuration(a.UnavailablePerRun), B: fmtDuration(b.UnavailablePerRun),
			Delta: change(a.UnavailablePerRun, b.UnavailablePerRun), Class: marked(Availability, "")},
		{Name: "availability", A: fmt.Sprintf("%.2f%%", a.Availability), B: fmt.Sprintf("%.2f%%", b.Availability),
			Delta: fmt.Sprintf("%+.2f points", b.Availability-a.Availability)},
		{Name: "throughput, median ops/s", A: fmt.Sprintf("%.1f", a.OpsPerSecond), B: fmt.Sprintf("%.1f", b.OpsPerSecond),
			Delta: relative(a.OpsPerSecond, b.OpsPerSecond)},
		{Name: "leader changes per run, median", A: fmt.Sprint(a.LeaderChanges), B: fmt.Sprint(b.LeaderChanges)},
	}
	for _, f := range c.Faults {
		s.Faults = append(s.Faults, faultView{Kind: string(f.Kind), A: cellsOf(f.A), B: cellsOf(f.B), Class: marked(Recovery, string(f.Kind))})
	}
	for _, l := range c.Latency {
		v := latencyView{Op: l.Op, A: latencyCellsOf(l.A), B: latencyCellsOf(l.B), Delta: "n/a", Class: marked(Latency, l.Op)}
		if l.A.Runs > 0 && l.B.Runs > 0 {
			v.Delta = change(l.A.P99, l.B.P99)
		}
		s.Latency = append(s.Latency, v)
	}
	return s
}

// isLeaf reports whether no other row lies below path.
func isLeaf(path string, rows []CheckerRow) bool {
	for _, r := range rows {
		if below(path, r.Path) {
			return false
		}
	}
	return true
}

func cellsOf(f FaultStats) faultCells {
	c := faultCells{Windows: f.Windows, RecoveredMedian: "n/a", RecoveredMax: "n/a", UnavailMedian: "n/a", UnavailMax: "n/a",
		NotRecovered: "n/a", NewLeader: "n/a"}
	if f.Windows == 0 {
		return c
	}
	c.UnavailMedian, c.UnavailMax = fmtDuration(f.UnavailableMedian), fmtDuration(f.UnavailableMax)
	c.NotRecovered = fmt.Sprint(f.NotRecovered)
	if f.NotRecovered < f.Windows {
		c.RecoveredMedian, c.RecoveredMax = fmtDuration(f.RecoveredMedian), fmtDuration(f.RecoveredMax)
	}
	if f.Elections > 0 {
		c.NewLeader = fmt.Sprintf("%s (of %d)", fmtDuration(f.NewLeaderMedian), f.Elections)
	}
	return c
}

func latencyCellsOf(l LatencyStats) latencyCells {
	if l.Runs == 0 {
		return latencyCells{P50: "n/a", P90: "n/a", P99: "n/a"}
	}
	return latencyCells{Count: l.Count, P50: fmtDuration(l.P50), P90: fmtDuration(l.P90), P99: fmtDuration(l.P99)}
}

// relative renders b relative to a in percent.
func relative(a, b float64) string {
	if a == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%+.0f%%", 100*(b-a)/a)
}

// reportLink is the run's report.html relative to dir, or its absolute path
// when there is no relative one.
func reportLink(dir, runDir string) string {
	target := filepath.Join(runDir, reports.ReportFile)
	absDir, err1 := filepath.Abs(dir)
	absTarget, err2 := filepath.Abs(target)
	if err1 != nil || err2 != nil {
		return filepath.ToSlash(target)
	}
	if rel, err := filepath.Rel(absDir, absTarget); err == nil {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(absTarget)
}

// verdictClass maps a verdict to a badge class; anything unexpected is unknown.
func verdictClass(v checker.Verdict) string {
	if v == checker.Valid || v == checker.Invalid {
		return string(v)
	}
	return "unknown"
}
