package reports

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// vizHTML stands in for a Porcupine page: a complete document with markup,
// a script, quotes and ampersands, all of which must survive srcdoc escaping.
const vizHTML = `<!DOCTYPE html><html><head><style>p > b { color: red }</style></head>` +
	`<body><p id="x">key <b>r1</b> & 'friends'</p><script>if (1 < 2 && "a") { document.title = "r1"; }</script></body></html>`

// smallRun is a 20 s history: two clients writing, a leader kill at 5 s healed
// by a start at 9 s, and a checker that found key r1 not linearizable.
func smallRun() Page {
	var ops []history.Op
	add := func(op history.Op) {
		op.Index = int64(len(ops))
		ops = append(ops, op)
	}
	for i := range 200 {
		at := float64(i) * 0.1
		p := history.Process(i % 2)
		add(history.Op{Type: history.Invoke, F: history.Write, Process: p, Time: sec(at), Key: "r1", Value: history.Int64(int64(i))})
		typ := history.OK
		switch {
		case at >= 5 && at < 6:
			typ = history.Info
		case i%17 == 0:
			typ = history.Fail
		}
		add(history.Op{Type: typ, F: history.Write, Process: p, Time: sec(at + 0.05), Key: "r1", Value: history.Int64(int64(i))})
		if i == 50 {
			add(nem(history.Invoke, "kill", 5, "kill-leader", "n2"))
			add(nem(history.Info, "kill", 5.01, "kill-leader", "n2"))
		}
		if i == 90 {
			add(nem(history.Invoke, "start", 9, "kill-leader", "n2"))
			add(nem(history.Info, "start", 9.5, "kill-leader", "n2"))
		}
	}
	r := sampleResults()
	r.Counts = CountOps(ops)
	r.Error = ""
	r.Interrupted = false
	r.Check.Children[0].Visualizations = []checker.Visualization{{Title: "linearizability of r1", HTML: []byte(vizHTML)}}
	r.Check.Children[1].Details = map[string]any{"sessions": 2}
	return Page{Results: r, Ops: ops, ScenarioYAML: "name: register-kill-leader\nnemesis:\n  - kill-leader # every 10s\nworkload: {clients: 2}\n"}
}

func writeReport(t *testing.T, p Page) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, WriteHTML(dir, p))
	b, err := os.ReadFile(filepath.Join(dir, ReportFile))
	require.NoError(t, err)
	return string(b)
}

// scriptBodies matches every script element, to look at or leave out its content.
var scriptBodies = regexp.MustCompile(`(?s)(<script[^>]*>)(.*?)(</script>)`)

// withoutScripts empties every script element: scripts are not markup, and
// the markup checks below would misread their comparisons as tags.
func withoutScripts(page string) string { return scriptBodies.ReplaceAllString(page, "$1$3") }

// chartsOf decodes the charts' data from the page.
func chartsOf(t *testing.T, page string) chartData {
	t.Helper()
	m := regexp.MustCompile(`(?s)<script type="application/json" id="report-data">(.*?)</script>`).FindStringSubmatch(page)
	require.NotNil(t, m, "the page has no chart data")
	var d chartData
	require.NoError(t, json.Unmarshal([]byte(m[1]), &d))
	return d
}

