package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// copyInvalidRun copies testdata/invalid-run into a fresh directory and
// returns it.
func copyInvalidRun(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"scenario.yaml", "history.jsonl"} {
		b, err := os.ReadFile(filepath.Join("testdata", "invalid-run", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
	}
	return dir
}

func TestCheckAnswersABadRunDirectoryWithBadInput(t *testing.T) {
	for name, spoil := range map[string]func(dir string) error{
		"garbage history": func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "history.jsonl"), []byte("\x00\x01garbage\n{\"index\":\n"), 0o644)
		},
		"no history":  func(dir string) error { return os.Remove(filepath.Join(dir, "history.jsonl")) },
		"no scenario": func(dir string) error { return os.Remove(filepath.Join(dir, "scenario.yaml")) },
		"garbage results": func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "results.json"), []byte("{not json"), 0o644)
		},
		"unknown workload": func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "scenario.yaml"), []byte("name: x\nworkload:\n  name: nope\n"), 0o644)
		},
		"scenario is a dir": func(dir string) error {
			return errors.Join(os.Remove(filepath.Join(dir, "scenario.yaml")), os.Mkdir(filepath.Join(dir, "scenario.yaml"), 0o755))
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := copyInvalidRun(t)
			require.NoError(t, spoil(dir))
			code, _, stderr := zkchaos(t, "check", dir)
			assert.Equal(t, exitBadInput, code, stderr)
			assert.Contains(t, stderr, dir, "the error names the run directory or its file")
		})
	}
}

func TestAMissingDistributionIsBadInput(t *testing.T) {
	scenario := filepath.Join(t.TempDir(), "s.yaml")
	require.NoError(t, os.WriteFile(scenario, []byte("name: s\ncluster:\n  distribution: /nonexistent/zookeeper-3.9.9\n"), 0o644))
	out := t.TempDir()
	code, _, stderr := zkchaos(t, "run", scenario, "--out", out)
	assert.Equal(t, exitBadInput, code, stderr)
	assert.Contains(t, stderr, "/nonexistent/zookeeper-3.9.9 does not exist")
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing was started")
}
