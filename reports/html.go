package reports

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// ReportFile is the name of the HTML report inside a run directory.
const ReportFile = "report.html"

// ContentSecurityPolicy is the policy a served report works under: its own
// inline scripts and styles run (Porcupine's pages, in sandboxed srcdoc
// frames, inherit the policy and need the same), and nothing is loaded from,
// sent to or submitted anywhere, nor may another page frame it.
const ContentSecurityPolicy = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// maxDetailsBytes caps one checker's pretty-printed details on the page; the
// whole of them stays in results.json.
const maxDetailsBytes = 256 << 10

// maxFaultRows caps the fault and recovery tables; the charts still shade
// every window.
const maxFaultRows = 1000

// maxTenureRows caps the table of leader tenures.
const maxTenureRows = 500

//go:embed report.html.tmpl report.css
var pageFiles embed.FS

// assets are the page's scripts, inlined so that it opens with no network:
// Chart.js (vendored from Debian's libjs-chart.js by
// scripts/vendor-chartjs.sh), the fault shading plugin and the page's own.
//
//go:embed assets/chart.min.js assets/faultbands.js assets/report.js
var assets embed.FS

var (
	reportCSS    = mustRead(pageFiles, "report.css")
	chartScript  = mustRead(assets, "assets/chart.min.js") + "\n" + mustRead(assets, "assets/faultbands.js")
	pageScript   = mustRead(assets, "assets/report.js")
	pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
		"dur":  formatDuration,
		"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") },
		"secs": func(s float64) string { return strconv.FormatFloat(s, 'f', -1, 64) },
		"at":   formatSeconds,
	}).Parse(mustRead(pageFiles, "report.html.tmpl")))
)

func mustRead(fs embed.FS, name string) string {
	b, err := fs.ReadFile(name)
	if err != nil {
		panic(fmt.Sprintf("embedded %s: %v", name, err))
	}
	return string(b)
}

// ChartScript returns Chart.js and the fault shading plugin (faultbands.js),
// to inline in a page's <script> element. The plugin registers itself with
// Chart.js as "faultBands"; a chart shades the FaultBand list given as its
// options.plugins.faultBands.bands.
func ChartScript() template.JS { return template.JS(chartScript) }

// Page is what report.html shows: the results, the history behind them and the scenario.
type Page struct {
	Results Results
	// Ops are the history's records, or, when Digest is given, at least the
	// nemesis's and those of the calls the evidence names.
	Ops []history.Op
	// Digest is the whole history digested, for a history too long to
	// hold; nil digests Ops.
	Digest       *Digest
	ScenarioYAML string // the resolved scenario, shown verbatim
}

// pageData is Page laid out for the template.
type pageData struct {
	R            Results
	CSS          template.CSS
	Verdict      string // valid, invalid or unknown: the banner's class
	Counts       []countRow
	Totals       countRow
	Latency      []latencyRow
	Faults       []faultRow
	FaultsShown  int
	FaultsAll    int
	Versions     []faultRow
	Checks       []checkSection
	Avail        availability
	Leaders      []tenureRow
	LeadersAll   int
	Charts       chartData
	HasOps       bool
	HasRoles     bool
	Scatter      []scatterNote
	Path         *Path // nil when the run had no script
	ChartScript  template.JS
	PageScript   template.JS
	Scenario     string
	HistoryFile  string
	ResultsFile  string
	ReportFailed string // a part of the report that could not be built
}

type countRow struct {
	F                     string
	OK, Fail, Info, Total int
}

type latencyRow struct {
	F, Type            string
	Count              int
	P50, P90, P99, Max string
}

type scatterNote struct {
	F, Type      string
	Shown, Total int
}

type faultRow struct {
	T0, T1     float64
	Start, End string
	Healed     bool
	HealF      string
	Length     string
	Name       string
	F          string
	Kind       string
	Targets    string
	Outcome    string
	Applied    bool
	Detail     string
	Version    bool // an upgrade or rollback: ended by its own completion
}

type tenureRow struct {
	T0, T1     float64
	Leader     string
	Start, End string
	Length     string
}

type checkSection struct {
	ID             string
	Path           string
	Depth          int
	Verdict        string
	Message        string
	Duration       time.Duration
	Evidence       []evidence
	Details        string
	Truncated      bool
	Visualizations []vizFrame
}

type vizFrame struct {
	Title string
	HTML  string // a complete document; the template escapes it for srcdoc
}

// WriteHTML writes dir/report.html: one self-contained page (no network
// needed) with the verdict, a section per checker with the operations its
// anomalies involve, charts of throughput, latency and node roles over time
// with the fault windows shaded, availability and recovery per fault, the
// scenario and links to the raw files. It is written atomically, like
// results.json.
func WriteHTML(dir string, p Page) error {
	var buf bytes.Buffer
	if err := renderHTML(&buf, dir, p); err != nil {
		return fmt.Errorf("render %s: %w", filepath.Join(dir, ReportFile), err)
	}
	return WriteFileAtomic(filepath.Join(dir, ReportFile), buf.Bytes())
}