func TestWriteHTMLShowsVerdictCountsFaultsAndCheckers(t *testing.T) {
	p := smallRun()
	page := writeReport(t, p)

	assert.Contains(t, page, `<header class="banner invalid"`)
	assert.Contains(t, page, `<span class="verdict">invalid</span> register-kill-leader`)
	assert.Contains(t, page, "<dd>42</dd>", "the seed")
	assert.Contains(t, page, "2026-11-25 13:32:45 UTC")
	assert.Contains(t, page, "<dd>4.5s</dd>", "time until healthy")
	assert.Less(t, strings.Index(page, `id="verdict"`), strings.Index(page, `id="checkers"`), "the verdict comes first, then the checkers")
	assert.Less(t, strings.Index(page, `id="checkers"`), strings.Index(page, `id="timeline"`))

	c := p.Results.Counts[history.Write]
	assert.Contains(t, page, fmt.Sprintf(`<td class="n">%d</td><td class="n">%d</td><td class="n">%d</td><td class="n">200</td>`,
		c[history.OK], c[history.Fail], c[history.Info]), "the counts row for write")

	// The fault window: in the table, linked to the timeline, and shaded.
	assert.Contains(t, page, `<a class="opref" href="#timeline" data-t0="5" data-t1="9.5">5</a></td><td class="n">9.5</td><td class="n">4.5</td><td><code>kill-leader</code> <span class="muted">(kill)</span>`)
	d := chartsOf(t, page)
	require.Len(t, d.Faults, 1)
	assert.Equal(t, FaultBand{Start: 5, End: 9.5, Name: "kill-leader", Targets: []string{"n2"}, Kind: "kill", Healed: true}, d.Faults[0])
	assert.Equal(t, 19.95, d.End)
	for _, id := range []string{"chart-throughput", "chart-latency", "chart-quantiles"} {
		assert.Contains(t, page, `<canvas id="`+id+`"`)
	}

	// One section per checker, parents first; the JSON details collapsed.
	assert.Contains(t, page, "<h3>all</h3>")
	assert.Contains(t, page, "<h3>all / linearizable</h3>")
	assert.Contains(t, page, "<h3>all / sessions</h3>")
	assert.Contains(t, page, "key r1 is not linearizable")
	assert.Contains(t, page, "<details><summary>details (JSON)</summary>\n<pre>{\n  &#34;keys&#34;: [\n    &#34;r1&#34;")
	assert.Contains(t, page, "<details><summary>details (JSON)</summary>\n<pre>{\n  &#34;sessions&#34;: 2")
	assert.NotContains(t, page, "<details open>", "details stay collapsed")

	assert.Contains(t, page, `<iframe title="linearizability of r1" srcdoc="`)
	assert.NotContains(t, page, "<b>r1</b>", "the visualization is escaped into the attribute, not spliced into the page")

	assert.Contains(t, page, `<a href="history.jsonl">`)
	assert.Contains(t, page, `<a href="results.json">`)
	assert.Contains(t, page, `<a href="logs/n2.log">logs/n2.log</a>`)
	assert.Contains(t, page, "<pre>name: register-kill-leader\nnemesis:\n  - kill-leader # every 10s\n")
}

func TestWriteHTMLLoadsNothingFromTheNetwork(t *testing.T) {
	page := writeReport(t, smallRun())
	markup := strings.ToLower(withoutScripts(page))
	for _, s := range []string{"http://", "https://", "//cdn", "<link", "@import", "url("} {
		assert.NotContains(t, markup, s)
	}
	assert.NotRegexp(t, regexp.MustCompile(`\ssrc=`), markup, "every asset is inlined")
	scripts := scriptBodies.FindAllStringSubmatch(page, -1)
	require.Len(t, scripts, 3, "the chart data, Chart.js with the plugin, the page's script")
	assert.Equal(t, `<script type="application/json" id="report-data">`, scripts[0][1])
	assert.Equal(t, chartScript, scripts[1][2])
	assert.Equal(t, pageScript, scripts[2][2])
	assert.Contains(t, scripts[1][2], "Chart.js v3.9.1")
}

func TestTagsBalanceCatchesMismatches(t *testing.T) {
	assert.NoError(t, tagsBalance(`<div><p>a<br>b</p><svg><rect x="1"/></svg></div>`))
	assert.Error(t, tagsBalance("<div><span></div>"))
	assert.Error(t, tagsBalance("<div><span></span>"))
	assert.Error(t, tagsBalance("</p>"))
}

func TestWriteHTMLIsWellFormedAndTheVisualizationSurvivesEscaping(t *testing.T) {
	page := writeReport(t, smallRun())
	assert.True(t, strings.HasPrefix(page, "<!DOCTYPE html>\n<html"))
	markup := withoutScripts(page)
	require.NoError(t, tagsBalance(markup))

	// Entities and quoting: a lenient XML decoder must read the page through,
	// and the iframe's srcdoc must decode to the visualization exactly.
	d := xml.NewDecoder(strings.NewReader(markup))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	var srcdocs []string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "report.html does not parse")
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "iframe" {
			for _, a := range el.Attr {
				if a.Name.Local == "srcdoc" {
					srcdocs = append(srcdocs, a.Value)
				}
			}
		}
	}
	require.Len(t, srcdocs, 1)
	assert.Equal(t, vizHTML, srcdocs[0], "the iframe shows the visualization exactly")
}

