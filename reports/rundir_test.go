package reports

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/history"
)

func TestNewRunDirIsUniqueAndMovesLatest(t *testing.T) {
	root := t.TempDir()
	now := time.Date(2026, 11, 25, 14, 32, 45, 0, time.FixedZone("CET", 3600))

	first, err := NewRunDir(root, "register", now)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(root, "register", "20261125T133245Z"), first, "named by the UTC start")
	assert.DirExists(t, first)

	second, err := NewRunDir(root, "register", now.Add(300*time.Millisecond))
	require.NoError(t, err)
	assert.NotEqual(t, first, second, "two runs in one second get two directories")
	assert.DirExists(t, second)

	latest := filepath.Join(root, "register", LatestLink)
	target, err := os.Readlink(latest)
	require.NoError(t, err)
	assert.Equal(t, filepath.Base(second), target, "latest is a relative link to the newest run")

	third, err := NewRunDir(root, "register", now.Add(time.Minute))
	require.NoError(t, err)
	target, err = os.Readlink(latest)
	require.NoError(t, err)
	assert.Equal(t, filepath.Base(third), target)
	resolved, err := filepath.EvalSymlinks(latest)
	require.NoError(t, err)
	want, err := filepath.EvalSymlinks(third)
	require.NoError(t, err)
	assert.Equal(t, want, resolved)

	entries, err := os.ReadDir(filepath.Join(root, "register"))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"20261125T133245Z", filepath.Base(second), "20261125T133345Z", LatestLink}, names,
		"no temporary links are left behind")
}

func TestNewRunDirRejectsScenarioNamesThatAreNotDirectoryNames(t *testing.T) {
	for _, name := range []string{"", ".", "..", "a/b", `a\b`} {
		_, err := NewRunDir(t.TempDir(), name, time.Now())
		assert.Error(t, err, "scenario %q", name)
	}
}

func TestNewRunDirRefusesToReplaceARealLatestDirectory(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "register", LatestLink), 0o755))
	_, err := NewRunDir(root, "register", time.Now())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a symlink")
}

func TestFindRuns(t *testing.T) {
	root := t.TempDir()
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var made []string
	for i, scenario := range []string{"smoke", "smoke", "register-kill"} {
		dir, err := NewRunDir(root, scenario, start.Add(time.Duration(i)*time.Second))
		require.NoError(t, err)
		require.NoError(t, WriteResults(dir, Results{Scenario: scenario}))
		made = append(made, dir)
	}
	// A directory without results.json is not a run, and a run's own
	// subdirectories are not searched.
	require.NoError(t, os.MkdirAll(filepath.Join(root, "smoke", "unfinished"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(made[0], "nodes", "n1"), 0o755))

	// A run killed before its results were written.
	killed := filepath.Join(root, "smoke", "20261125T090000Z")
	require.NoError(t, os.MkdirAll(killed, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(killed, history.FileName), nil, 0o644))

	runs, unjudged, err := FindRuns(root)
	require.NoError(t, err)
	assert.ElementsMatch(t, made, runs, "every run once, latest links skipped")
	assert.Equal(t, []string{killed}, unjudged)

	runs, unjudged, err = FindRuns(filepath.Join(root, "smoke", LatestLink), made[1])
	require.NoError(t, err)
	assert.Equal(t, []string{made[1]}, runs, "a latest link as root is followed, and duplicates collapse")
	assert.Empty(t, unjudged)

	_, _, err = FindRuns(filepath.Join(root, "missing"))
	require.ErrorContains(t, err, "missing")
}
