package reports

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zkchaos/zkchaos/checker"
)

// chromium is where Debian's chromium package puts the browser;
// scripts/install-deps.sh --test installs it.
const chromium = "/usr/bin/chromium"

// watchFrames runs in every frame before the frame's own scripts. A call of
// alert is recorded and reported as a console error, so an injected script
// that ran cannot go unnoticed. An embedded frame (a Porcupine visualization)
// tells the page, once loaded, how many SVG elements it drew.
const watchFrames = `window.__alerts = [];
window.__frames = [];
window.alert = function (m) { window.__alerts.push(String(m)); console.error('alert called: ' + m); };
if (window !== window.top) {
  window.addEventListener('load', function () { parent.postMessage({ svgs: document.querySelectorAll('svg').length }, '*'); });
} else {
  window.addEventListener('message', function (e) { if (e.data && typeof e.data.svgs === 'number') window.__frames.push(e.data.svgs); });
}`

// pageProblems collects what must not happen while a report is open:
// console errors, uncaught exceptions, browser log errors, and requests for
// anything but the file itself and inline documents.
type pageProblems struct {
	// origin is the page's own origin ("http://host:port/"), from which it
	// may load; empty for a file:// page.
	origin string
	mu     sync.Mutex
	list   []string
}

func (p *pageProblems) add(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

func (p *pageProblems) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.list...)
}

// listen is called by chromedp for every event of the tab; it must return fast.
func (p *pageProblems) listen(ev any) {
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range e.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			p.add("console.%s: %s", e.Type, strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		desc := d.Text
		if d.Exception != nil {
			desc += " " + d.Exception.Description
		}
		p.add("exception at %s:%d: %s", d.URL, d.LineNumber, desc)
	case *log.EventEntryAdded:
		if e.Entry.Level == log.EntryLevelError {
			p.add("browser log (%s): %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL)
		}
	case *network.EventRequestWillBeSent:
		u := e.Request.URL
		if !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "about:") && !strings.HasPrefix(u, "data:") &&
			(p.origin == "" || !strings.HasPrefix(u, p.origin)) {
			p.add("request for %s", u)
		}
	case *network.EventLoadingFailed:
		p.add("failed load (%s): %s", e.Type, e.ErrorText)
	}
}

// browser starts headless Chromium for the test, or skips the test when it
// is not installed and this is not CI.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must test the report in a browser, and %s is missing: scripts/test.sh installs it through scripts/install-deps.sh --test", chromium)
		}
		t.Skipf("%s is not installed (Debian package chromium; bash scripts/install-deps.sh --test installs it): the report is not tested in a browser", chromium)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Keep sandboxed iframes (Porcupine's pages) in the page's process,
		// so that their console messages and exceptions reach the listener.
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,IsolateSandboxedIframes,SitePerProcess,IsolateOrigins"),
		chromedp.Flag("disable-site-isolation-trials", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900), // a laptop's screen
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(ctx), "start %s", chromium)
	return ctx
}

// artifactsDir is where screenshots are kept: $ZKCHAOS_ARTIFACTS, or a
// temporary directory.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ZKCHAOS_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// TestReportInABrowser opens reports in headless Chromium from file://, as a
// person would: nothing may fail or load from the network, the verdict must
// be visible, the charts must draw, an operation's link must mark the
// timeline, and no string from the history may run as script.
func TestReportInABrowser(t *testing.T) {
	root := browser(t)
	artifacts := artifactsDir(t)

	valid := registerRun{Records: 4000, Workers: 10, Keys: 3, Rate: 120, KillEvery: 8 * time.Second, KillFor: 3 * time.Second, Seed: 11}.history()
	cases := []struct {
		name    string
		page    Page
		verdict string
		link    string // a link to click: it must mark the charts
	}{
		{"valid", Page{Results: judge(valid, "register-kill-leader"), Ops: valid, ScenarioYAML: "name: register-kill-leader\n"}, "valid", "table.faults a.opref"},
		{"invalid", brokenRegisterPage(), "invalid", "ol.evidence a.opref"},
		{"hostile-strings", xssRun(), "invalid", "table.faults a.opref"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "invalid" {
				require.Equal(t, checker.Invalid, c.page.Results.Verdict)
				require.NotEmpty(t, c.page.Results.Check.AllVisualizations(), "Porcupine's page is embedded")
			}
			dir := t.TempDir()
			require.NoError(t, WriteHTML(dir, c.page))
			checkReportPage(t, root, "file://"+filepath.Join(dir, ReportFile), c.name, artifacts, c.verdict, c.link)
		})
	}
}

// brokenRegisterPage is the report of a register history with a broken key:
// invalid, with Porcupine's visualization embedded.
func brokenRegisterPage() Page {
	invalid := registerRun{Records: 1800, Workers: 8, Keys: 3, Rate: 100, KillEvery: 5 * time.Second, KillFor: 2 * time.Second, Seed: 12}.history()
	breakKey(invalid, "k1")
	return Page{Results: judge(invalid, "register-broken"), Ops: invalid, ScenarioYAML: "name: register-broken\n"}
}