func TestWriteHTMLShowsHarnessErrorsAndInterruptions(t *testing.T) {
	p := smallRun()
	p.Results.Verdict = checker.Unknown
	p.Results.Error = "final reads on n2: <connection refused>"
	p.Results.Interrupted = true
	page := writeReport(t, p)
	assert.Contains(t, page, `<header class="banner unknown"`)
	assert.Contains(t, page, "final reads on n2: &lt;connection refused&gt;")
	assert.Contains(t, page, `id="interrupted"`)
}

func TestWriteHTMLOfAnEmptyRun(t *testing.T) {
	page := writeReport(t, Page{Results: Results{Scenario: "empty", Verdict: checker.Unknown}})
	assert.Contains(t, page, "no client operations completed")
	assert.Contains(t, page, "The history holds no operations.")
	assert.Contains(t, page, "No faults were injected.")
	assert.Contains(t, page, "The scenario was not recorded.")
	assert.NotContains(t, page, "<canvas", "nothing to draw")
}

// xssKey, xssError and xssDetail are strings a history could hold that a page
// splicing them in as markup would run.
const (
	xssKey    = `<script>alert(1)</script>`
	xssError  = `</script><img src=x onerror=alert(1)>`
	xssDetail = xssKey + " -> " + xssError
)

// xssVizHTML is a visualization that shows a hostile key as a checker's page
// would: escaped, as text.
const xssVizHTML = `<!DOCTYPE html><html><body><p>key &lt;script&gt;alert(1)&lt;/script&gt;</p><svg></svg></body></html>`

// xssRun is a small run whose every string from the history is hostile: the
// key, the error, the fault's name, targets and detail, node names, the
// scenario, the checkers' messages and details.
func xssRun() Page {
	var ops []history.Op
	add := func(op history.Op) {
		op.Index = int64(len(ops))
		ops = append(ops, op)
	}
	for i := range 40 {
		at := float64(i) * 0.25
		typ, msg := history.OK, ""
		if i%5 == 0 {
			typ, msg = history.Info, xssError
		}
		add(history.Op{Type: history.Invoke, F: history.Write, Process: 1, Time: sec(at), Key: xssKey, Value: history.Int64(int64(i)), Node: xssKey})
		add(history.Op{Type: typ, F: history.Write, Process: 1, Time: sec(at + 0.1), Key: xssKey, Value: history.Int64(int64(i)), Node: xssKey, Error: msg})
		if i == 10 {
			add(history.Op{Type: history.Invoke, F: "upgrade", Process: history.NemesisProcess, Time: sec(at + 0.2),
				Fault: &history.Fault{Name: xssKey, Targets: []string{xssError}}})
			add(history.Op{Type: history.OK, F: "upgrade", Process: history.NemesisProcess, Time: sec(at + 0.3),
				Fault: &history.Fault{Name: xssKey, Targets: []string{xssError}, Detail: xssDetail}})
			add(history.Op{Type: history.Info, F: history.FRoles, Process: history.NemesisProcess, Time: sec(at + 0.3),
				Roles: map[string]string{xssError: "leader", xssKey: xssError}})
		}
	}
	r := Results{
		Scenario: xssKey, Verdict: checker.Invalid, Nodes: []string{xssError},
		Logs:    []string{xssError},
		Counts:  CountOps(ops),
		Started: time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC),
		Error:   xssError,
		Check: checker.Result{Checker: xssKey, Verdict: checker.Invalid, Message: xssError,
			Details:        map[string]any{"violations": []any{map[string]any{"rule": xssKey, "message": xssError, "ops": []int64{1, 3}}}},
			Visualizations: []checker.Visualization{{Title: xssError, HTML: []byte(xssVizHTML)}}},
	}
	return Page{Results: r, Ops: ops, ScenarioYAML: "name: " + xssKey + "\n# " + xssError + "\n"}
}

