package compare

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
)

func TestWriteEscapesEverythingFromTheRuns(t *testing.T) {
	const evil = `<script>alert("x")</script>`
	ms := time.Millisecond
	out := t.TempDir()
	a := Side{Source: "debian", Runs: []Run{testRun(filepath.Join(out, "a", "1"), "smoke"+evil, 1, checker.Valid, "ok", 10*ms, 100*ms)}}
	b := Side{Source: "debian=" + evil, Runs: []Run{testRun(filepath.Join(out, "b", "1"), "smoke"+evil, 1, checker.Invalid, "key k1: "+evil, 10*ms, 100*ms)}}
	rep := Build(a, b, Thresholds{})
	require.True(t, rep.Regression)

	require.NoError(t, Write(out, rep))
	page, err := os.ReadFile(filepath.Join(out, HTMLFile))
	require.NoError(t, err)
	html := string(page)
	assert.NotContains(t, html, "<script", "no string from a run may open a script")
	assert.Contains(t, html, "key k1: &lt;script&gt;", "the checker message is shown, escaped")
	assert.Contains(t, html, "smoke&lt;script&gt;", "the scenario name is shown, escaped")
	assert.Contains(t, html, "B is worse on correctness in smoke&lt;script&gt;")
	assert.Contains(t, html, `href="b/1/report.html"`, "runs link to their reports, relative to the page")
	assert.False(t, strings.Contains(html, "http://") || strings.Contains(html, "https://"), "the page loads nothing from the network")

	b2, err := os.ReadFile(filepath.Join(out, JSONFile))
	require.NoError(t, err)
	var back Report
	require.NoError(t, json.Unmarshal(b2, &back))
	assert.True(t, back.Regression)
	assert.Equal(t, rep.Summary, back.Summary)
}

func TestReportLinkIsRelativeToTheComparison(t *testing.T) {
	assert.Equal(t, "a/smoke/t1/report.html", reportLink("/x/out", "/x/out/a/smoke/t1"))
	assert.Equal(t, "../runs/smoke/t1/report.html", reportLink("/x/out", "/x/runs/smoke/t1"))
}
