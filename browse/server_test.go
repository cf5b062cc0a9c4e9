package browse

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/reports"
)

// makeRun writes a run directory with results.json and a report page; the
// directory is named after the scenario up to its first "<".
func makeRun(t *testing.T, root, scenario string, started time.Time, v checker.Verdict) string {
	t.Helper()
	dir, err := reports.NewRunDir(root, "scenario"+strings.SplitN(scenario, "<", 2)[0], started)
	require.NoError(t, err)
	require.NoError(t, reports.WriteResults(dir, reports.Results{
		Scenario: scenario, Seed: 7, Verdict: v, Started: started, Duration: time.Minute,
		Counts: reports.Counts{"read": {history.OK: 10, history.Info: 2}}, OpsPerSecond: 0.2,
	}))
	require.NoError(t, os.WriteFile(filepath.Join(dir, reports.ReportFile), []byte("<p>report of "+scenario+"</p>"), 0o644))
	return dir
}

// get requests url from h as a browser on this machine would, naming localhost.
func get(t *testing.T, h http.Handler, url string) (int, string) {
	t.Helper()
	rec := request(h, "localhost", url)
	return rec.Code, rec.Body.String()
}

// request sends GET url with the Host header host to h.
func request(h http.Handler, host, url string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, url, nil)
	req.Host = host
	h.ServeHTTP(rec, req)
	return rec
}

func TestIndexListsAndFilters(t *testing.T) {
	root := t.TempDir()
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	makeRun(t, root, "smoke", t0, checker.Valid)
	makeRun(t, root, "smoke", t0.Add(time.Minute), checker.Invalid)
	makeRun(t, root, "<script>alert(1)</script>", t0.Add(2*time.Minute), checker.Unknown)
	// A run whose results cannot be read is listed with the reason.
	broken := filepath.Join(root, "broken", "20261125T100000Z")
	require.NoError(t, os.MkdirAll(broken, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(broken, reports.ResultsFile), []byte("{not json"), 0o644))
	// A comparison directory is listed apart.
	require.NoError(t, os.MkdirAll(filepath.Join(root, "cmp"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "cmp", comparisonFile), []byte("x"), 0o644))

	s := &Server{Root: root, Compare: func(context.Context, fs.FS, []string, []string, io.Writer) error { return nil }}
	h, err := s.Handler()
	require.NoError(t, err)

	code, body := get(t, h, "/")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, 4, strings.Count(body, `<tr class=`), "every run, the broken one too")
	assert.Contains(t, body, "valid (1)")
	assert.Contains(t, body, "invalid (1)")
	assert.Contains(t, body, "unknown (2)")
	assert.Contains(t, body, "decode broken/20261125T100000Z/"+reports.ResultsFile)
	assert.Contains(t, body, `href="runs/cmp/compare.html"`)
	assert.NotContains(t, body, "<script>alert(1)</script>", "scenario names are escaped")
	assert.Contains(t, body, "&lt;script&gt;alert(1)&lt;/script&gt;")
	// Newest first.
	assert.Less(t, strings.Index(body, "10:00:00"), strings.Index(body, "09:01:00"))
	assert.Less(t, strings.Index(body, "09:01:00"), strings.Index(body, "09:00:00"))

	_, body = get(t, h, "/?verdict=invalid")
	assert.Equal(t, 1, strings.Count(body, `<tr class=`))
	assert.Contains(t, body, `<tr class="invalid">`)

	_, body = get(t, h, "/?scenario=smoke")
	assert.Equal(t, 2, strings.Count(body, `<tr class=`))

	_, body = get(t, h, "/?verdict=valid&scenario=nothing")
	assert.Contains(t, body, "No runs match this filter.")

	code, body = get(t, h, "/index.json")
	require.Equal(t, http.StatusOK, code)
	var idx Index
	require.NoError(t, json.Unmarshal([]byte(body), &idx))
	require.Len(t, idx.Runs, 4)
	assert.Equal(t, 12, idx.Runs[1].Ops)
	assert.Equal(t, []Comparison{{Path: "cmp", Written: idx.Comparisons[0].Written}}, idx.Comparisons)
}

func TestFilesStayInsideRoot(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "runs")
	require.NoError(t, os.Mkdir(root, 0o755))
	dir := makeRun(t, root, "smoke", time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC), checker.Valid)
	require.NoError(t, os.WriteFile(filepath.Join(parent, "secret"), []byte("secret"), 0o644))
	require.NoError(t, os.Symlink(filepath.Join(parent, "secret"), filepath.Join(root, "escape")))

	h, err := (&Server{Root: root}).Handler()
	require.NoError(t, err)
	rel, err := filepath.Rel(root, dir)
	require.NoError(t, err)

	code, body := get(t, h, "/runs/"+rel+"/report.html")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "report of smoke")
	code, _ = get(t, h, "/runs/scenariosmoke/latest/report.html")
	assert.Equal(t, http.StatusOK, code, "a latest link inside the root is followed")

	code, body = get(t, h, "/runs/escape")
	assert.NotEqual(t, http.StatusOK, code)
	assert.NotContains(t, body, "secret")
	code, _ = get(t, h, "/runs/../secret")
	assert.NotEqual(t, http.StatusOK, code)

	code, _ = get(t, h, "/compare?a=x&b=y")
	assert.Equal(t, http.StatusNotFound, code, "no comparer, no route")
	_, body = get(t, h, "/")
	assert.NotContains(t, body, "Compare selected")
}

