package harness

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/cluster/local"
	"github.com/zkchaos/zkchaos/cluster/local/localtest"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/reports"
	"github.com/zkchaos/zkchaos/scenarios"
)

func TestRegisterUnderLeaderKillsIsLinearizableAndRecheckable(t *testing.T) {
	localtest.RequireZooKeeper(t)
	s, err := scenarios.Load("../scenarios/smoke.yaml")
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := Run(ctx, Options{Scenario: s, OutDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	require.NoError(t, err)
	res := out.Results
	assert.Equal(t, checker.Valid, res.Verdict, "message: %s", res.Check.Message)
	assert.GreaterOrEqual(t, res.Counts[history.Read][history.OK], 100, "quorum reads must succeed")
	assert.GreaterOrEqual(t, res.Counts.Total(), 300)

	// The leader was really killed and restarted, and that is in the history.
	read, err := history.ReadFile(filepath.Join(out.Dir, history.FileName))
	require.NoError(t, err)
	kills, starts := 0, 0
	for _, op := range read.Ops {
		if op.IsNemesis() && op.Type == history.Info && op.Error == "" {
			switch op.F {
			case "kill":
				kills++
			case "start":
				starts++
			}
		}
	}
	assert.GreaterOrEqual(t, kills, 2)
	assert.Equal(t, kills, starts, "every kill is healed")

	for _, f := range []string{history.FileName, reports.ResultsFile, reports.ReportFile, ScenarioFile} {
		assert.FileExists(t, filepath.Join(out.Dir, f))
	}
	for _, l := range res.Logs {
		assert.FileExists(t, filepath.Join(out.Dir, l))
	}

	again, err := Check(ctx, out.Dir)
	require.NoError(t, err)
	assert.Equal(t, res.Verdict, again.Verdict)
	assert.Equal(t, res.Counts, again.Counts)
	assert.Equal(t, res.HealthyAfter, again.HealthyAfter, "facts of the run survive a re-check")
}

func TestInterruptedRunHealsKeepsHistoryAndSaysSo(t *testing.T) {
	localtest.RequireZooKeeper(t)
	s, err := scenarios.Load("../scenarios/smoke.yaml")
	require.NoError(t, err)
	s.TimeLimit = 2 * time.Minute

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outDir := t.TempDir()
	go func() {
		// Interrupt once operations are being recorded.
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			path := filepath.Join(outDir, s.Name, reports.LatestLink, history.FileName)
			if st, err := os.Stat(path); err == nil && st.Size() > 20_000 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		cancel()
	}()
	out, err := Run(ctx, Options{Scenario: s, OutDir: outDir})
	require.ErrorIs(t, err, ErrInterrupted)
	require.NotEmpty(t, out.Dir)
	assert.True(t, out.Results.Interrupted)
	assert.Equal(t, checker.Unknown, out.Results.Verdict)

	read, err := history.ReadFile(filepath.Join(out.Dir, history.FileName))
	require.NoError(t, err)
	assert.NotEmpty(t, history.Calls(read.Ops))
	stored, err := reports.ReadResults(out.Dir)
	require.NoError(t, err)
	assert.True(t, stored.Interrupted)
	assert.Empty(t, servers(t, out.Dir), "no ZooKeeper process may outlive the run")

	// The partial history can be judged later.
	res, err := Check(context.Background(), out.Dir)
	require.NoError(t, err)
	assert.NotEqual(t, checker.Invalid, res.Verdict, res.Check.Message)
}

// servers lists ZooKeeper servers of the run directory that still run.
func servers(t *testing.T, dir string) []int {
	t.Helper()
	pids, err := local.Servers(dir)
	require.NoError(t, err)
	return pids
}

// TestShippedFaultScenariosAreValid runs every shipped scenario of the
// nemesis suite, shortened, and expects quorum reads to come out valid and
// the ensemble to recover from every fault kind.
func TestShippedFaultScenariosAreValid(t *testing.T) {
	localtest.RequireZooKeeper(t)
	for _, name := range []string{
		"register-partition-halves", "register-isolate-leader", "register-pause-leader",
		"register-clock-bump", "register-mixed",
	} {
		t.Run(name, func(t *testing.T) {
			s, err := scenarios.Load(filepath.Join("..", "scenarios", name+".yaml"))
			require.NoError(t, err)
			s.TimeLimit = 25 * time.Second
			s.Recovery = 2 * time.Second
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			out, err := Run(ctx, Options{Scenario: s, OutDir: t.TempDir()})
			require.NoError(t, err)
			res := out.Results
			assert.Equal(t, checker.Valid, res.Verdict, "%s", res.Check.Message)
			injected := 0
			read, err := history.ReadFile(filepath.Join(out.Dir, history.FileName))
			require.NoError(t, err)
			for _, op := range read.Ops {
				if op.IsNemesis() && op.Type == history.Info && op.Fault != nil && op.Error == "" &&
					op.F != "start" && op.F != "resume" && op.F != "heal" && op.F != history.FHealthy {
					injected++
				}
			}
			assert.GreaterOrEqual(t, injected, 1, "a fault was injected")
			assert.Empty(t, servers(t, out.Dir))
			for _, c := range res.Check.Children {
				t.Logf("%s: %s", c.Checker, c.Message)
			}
		})
	}
}

func TestInterruptDuringPartitionLeavesNoFaultAndNoProcess(t *testing.T) {
	localtest.RequireZooKeeper(t)
	s, err := scenarios.Load("../scenarios/register-isolate-leader.yaml")
	require.NoError(t, err)
	s.Nemesis.Warmup = time.Second
	s.Nemesis.Duration = time.Minute

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outDir := t.TempDir()
	go func() {
		// Interrupt while the partition is in force.
		path := filepath.Join(outDir, s.Name, reports.LatestLink, history.FileName)
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			if read, err := history.ReadFile(path); err == nil {
				for _, op := range read.Ops {
					if op.F == "partition" && op.Type == history.Info {
						time.Sleep(2 * time.Second)
						cancel()
						return
					}
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		cancel()
	}()
	out, err := Run(ctx, Options{Scenario: s, OutDir: outDir})
	require.ErrorIs(t, err, ErrInterrupted)
	read, err := history.ReadFile(filepath.Join(out.Dir, history.FileName))
	require.NoError(t, err)
	var partitioned, healed bool
	for _, op := range read.Ops {
		if op.IsNemesis() && op.Type == history.Info && op.Error == "" {
			partitioned = partitioned || op.F == "partition"
			healed = healed || (partitioned && op.F == "heal")
		}
	}
	assert.True(t, partitioned, "the run was interrupted during a partition")
	assert.True(t, healed, "the partition was healed on interrupt")
	assert.Empty(t, servers(t, out.Dir))
}
