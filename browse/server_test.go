package browse

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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

func get(t *testing.T, h http.Handler, url string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
	return rec.Code, rec.Body.String()
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

	s := &Server{Root: root, Compare: func(context.Context, []string, []string, io.Writer) error { return nil }}
	h, err := s.Handler()
	require.NoError(t, err)

	code, body := get(t, h, "/")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, 4, strings.Count(body, `<tr class=`), "every run, the broken one too")
	assert.Contains(t, body, "valid (1)")
	assert.Contains(t, body, "invalid (1)")
	assert.Contains(t, body, "unknown (2)")
	assert.Contains(t, body, "decode "+filepath.Join(broken, reports.ResultsFile))
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
	var gotA, gotB []string
	s := &Server{Root: root, Compare: func(_ context.Context, a, b []string, w io.Writer) error {
		gotA, gotB = a, b
		_, err := fmt.Fprint(w, "compared")
		return err
	}}
	h, err := s.Handler()
	require.NoError(t, err)

	code, body := get(t, h, "/compare?a=smoke/1&a=smoke/2&b=smoke/3")
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, "compared", body)
	assert.Equal(t, []string{filepath.Join(root, "smoke", "1"), filepath.Join(root, "smoke", "2")}, gotA)
	assert.Equal(t, []string{filepath.Join(root, "smoke", "3")}, gotB)

	for _, bad := range []string{"/compare?a=../x&b=y", "/compare?a=/etc&b=y", "/compare?a=x", "/compare?a=smoke/../../x&b=y"} {
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
