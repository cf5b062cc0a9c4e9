package reports

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// ReportFile is the name of the HTML report inside a run directory.
const ReportFile = "report.html"

// maxDetailsBytes caps one checker's pretty-printed details on the page; the
// whole of them stays in results.json.
const maxDetailsBytes = 256 << 10

// maxFaultRows caps the fault table; the timeline still shades every window.
const maxFaultRows = 1000

//go:embed report.html.tmpl
var reportTemplate string

//go:embed report.css
var reportCSS string

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"dur":  formatDuration,
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") },
}).Parse(reportTemplate))

// Page is what report.html shows: the results, the history behind them and the scenario.
type Page struct {
	Results      Results
	Ops          []history.Op
	ScenarioYAML string // the resolved scenario, shown verbatim
}

// pageData is Page laid out for the template.
type pageData struct {
	R           Results
	CSS         template.CSS
	Verdict     string // valid, invalid or unknown: the banner's class
	Counts      []countRow
	Totals      countRow
	Faults      []faultRow
	FaultsShown int
	FaultsAll   int
	Timeline    timeline
	Checks      []checkSection
	Scenario    string
	HistoryFile string
	ResultsFile string
}

type countRow struct {
	F                     string
	OK, Fail, Info, Total int
}

type faultRow struct {
	Start, End string
	Healed     bool
	HealF      string
	Length     string
	Name       string
	F          string
	Targets    string
	Outcome    string
	Applied    bool
	Detail     string
}

type checkSection struct {
	ID             string
	Path           string
	Depth          int
	Verdict        string
	Message        string
	Duration       time.Duration
	Details        string
	Truncated      bool
	Open           bool
	Visualizations []vizFrame
}

type vizFrame struct {
	Title string
	HTML  string // a complete document; the template escapes it for srcdoc
}

// WriteHTML writes dir/report.html: one self-contained page (no network needed)
// with the verdict, operation counts, fault windows, a throughput timeline and
// a section per checker. It is written atomically, like results.json.
func WriteHTML(dir string, p Page) error {
	windows := faultWindows(p.Ops)
	d := pageData{
		R:           p.Results,
		CSS:         template.CSS(reportCSS),
		Verdict:     verdictClass(p.Results.Verdict),
		Timeline:    buildTimeline(p.Ops, windows),
		Scenario:    p.ScenarioYAML,
		HistoryFile: history.FileName,
		ResultsFile: ResultsFile,
		FaultsAll:   len(windows),
	}
	d.Counts, d.Totals = countRows(p.Results.Counts)
	for i, w := range windows {
		if i == maxFaultRows {
			break
		}
		d.Faults = append(d.Faults, faultRow{
			Start: formatSeconds(float64(w.Start) / 1e9), End: formatSeconds(float64(w.End) / 1e9),
			Healed: w.Healed, HealF: w.HealF,
			Length: formatSeconds(float64(w.End-w.Start) / 1e9),
			Name:   w.label(), F: w.F, Targets: strings.Join(w.Targets, ", "),
			Outcome: string(w.Outcome), Applied: w.Applied(), Detail: w.Detail,
		})
	}
	d.FaultsShown = len(d.Faults)
	d.Checks = checkSections(p.Results.Check)

	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, d); err != nil {
		return fmt.Errorf("render %s: %w", filepath.Join(dir, ReportFile), err)
	}
	return writeFileAtomic(filepath.Join(dir, ReportFile), buf.Bytes())
}

// verdictClass maps a verdict to the banner's class; anything unexpected is unknown.
func verdictClass(v checker.Verdict) string {
	switch v {
	case checker.Valid, checker.Invalid:
		return string(v)
	default:
		return "unknown"
	}
}

// countRows turns Counts into table rows sorted by f, and their totals.
func countRows(c Counts) ([]countRow, countRow) {
	fs := make([]string, 0, len(c))
	for f := range c {
		fs = append(fs, f)
	}
	sort.Strings(fs)
	total := countRow{F: "total"}
	rows := make([]countRow, 0, len(fs))
	for _, f := range fs {
		byType := c[f]
		r := countRow{F: f, OK: byType[history.OK], Fail: byType[history.Fail], Info: byType[history.Info]}
		for _, n := range byType {
			r.Total += n
		}
		total.OK += r.OK
		total.Fail += r.Fail
		total.Info += r.Info
		total.Total += r.Total
		rows = append(rows, r)
	}
	return rows, total
}

// checkSections flattens the checker tree depth first, parents before children.
func checkSections(root checker.Result) []checkSection {
	var out []checkSection
	var walk func(r checker.Result, path string, depth int)
	walk = func(r checker.Result, path string, depth int) {
		name := r.Checker
		if name == "" {
			name = "checker"
		}
		if path != "" {
			name = path + " / " + name
		}
		s := checkSection{
			ID:       fmt.Sprintf("check-%d", len(out)+1),
			Path:     name,
			Depth:    min(depth, 4),
			Verdict:  verdictClass(r.Verdict),
			Message:  r.Message,
			Duration: r.Duration,
			Open:     r.Verdict != checker.Valid,
		}
		s.Details, s.Truncated = prettyDetails(r.Details)
		for i, v := range r.Visualizations {
			title := v.Title
			if title == "" {
				title = fmt.Sprintf("%s visualization %d", name, i+1)
			}
			s.Visualizations = append(s.Visualizations, vizFrame{Title: title, HTML: string(v.HTML)})
		}
		out = append(out, s)
		for _, c := range r.Children {
			walk(c, name, depth+1)
		}
	}
	walk(root, "", 0)
	return out
}

// prettyDetails renders details as indented JSON, cut at maxDetailsBytes.
func prettyDetails(details any) (string, bool) {
	if details == nil {
		return "", false
	}
	b, err := json.MarshalIndent(details, "", "  ")
	if err != nil {
		return fmt.Sprintf("%+v\n(not JSON: %v)", details, err), false
	}
	if len(b) > maxDetailsBytes {
		// Cut at a line end, so no character or JSON token is split.
		cut := bytes.LastIndexByte(b[:maxDetailsBytes], '\n')
		if cut < 0 {
			cut = maxDetailsBytes
		}
		return strings.ToValidUTF8(string(b[:cut]), ""), true
	}
	return string(b), false
}

// formatDuration renders a duration to the millisecond, or n/a when unknown.
func formatDuration(d time.Duration) string {
	if d <= 0 {
		return "n/a"
	}
	if d >= time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Microsecond).String()
}