// TestReportInABrowserUnderItsPolicy serves the reports over HTTP with
// ContentSecurityPolicy, as zkchaos serve does: the policy must block
// nothing the page needs, Porcupine's embedded pages included.
func TestReportInABrowserUnderItsPolicy(t *testing.T) {
	root := browser(t)
	artifacts := artifactsDir(t)
	dir := t.TempDir()
	for name, p := range map[string]Page{"invalid": brokenRegisterPage(), "hostile-strings": xssRun()} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, name), 0o755))
		require.NoError(t, WriteHTML(filepath.Join(dir, name), p))
	}
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", ContentSecurityPolicy)
		if r.URL.Path == "/favicon.ico" {
			w.WriteHeader(http.StatusNoContent) // the browser asks every origin for one; a 404 would be logged as an error
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	for name, link := range map[string]string{"invalid": "ol.evidence a.opref", "hostile-strings": "table.faults a.opref"} {
		t.Run(name, func(t *testing.T) {
			checkReportPage(t, root, srv.URL+"/"+name+"/"+ReportFile, "csp-"+name, artifacts, "invalid", link)
		})
	}
}

// checkReportPage opens the report at url in a tab of the browser root and
// checks it as a person would see it: the verdict on screen, every chart
// drawn, every embedded visualization drawn, a click on the operation link
// marking the charts, and no alert, console error, exception or request to
// anywhere but url's own origin. Screenshots go to artifacts, named after name.
func checkReportPage(t *testing.T, root context.Context, url, name, artifacts, wantVerdict, link string) {
	t.Helper()
	u, err := neturl.Parse(url)
	require.NoError(t, err)
	ctx, cancel := chromedp.NewContext(root)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()
	problems := pageProblems{origin: u.Scheme + "://" + u.Host + "/"}
	require.NoError(t, chromedp.Listen(ctx, problems.listen))
	_, err = chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: watchFrames})
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("#verdict .verdict"))))

	verdict, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const el = document.querySelector('#verdict .verdict'), r = el.getBoundingClientRect();
		return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight ? el.textContent : 'not in view';
	})()`))
	require.NoError(t, err)
	assert.Equal(t, wantVerdict, verdict, "the verdict is the first thing on screen")

	// Every chart exists and painted its canvas.
	drawn, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]int](`(() => {
		const out = {};
		for (const c of document.querySelectorAll('canvas')) {
			const chart = Chart.getChart(c);
			if (!chart) { out[c.id] = -1; continue; }
			const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
			let painted = 0;
			for (let i = 3; i < px.length; i += 4) if (px[i] > 0) painted++;
			out[c.id] = chart.data.datasets.some(d => d.data.length > 0) ? painted : 0;
		}
		return out;
	})()`))
	require.NoError(t, err)
	wantCharts := []string{"chart-throughput", "chart-latency", "chart-quantiles", "chart-roles"}
	for _, id := range wantCharts {
		assert.Greater(t, drawn[id], 1000, "chart %s has data and painted pixels (%v)", id, drawn)
	}

	// Porcupine's pages load lazily; load them all now, and each must draw.
	frames, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(() => {
		const fs = document.querySelectorAll('iframe');
		fs.forEach(f => { f.loading = 'eager'; });
		return fs.length;
	})()`))
	require.NoError(t, err)
	if frames > 0 {
		svgs, err := chromedp.Run(ctx, chromedp.Poll[[]int](fmt.Sprintf(`window.__frames.length >= %d && window.__frames`, frames)))
		require.NoError(t, err, "every visualization loads")
		for _, n := range svgs {
			assert.Positive(t, n, "a visualization drew nothing: %v", svgs)
		}
	}
	full, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(artifacts, "report-"+name+".png"), full, 0o644))

	// A click on an operation marks its span on every chart and
	// brings the charts into view.
	span, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](fmt.Sprintf(`(() => {
		const a = document.querySelector(%q);
		return [parseFloat(a.dataset.t0), parseFloat(a.dataset.t1)];
	})()`, link)))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(link)), chromedp.Sleep(300*time.Millisecond)))
	marked, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`(() => {
		const charts = [...document.querySelectorAll('canvas')].map(c => Chart.getChart(c));
		const marks = charts.map(ch => FaultBands.marker(ch));
		const bar = document.getElementById('marker-bar');
		return {
			marked: marks.filter(m => m !== null).length, charts: charts.length, first: marks[0],
			bar: !bar.hidden && bar.textContent.includes('Marked'),
			top: Math.abs(document.getElementById('timeline').getBoundingClientRect().top) < 60,
		};
	})()`))
	require.NoError(t, err)
	assert.Equal(t, marked["charts"], marked["marked"], "every chart is marked: %v", marked)
	assert.Equal(t, map[string]any{"t0": span[0], "t1": span[1]}, marked["first"])
	assert.Equal(t, true, marked["bar"], "the marked span is named above the charts")
	assert.Equal(t, true, marked["top"], "the page scrolled to the timeline")
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(artifacts, "report-"+name+"-marked.png"), shot, 0o644))

	alerts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__alerts.length`))
	require.NoError(t, err)
	assert.Zero(t, alerts, "no string from the history ran as script")
	assert.Empty(t, problems.all(), "console errors, exceptions, failed or network loads")
	t.Logf("screenshots: %s", filepath.Join(artifacts, "report-"+name+"*.png"))
}
