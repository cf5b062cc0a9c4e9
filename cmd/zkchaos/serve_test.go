package main

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/browse"
	"github.com/zkchaos/zkchaos/checker"
)

func TestServeRefusesBadInput(t *testing.T) {
	code, _, stderr := zkchaos(t, "serve", "--addr", "0.0.0.0:0", "--dir", t.TempDir())
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, stderr, "loopback only")
	code, _, stderr = zkchaos(t, "serve", "--addr", "127.0.0.1:0", "--dir", "/no/such/runs")
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, stderr, "--dir: /no/such/runs is not a directory")
}

func TestServeAnswersAndStopsOnInterrupt(t *testing.T) {
	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--dir", t.TempDir())
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	url := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`).FindString(line)
	require.NotEmpty(t, url, line)
	resp, err := http.Get(url)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		assert.NoError(t, err, "an interrupted browser exits 0")
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop on SIGINT")
	}
}

func TestServeComparesSelectedRuns(t *testing.T) {
	root := t.TempDir()
	at := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	a := writeSmokeRun(t, filepath.Join(root, "a"), at, 1, checker.Valid)
	b := writeSmokeRun(t, filepath.Join(root, "b"), at, 1, checker.Invalid)
	relA, err := filepath.Rel(root, a)
	require.NoError(t, err)
	relB, err := filepath.Rel(root, b)
	require.NoError(t, err)

	h, err := (&browse.Server{Root: root, Compare: compareRuns}).Handler()
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/compare?a="+url.QueryEscape(relA)+"&b="+url.QueryEscape(relB), nil)
	req.Host = "localhost"
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	page := rec.Body.String()
	assert.Contains(t, page, "B is worse")
	assert.Contains(t, page, `href="runs/`+relB+`/report.html"`, "links to the reports as the browser serves them")
	assert.NotContains(t, page, "compare.json", "a served comparison has no JSON file")
}

// A symlink inside the runs directory to a run outside it cannot be compared:
// the comparison reads every file through the root.
func TestServeCompareStaysInsideRoot(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "runs")
	at := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	b := writeSmokeRun(t, filepath.Join(root, "b"), at, 1, checker.Valid)
	outside := writeSmokeRun(t, filepath.Join(parent, "private"), at, 1, checker.Invalid)
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "outside")))
	relB, err := filepath.Rel(root, b)
	require.NoError(t, err)

	h, err := (&browse.Server{Root: root, Compare: compareRuns}).Handler()
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/compare?a=outside&b="+url.QueryEscape(relB), nil)
	req.Host = "localhost"
	h.ServeHTTP(rec, req)
	assert.NotEqual(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.NotContains(t, rec.Body.String(), "invalid")
	assert.NotContains(t, rec.Body.String(), parent, "errors name paths inside the root only")
}