func TestWriteHTMLEscapesEveryStringFromTheHistory(t *testing.T) {
	page := writeReport(t, xssRun())
	for _, s := range []string{xssKey, xssError, "alert(1)</script>", "<img"} {
		assert.NotContains(t, page, s, "a hostile string must never appear raw")
	}
	assert.Equal(t, 3, strings.Count(page, "<script"), "no script element but the page's own")
	assert.Equal(t, 3, strings.Count(page, "</script>"), "no string closes a script element")
	assert.Equal(t, 0, strings.Count(strings.ToLower(page), "<img"))

	// In markup, as text and in attributes, they are entity-escaped.
	markup := withoutScripts(page)
	assert.Contains(t, markup, "&lt;script&gt;alert(1)&lt;/script&gt;")
	assert.Contains(t, markup, "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;")
	assert.Contains(t, markup, `<iframe title="&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" srcdoc="&lt;!DOCTYPE html&gt;&lt;html&gt;&lt;body&gt;&lt;p&gt;key &amp;lt;script&amp;gt;alert(1)`,
		"a visualization is an attribute's text, for a sandboxed iframe")
	require.NoError(t, tagsBalance(markup))

	// In the chart data, JSON escapes <, > and &, and the strings come back exact.
	assert.Contains(t, page, `\u003cscript\u003ealert(1)\u003c/script\u003e`)
	d := chartsOf(t, page)
	require.Len(t, d.Faults, 1)
	assert.Equal(t, xssKey, d.Faults[0].Name)
	assert.Equal(t, []string{xssError}, d.Faults[0].Targets)
	assert.Equal(t, xssDetail, d.Faults[0].Detail)
	require.Len(t, d.Versions, 1)
	assert.Equal(t, versionMark{Node: xssError, At: 2.8, F: "upgrade", Detail: xssDetail}, d.Versions[0])
	assert.Contains(t, d.Nodes, xssKey)
}

func TestWriteHTMLEscapesLineSeparatorsInTheChartData(t *testing.T) {
	p := xssRun()
	for i := range p.Ops {
		if p.Ops[i].Fault != nil {
			p.Ops[i].Fault.Name = "a\u2028b\u2029c"
		}
	}
	page := writeReport(t, p)
	data := scriptBodies.FindAllStringSubmatch(page, -1)[0][2]
	assert.NotContains(t, data, "\u2028")
	assert.NotContains(t, data, "\u2029")
	assert.Contains(t, data, `a\u2028b\u2029c`)
}

// TestWriteHTMLStaysSmallFor100kOps checks that the page aggregates: 100k
// records with every outcome and a leader kill every 10 s still make a page
// of a few hundred kilobytes besides Chart.js, with no row or shape per
// operation.
func TestWriteHTMLStaysSmallFor100kOps(t *testing.T) {
	ops := registerRun{Records: 100_000, Workers: 50, Keys: 20, Rate: 250, KillEvery: 10 * time.Second, KillFor: 4 * time.Second, Seed: 3}.history()
	p := smallRun()
	p.Ops = ops
	p.Results.Counts = CountOps(ops)
	page := writeReport(t, p)
	t.Logf("report.html for %d records: %d bytes", len(ops), len(page))
	assert.Less(t, len(page), 10<<20)
	assert.Less(t, strings.Count(page, "<tr>"), 200, "no row per operation")

	d := chartsOf(t, page)
	assert.LessOrEqual(t, len(d.Throughput.OK), maxBuckets+1)
	for _, s := range d.Latency {
		limit := maxScatterOther
		if s.Type == history.OK {
			limit = maxScatterOK
		}
		assert.LessOrEqual(t, len(s.Points), limit, "%s %s", s.F, s.Type)
		assert.LessOrEqual(t, len(s.Points), s.Total)
	}
	for _, q := range d.Quantiles {
		assert.Len(t, q.P99, len(d.Throughput.OK))
	}
	assert.Len(t, d.Faults, 22, "a kill every 10 s")
	assert.NotEmpty(t, d.Roles)
}

// TestWriteHTMLEmbedsOnlyTheFailingKeysOfABigRun relies on the
// linearizability checker: past VisualizeAllBelow records it visualizes only
// the keys that are not linearizable, and the page embeds what it gets.
func TestWriteHTMLEmbedsOnlyTheFailingKeysOfABigRun(t *testing.T) {
	ops := registerRun{Records: 6000, Workers: 10, Keys: 4, Rate: 200, KillEvery: 5 * time.Second, KillFor: 2 * time.Second, Seed: 4}.history()
	breakKey(ops, "k2")
	r := judge(ops, "big")
	require.Equal(t, checker.Invalid, r.Verdict)
	page := writeReport(t, Page{Results: r, Ops: ops})
	assert.Equal(t, 1, strings.Count(page, "<iframe"), "only the failing key")
	assert.Contains(t, page, `<iframe title="linearizability of key k2 (invalid)"`)

	small := registerRun{Records: 1000, Workers: 5, Keys: 3, Rate: 100, KillEvery: 4 * time.Second, KillFor: 1 * time.Second, Seed: 4}.history()
	page = writeReport(t, Page{Results: judge(small, "small"), Ops: small})
	assert.Equal(t, 3, strings.Count(page, "<iframe"), "a small run shows every key")
}

