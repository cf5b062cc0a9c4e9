package reports

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
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

func TestWriteHTMLShowsVerdictCountsFaultsAndCheckers(t *testing.T) {
	p := smallRun()
	page := writeReport(t, p)

	assert.Contains(t, page, `<header class="banner invalid"`)
	assert.Contains(t, page, `<span class="verdict">invalid</span> register-kill-leader`)
	assert.Contains(t, page, "<dd>42</dd>", "the seed")
	assert.Contains(t, page, "2026-11-25 13:32:45 UTC")
	assert.Contains(t, page, "<dd>4.5s</dd>", "time until healthy")

	c := p.Results.Counts[history.Write]
	assert.Contains(t, page, fmt.Sprintf(`<td class="n">%d</td><td class="n">%d</td><td class="n">%d</td><td class="n">200</td>`,
		c[history.OK], c[history.Fail], c[history.Info]), "the counts row for write")

	// The fault window, in the table and shaded on the timeline.
	assert.Contains(t, page, `<tr><td class="n">5</td><td class="n">9.5</td><td class="n">4.5</td><td><code>kill-leader</code> <span class="muted">(kill)</span></td><td>n2</td>`)
	assert.Regexp(t, `<title>kill-leader n2: 5 to 9.5 s</title><rect class="fw fw-kill" x="[0-9.]+" y="[0-9.]+" width="[0-9.]+"`, page)
	assert.Contains(t, page, `<polygon class="ok" points="`)

	// One section per checker, parents first; invalid ones open, valid ones collapsed.
	assert.Contains(t, page, "<h3>all</h3>")
	assert.Contains(t, page, "<h3>all / linearizable</h3>")
	assert.Contains(t, page, "<h3>all / sessions</h3>")
	assert.Contains(t, page, "key r1 is not linearizable")
	assert.Contains(t, page, "<details open><summary>details</summary>\n<pre>{\n  &#34;keys&#34;: [\n    &#34;r1&#34;")
	assert.Contains(t, page, "<details><summary>details</summary>\n<pre>{\n  &#34;sessions&#34;: 2")

	assert.Contains(t, page, `<iframe title="linearizability of r1" srcdoc="`)
	assert.NotContains(t, page, "<b>r1</b>", "the visualization is escaped into the attribute, not spliced into the page")

	assert.Contains(t, page, `<a href="history.jsonl">`)
	assert.Contains(t, page, `<a href="results.json">`)
	assert.Contains(t, page, `<a href="logs/n2.log">logs/n2.log</a>`)
	assert.Contains(t, page, "<pre>name: register-kill-leader\nnemesis:\n  - kill-leader # every 10s\n")
}

func TestWriteHTMLLoadsNothingFromTheNetwork(t *testing.T) {
	page := writeReport(t, smallRun())
	for _, s := range []string{"http://", "https://", "//cdn", "<link", "<script", "@import", "url("} {
		assert.NotContains(t, strings.ToLower(page), s)
	}
	assert.NotRegexp(t, regexp.MustCompile(`\ssrc=`), page, "every asset is inlined")
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

func TestTagsBalanceCatchesMismatches(t *testing.T) {
	assert.NoError(t, tagsBalance(`<div><p>a<br>b</p><svg><rect x="1"/></svg></div>`))
	assert.Error(t, tagsBalance("<div><span></div>"))
	assert.Error(t, tagsBalance("<div><span></span>"))
	assert.Error(t, tagsBalance("</p>"))
}

func TestWriteHTMLIsWellFormedAndTheVisualizationSurvivesEscaping(t *testing.T) {
	page := writeReport(t, smallRun())
	assert.True(t, strings.HasPrefix(page, "<!DOCTYPE html>\n<html"))
	require.NoError(t, tagsBalance(page))

	// Entities and quoting: a lenient XML decoder must read the page through,
	// and the iframe's srcdoc must decode to the visualization exactly.
	d := xml.NewDecoder(strings.NewReader(page))
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
}

// TestWriteHTMLStaysSmallFor100kOps checks that the page aggregates: 100k
// records over ten minutes, with uneven load, every outcome and a fault every
// 30 s, still make a page of kilobytes.
func TestWriteHTMLStaysSmallFor100kOps(t *testing.T) {
	const records = 100_000
	const span = 10 * time.Minute
	rng := rand.New(rand.NewPCG(1, 2))
	ops := make([]history.Op, 0, records+100)
	mean := int64(span) / records
	var at int64
	for i := 0; len(ops) < records; i++ {
		p := history.Process(i % 10)
		typ := history.OK
		switch r := rng.IntN(100); {
		case r < 3:
			typ = history.Info
		case r < 10:
			typ = history.Fail
		}
		ops = append(ops,
			history.Op{Index: int64(len(ops)), Type: history.Invoke, F: history.Read, Process: p, Time: at, Key: "r1"},
			history.Op{Index: int64(len(ops) + 1), Type: typ, F: history.Read, Process: p, Time: at + mean, Key: "r1", Value: history.Int64(7)})
		if i%7500 == 0 {
			s := float64(at) / 1e9
			ops = append(ops, nem(history.OK, "pause", s, "pause-leader", "n1"), nem(history.OK, "resume", s+10, "pause-leader", "n1"))
		}
		at += rng.Int64N(4 * mean)
	}
	p := smallRun()
	p.Ops = ops
	p.Results.Counts = CountOps(ops)
	dir := t.TempDir()
	require.NoError(t, WriteHTML(dir, p))
	fi, err := os.Stat(filepath.Join(dir, ReportFile))
	require.NoError(t, err)
	t.Logf("report.html for %d records: %d bytes", len(ops), fi.Size())
	assert.Less(t, fi.Size(), int64(5<<20))

	b, err := os.ReadFile(filepath.Join(dir, ReportFile))
	require.NoError(t, err)
	assert.Less(t, strings.Count(string(b), "<tr>"), 100, "no row per operation")
	assert.Less(t, strings.Count(string(b), "<rect"), 100, "no shape per operation")
	assert.Contains(t, string(b), "buckets of 1 s")
}

func TestTimelineDrawsOnlyWhereTheRateChanges(t *testing.T) {
	ops := []history.Op{client(history.OK, 0.5), client(history.OK, 1.5), client(history.OK, 2.5), client(history.Fail, 3.5)}
	tl := buildTimeline(ops, nil)
	assert.Equal(t, 4, tl.Buckets)
	assert.Len(t, strings.Fields(tl.InfoLine), 2, "no info at all: one flat segment")
	assert.Len(t, strings.Fields(tl.FailLine), 4, "one step up in the last second")
}

func TestTimelineOfALongRunUsesCoarserBuckets(t *testing.T) {
	ops := []history.Op{client(history.OK, 1), client(history.Info, 3*3600)}
	tl := buildTimeline(ops, nil)
	assert.LessOrEqual(t, tl.Buckets, maxBuckets+1)
	assert.Equal(t, int64(30), tl.BucketSeconds)
}