func TestCompareRoute(t *testing.T) {
	root := t.TempDir()
	for _, run := range []string{"smoke/1", "smoke/2", "smoke/3"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, run), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, run, "f"), []byte(run), 0o644))
	}
	var gotA, gotB []string
	s := &Server{Root: root, Compare: func(_ context.Context, fsys fs.FS, a, b []string, w io.Writer) error {
		gotA, gotB = a, b
		f, err := fs.ReadFile(fsys, b[0]+"/f")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "compared with %s", f)
		return err
	}}
	h, err := s.Handler()
	require.NoError(t, err)

	code, body := get(t, h, "/compare?a=smoke/1&a=smoke/2&b=smoke/3")
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, "compared with smoke/3", body, "the runs are read from the root")
	assert.Equal(t, []string{"smoke/1", "smoke/2"}, gotA)
	assert.Equal(t, []string{"smoke/3"}, gotB)

	for _, bad := range []string{"/compare?a=../x&b=y", "/compare?a=/etc&b=y", "/compare?a=x", "/compare?a=smoke/../../x&b=y", "/compare?a=.&b=y", "/compare?a=&b=y"} {
		code, _ := get(t, h, bad)
		assert.Equal(t, http.StatusBadRequest, code, bad)
	}
}

func TestServeStopsWithContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Server{Root: t.TempDir()}).Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
}

func TestLoopback(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:8080", "127.3.2.1:0", "[::1]:80", "localhost:9000"} {
		assert.NoError(t, Loopback(ok), ok)
	}
	for _, bad := range []string{"0.0.0.0:8080", ":8080", "10.0.0.1:80", "example.com:80", "nonsense"} {
		assert.Error(t, Loopback(bad), bad)
	}
}

// A page on another site whose name was rebound to 127.0.0.1 sends its own
// host name: the browser answers only requests naming the address it listens
// on, or localhost.
func TestRefusesOtherHosts(t *testing.T) {
	root := t.TempDir()
	makeRun(t, root, "smoke", time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC), checker.Valid)
	h, err := (&Server{Root: root, Addr: "127.0.0.1:8080"}).Handler()
	require.NoError(t, err)
	for _, host := range []string{"127.0.0.1:8080", "localhost:8080", "LocalHost:8080", "localhost"} {
		rec := request(h, host, "/index.json")
		assert.Equal(t, http.StatusOK, rec.Code, host)
	}
	for _, host := range []string{"evil.example:8080", "evil.example", "127.0.0.1:9090", "127.0.0.2:8080", "localhost.evil.example:8080", ""} {
		for _, url := range []string{"/", "/index.json", "/runs/", "/compare?a=x&b=y"} {
			rec := request(h, host, url)
			assert.Equal(t, http.StatusMisdirectedRequest, rec.Code, "%s %s", host, url)
			assert.NotContains(t, rec.Body.String(), "smoke", "%s %s", host, url)
		}
	}

	// Serve learns the address from its listener.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = (&Server{Root: root}).Serve(ctx, ln) }()
	for host, want := range map[string]int{ln.Addr().String(): http.StatusOK, "rebound.example": http.StatusMisdirectedRequest} {
		req, err := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/index.json", nil)
		require.NoError(t, err)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode, host)
	}
}

// Every answer forbids content sniffing and carries a content security
// policy: the run browser's own pages run no script, and a run's files may
// load nothing from elsewhere.
func TestSecurityHeaders(t *testing.T) {
	root := t.TempDir()
	dir := makeRun(t, root, "smoke", time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC), checker.Valid)
	rel, err := filepath.Rel(root, dir)
	require.NoError(t, err)
	s := &Server{Root: root, Compare: func(context.Context, fs.FS, []string, []string, io.Writer) error { return nil }}
	h, err := s.Handler()
	require.NoError(t, err)
	for _, url := range []string{"/", "/index.json", "/compare?a=x&b=y", "/runs/" + rel + "/report.html", "/runs/" + rel + "/", "/nothing"} {
		rec := request(h, "localhost", url)
		assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), url)
		csp := rec.Header().Get("Content-Security-Policy")
		assert.Contains(t, csp, "default-src 'none'", url)
		assert.Contains(t, csp, "frame-ancestors 'none'", url)
		if strings.HasPrefix(url, "/runs/") {
			assert.Equal(t, reports.ContentSecurityPolicy, csp, url)
		} else {
			assert.NotContains(t, csp, "script-src", url)
		}
	}
}

// A run directory's files are read through the root: a results.json that is
// a symlink to a file outside it is not listed as it reads.
func TestIndexStaysInsideRoot(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "runs")
	require.NoError(t, os.Mkdir(root, 0o755))
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	outside := makeRun(t, filepath.Join(parent, "private"), "secret-scenario", t0, checker.Valid)
	inside := filepath.Join(root, "smoke", "20261125T090000Z")
	require.NoError(t, os.MkdirAll(inside, 0o755))
	require.NoError(t, os.Symlink(filepath.Join(outside, reports.ResultsFile), filepath.Join(inside, reports.ResultsFile)))

	h, err := (&Server{Root: root}).Handler()
	require.NoError(t, err)
	code, body := get(t, h, "/index.json")
	require.Equal(t, http.StatusOK, code)
	assert.NotContains(t, body, "secret-scenario")
	assert.NotContains(t, body, parent, "errors name files inside the root only")
	var idx Index
	require.NoError(t, json.Unmarshal([]byte(body), &idx))
	require.Len(t, idx.Runs, 1, "the run is listed, with the reason it cannot be read")
	assert.Equal(t, checker.Unknown, idx.Runs[0].Verdict)
	assert.Contains(t, idx.Runs[0].Error, "smoke/20261125T090000Z/results.json")
}