func TestWriteHTMLListsAnomaliesWithLinksIntoTheTimeline(t *testing.T) {
	ops := registerRun{Records: 3000, Workers: 10, Keys: 3, Rate: 100, KillEvery: 5 * time.Second, KillFor: 2 * time.Second, Seed: 2}.history()
	broken := breakKey(ops, "k1")
	r := judge(ops, "broken")
	page := writeReport(t, Page{Results: r, Ops: ops})

	at := seconds(ops[broken].Time)
	link := regexp.MustCompile(`<a class="opref" href="#timeline" data-t0="([0-9.]+)" data-t1="([0-9.]+)">`)
	var ends []string
	for _, m := range link.FindAllStringSubmatch(page, -1) {
		ends = append(ends, m[2])
	}
	assert.Contains(t, ends, strconv.FormatFloat(at, 'f', -1, 64), "the broken read is linked, ending when it completed")
	assert.Contains(t, page, `<ol class="evidence">`)
	assert.Contains(t, page, fmt.Sprintf("#%d", broken), "the read's record is named")
	assert.Contains(t, page, `<strong>not linearizable · k1</strong>`, "the linearizability checker's finding and key")
	assert.Contains(t, page, `<strong>version-agreement · k1</strong>`, "the sequential checker's rule and key")
}

func TestWriteHTMLShowsVersionChanges(t *testing.T) {
	p := smallRun()
	for i, node := range []string{"n1", "n2"} {
		at := 12 + float64(i)*3
		p.Ops = append(p.Ops,
			nem(history.Invoke, "upgrade", at, "rolling-upgrade", node),
			withDetail(nem(history.OK, "upgrade", at+1.5, "rolling-upgrade", node), "3.8.4 -> 3.9.3"))
	}
	page := writeReport(t, p)
	d := chartsOf(t, page)
	assert.Equal(t, []versionMark{
		{Node: "n1", At: 13.5, F: "upgrade", Detail: "3.8.4 -> 3.9.3"},
		{Node: "n2", At: 16.5, F: "upgrade", Detail: "3.8.4 -> 3.9.3"},
	}, d.Versions)
	require.Len(t, d.Faults, 3)
	assert.Equal(t, FaultBand{Start: 12, End: 13.5, Name: "rolling-upgrade", Targets: []string{"n1"}, Kind: "upgrade", Healed: true, Detail: "3.8.4 -> 3.9.3"}, d.Faults[1])
	assert.Contains(t, page, `<h3>Version changes</h3>`)
	assert.Contains(t, page, `<td>n2</td><td><code>upgrade</code></td><td>3.8.4 -&gt; 3.9.3</td>`)
	assert.Contains(t, page, `<span class="tag">version change</span>`)
	assert.Contains(t, page, `<td>its completion</td>`)
}

func withDetail(op history.Op, detail string) history.Op {
	op.Fault.Detail = detail
	return op
}

// tagPattern finds tags; html/template escapes every < in text and attribute
// values, and the CSS holds none, so each match is a real tag.
var tagPattern = regexp.MustCompile(`<(/?)([a-zA-Z][a-zA-Z0-9]*)[^<>]*?(/?)>`)

// voidElements never have an end tag.
var voidElements = map[string]bool{"meta": true, "br": true, "hr": true, "img": true, "input": true, "link": true, "wbr": true, "col": true, "source": true}

// tagsBalance reports the first element that is closed out of order or never.
func tagsBalance(page string) error {
	var stack []string
	for _, m := range tagPattern.FindAllStringSubmatch(page, -1) {
		end, name, selfClosing := m[1] == "/", strings.ToLower(m[2]), m[3] == "/"
		switch {
		case end && len(stack) == 0:
			return fmt.Errorf("</%s> closes nothing", name)
		case end && stack[len(stack)-1] != name:
			return fmt.Errorf("<%s> closed by </%s>", stack[len(stack)-1], name)
		case end:
			stack = stack[:len(stack)-1]
		case !selfClosing && !voidElements[name]:
			stack = append(stack, name)
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("unclosed elements %v", stack)
	}
	return nil
}
