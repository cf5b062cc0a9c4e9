package compare

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/reports"
)

// runsTree lays out root/smoke/{t1,t2,latest -> t2} and root/other/t3, each
// a run directory with results.json, and returns root.
func runsTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"smoke/t1", "smoke/t2", "other/t3"} {
		dir := filepath.Join(root, d)
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "nodes", "n1"), 0o755))
		writeRun(t, dir, testRun(dir, filepath.Dir(d), 1, checker.Valid, "", time.Millisecond, time.Millisecond))
	}
	require.NoError(t, os.Symlink("t2", filepath.Join(root, "smoke", reports.LatestLink)))
	require.NoError(t, os.WriteFile(filepath.Join(root, "smoke", "junit.xml"), []byte("<testsuites/>"), 0o644))
	return root
}

func rel(t *testing.T, root string, dirs []string) []string {
	t.Helper()
	var out []string
	for _, d := range dirs {
		r, err := filepath.Rel(root, d)
		require.NoError(t, err)
		out = append(out, r)
	}
	return out
}

func TestExpandFindsRunsBelowAndSkipsLatestLinks(t *testing.T) {
	root := runsTree(t)
	ctx := context.Background()
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"a directory of scenarios", []string{root}, []string{"other/t3", "smoke/t1", "smoke/t2"}},
		{"a scenario's directory", []string{filepath.Join(root, "smoke")}, []string{"smoke/t1", "smoke/t2"}},
		{"a glob over a scenario's runs", []string{filepath.Join(root, "smoke", "*")}, []string{"smoke/t1", "smoke/t2"}},
		{"a run directory", []string{filepath.Join(root, "smoke", "t1")}, []string{"smoke/t1"}},
		{"a latest link named explicitly", []string{filepath.Join(root, "smoke", reports.LatestLink)}, []string{"smoke/latest"}},
		{"the same run twice counts once", []string{filepath.Join(root, "smoke"), filepath.Join(root, "smoke", reports.LatestLink)},
			[]string{"smoke/t1", "smoke/t2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Expand(ctx, tt.args)
			require.NoError(t, err)
			assert.Equal(t, tt.want, rel(t, root, got))
		})
	}
}

func TestExpandNamesWhatIsMissing(t *testing.T) {
	root := runsTree(t)
	ctx := context.Background()

	broken := filepath.Join(root, "smoke", "t0")
	require.NoError(t, os.MkdirAll(broken, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(broken, history.FileName), nil, 0o644))
	_, err := Expand(ctx, []string{filepath.Join(root, "smoke")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(broken, reports.ResultsFile), "a run without results.json is named")

	_, err = Expand(ctx, []string{filepath.Join(root, "nope")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(root, "nope"))

	_, err = Expand(ctx, []string{filepath.Join(root, "n*pe")})
	require.ErrorContains(t, err, "matches nothing")

	empty := filepath.Join(root, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	_, err = Expand(ctx, []string{empty})
	require.ErrorContains(t, err, "no run directory (one holding results.json) in "+empty)
}

func TestLoadRunComputesAMissingSummaryFromTheHistory(t *testing.T) {
	dir := t.TempDir()
	r := testRun(dir, "smoke", 1, checker.Valid, "", time.Millisecond, time.Millisecond)
	r.Results.Summary = nil
	writeRun(t, dir, r)
	ops := []history.Op{
		{Index: 0, Type: history.Invoke, F: history.Read, Process: 1, Time: 0, Key: "k"},
		{Index: 1, Type: history.OK, F: history.Read, Process: 1, Time: int64(3 * time.Millisecond), Key: "k", Value: history.Int64(0)},
	}
	w, err := history.Create(filepath.Join(dir, history.FileName), time.Now())
	require.NoError(t, err)
	for _, op := range ops {
		_, err := w.Append(op)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())

	got, err := LoadRun(dir)
	require.NoError(t, err)
	require.NotNil(t, got.Results.Summary)
	assert.Equal(t, 1, got.Results.Summary.Latency["read"][history.OK].Count)
	assert.Len(t, recoveryWindows(got.Results.Check), 2, "the recovery details come back from JSON")
}

func TestLoadNamesAnUnreadableResultsFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, reports.ResultsFile), []byte("{not json"), 0o644))
	_, err := Load(context.Background(), []string{dir})
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(dir, reports.ResultsFile))

	old := t.TempDir()
	r := testRun(old, "smoke", 1, checker.Valid, "", time.Millisecond, time.Millisecond)
	r.Results.Summary = nil
	writeRun(t, old, r)
	_, err = LoadRun(old)
	require.Error(t, err, "no summary and no history to compute it from")
	assert.Contains(t, err.Error(), filepath.Join(old, reports.ResultsFile))
}

func TestLoadSideNeedsACompleteRun(t *testing.T) {
	dir := t.TempDir()
	r := testRun(dir, "smoke", 1, checker.Unknown, "", time.Millisecond, time.Millisecond)
	r.Results.Interrupted = true
	writeRun(t, dir, r)
	_, err := LoadSide(context.Background(), []string{dir})
	require.ErrorIs(t, err, ErrNoRuns)
}

func TestLoadSideFSReadsEveryFileThroughTheRoot(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "runs")
	inside, outside := filepath.Join(dir, "smoke", "1"), filepath.Join(parent, "private", "1")
	for _, d := range []string{inside, outside} {
		r := testRun(d, "smoke", 1, checker.Valid, "", time.Millisecond, time.Millisecond)
		r.Results.Summary = nil // computed from the history, read through the root too
		require.NoError(t, os.MkdirAll(d, 0o755))
		writeRun(t, d, r)
	}
	w, err := history.Create(filepath.Join(outside, history.FileName), time.Now())
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, os.Symlink(filepath.Join(outside, history.FileName), filepath.Join(inside, history.FileName)))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "out")))
	root, err := os.OpenRoot(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = root.Close() })

	for _, arg := range []string{"out", "smoke", "smoke/1"} {
		_, err := LoadSideFS(context.Background(), root.FS(), []string{arg})
		require.Error(t, err, arg)
		assert.Contains(t, err.Error(), "escapes", arg)
		assert.NotContains(t, err.Error(), parent, "named by its path in the root")
	}

	// Through the same root, a history inside it is read.
	require.NoError(t, os.Remove(filepath.Join(inside, history.FileName)))
	w, err = history.Create(filepath.Join(inside, history.FileName), time.Now())
	require.NoError(t, err)
	require.NoError(t, w.Close())
	side, err := LoadSideFS(context.Background(), root.FS(), []string{"smoke"})
	require.NoError(t, err)
	require.Len(t, side.Runs, 1)
	assert.Equal(t, "smoke/1", side.Runs[0].Dir)
	assert.NotNil(t, side.Runs[0].Results.Summary)
}
