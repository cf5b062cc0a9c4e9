package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunRefusesOverridesOutOfBounds: --rate, --time-limit and --seed are
// held to the rules of the scenario fields they override, before anything
// starts, and the error names the flag.
// The scenario names a distribution that does not exist, so that a flag let
// through fails later, at the ensemble's start, with another message.
func TestRunRefusesOverridesOutOfBounds(t *testing.T) {
	dir := t.TempDir()
	scenario := filepath.Join(dir, "s.yaml")
	require.NoError(t, os.WriteFile(scenario, []byte("cluster:\n  distribution: "+filepath.Join(dir, "no-zookeeper")+"\n"), 0o644))
	out := filepath.Join(dir, "runs")
	cases := []struct{ flag, value, want string }{
		{"--rate", "NaN", `--rate: field workload.rate: must be a number, got "NaN"`},
		{"--rate", ".inf", "--rate: field workload.rate: must be a finite number, got +Inf"},
		{"--rate", "1e-9", "--rate: field workload.rate: must be 0 (unlimited) or at least 0.01 ops/s, got 1e-09"},
		{"--rate", "-5", "--rate: field workload.rate: must not be negative"},
		{"--time-limit", "10000h", "--time-limit: field time-limit: must be at most 8760h0m0s, got 10000h0m0s"},
		{"--time-limit", "-1s", "--time-limit: field time-limit: must be positive, got -1s"},
		{"--seed", "one", `--seed: field seed: must be a whole number, got "one"`},
	}
	for _, tc := range cases {
		code, _, stderr := zkchaos(t, "run", scenario, tc.flag, tc.value, "--out", out)
		assert.Equal(t, exitBadInput, code, "%s %s: %s", tc.flag, tc.value, stderr)
		assert.Contains(t, stderr, tc.want)
	}
	_, err := os.Stat(out)
	assert.ErrorIs(t, err, os.ErrNotExist, "no run directory for a refused flag")
}