// renderHTML writes the page of the run in dir to buf.
func renderHTML(buf *bytes.Buffer, dir string, p Page) error {
	dg := p.Digest
	if dg == nil {
		dg = DigestOf(p.Ops)
	}
	windows := dg.Windows()
	var summary Summary
	if p.Results.Summary != nil {
		summary = *p.Results.Summary
	} else {
		summary = dg.Summary()
	}
	d := pageData{
		R:           p.Results,
		CSS:         template.CSS(reportCSS),
		Verdict:     verdictClass(p.Results.Verdict),
		Scenario:    p.ScenarioYAML,
		HistoryFile: history.FileName,
		ResultsFile: ResultsFile,
		FaultsAll:   len(windows),
		ChartScript: ChartScript(),
		PageScript:  template.JS(pageScript),
	}
	d.Counts, d.Totals = countRows(p.Results.Counts)
	for _, w := range windows {
		row := faultRowOf(w)
		if row.Version {
			d.Versions = append(d.Versions, row)
		}
		if len(d.Faults) < maxFaultRows {
			d.Faults = append(d.Faults, row)
		}
	}
	d.FaultsShown = len(d.Faults)

	d.Checks = checkSections(p.Results.Check, newOpLookup(p.Ops))
	var problems []string
	server, err := recoveryDetails(p.Results.Check)
	if err != nil {
		problems = append(problems, err.Error())
	}
	d.Avail = buildAvailability(summary, windows, server)
	d.Charts = buildCharts(dg, windows, summary, p.Results.Nodes)
	d.Latency = latencyRows(summary.Latency)
	for _, s := range d.Charts.Latency {
		if len(s.Points) < s.Total {
			d.Scatter = append(d.Scatter, scatterNote{F: s.F, Type: string(s.Type), Shown: len(s.Points), Total: s.Total})
		}
	}
	d.HasOps = dg.hasOps
	d.HasRoles = len(d.Charts.Roles) > 0 || len(d.Charts.Versions) > 0
	d.LeadersAll = len(summary.Leaders)
	for i, t := range summary.Leaders {
		if i == maxTenureRows {
			break
		}
		d.Leaders = append(d.Leaders, tenureRow{
			T0: seconds(t.Window.Start), T1: seconds(t.Window.End), Leader: t.Node,
			Start: formatSeconds(float64(t.Window.Start) / 1e9), End: formatSeconds(float64(t.Window.End) / 1e9),
			Length: formatDuration(t.Window.Length()),
		})
	}
	d.Path = BuildPath(dir, p.Results, p.Ops)
	d.ReportFailed = strings.Join(problems, "; ")
	return pageTemplate.Execute(buf, d)
}

// faultRowOf lays out one fault window for the table.
func faultRowOf(w fault.Window) faultRow {
	return faultRow{
		T0: seconds(w.Start), T1: seconds(w.End),
		Start: formatSeconds(float64(w.Start) / 1e9), End: formatSeconds(float64(w.End) / 1e9),
		Healed: w.Healed, HealF: w.HealF,
		Length: formatSeconds(float64(w.End-w.Start) / 1e9),
		Name:   w.Name(), F: w.F, Kind: faultClass(w.Kind), Targets: strings.Join(w.Targets, ", "),
		Outcome: string(w.Outcome), Applied: w.Applied(), Detail: w.Detail, Version: w.EndsItself(),
	}
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

// latencyRows lays out the latency quantiles by operation and outcome.
func latencyRows(lat map[string]map[history.Type]Quantiles) []latencyRow {
	fs := make([]string, 0, len(lat))
	for f := range lat {
		fs = append(fs, f)
	}
	sort.Strings(fs)
	var rows []latencyRow
	for _, f := range fs {
		for _, t := range []history.Type{history.OK, history.Fail, history.Info} {
			q, ok := lat[f][t]
			if !ok || q.Count == 0 {
				continue
			}
			rows = append(rows, latencyRow{F: f, Type: string(t), Count: q.Count,
				P50: formatDuration(q.P50), P90: formatDuration(q.P90), P99: formatDuration(q.P99), Max: formatDuration(q.Max)})
		}
	}
	return rows
}

// checkSections flattens the checker tree depth first, parents before
// children, with the anomalies each checker reported.
func checkSections(root checker.Result, look *opLookup) []checkSection {
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
			Evidence: evidenceOf(r.Anomalies, look),
		}
		if r.Details != nil {
			raw, err := json.Marshal(r.Details)
			if err != nil {
				s.Details = fmt.Sprintf("%+v\n(not JSON: %v)", r.Details, err)
			} else {
				s.Details, s.Truncated = prettyDetails(raw)
			}
		}
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

// prettyDetails renders JSON details indented, cut at maxDetailsBytes.
func prettyDetails(raw []byte) (string, bool) {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw), false
	}
	if b.Len() > maxDetailsBytes {
		// Cut at a line end, so no character or JSON token is split.
		cut := bytes.LastIndexByte(b.Bytes()[:maxDetailsBytes], '\n')
		if cut < 0 {
			cut = maxDetailsBytes
		}
		return strings.ToValidUTF8(string(b.Bytes()[:cut]), ""), true
	}
	return b.String(), false
}

// formatDuration renders a duration to the millisecond (to 0.1 ms below a
// second, to the microsecond below a millisecond), or n/a when unknown.
func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "n/a"
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}

// formatSeconds renders seconds with at most millisecond precision.
func formatSeconds(s float64) string {
	return strconv.FormatFloat(math.Round(s*1000)/1000, 'f', -1, 64)
}
