package harness

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/cluster/local"
	"github.com/zkchaos/zkchaos/cluster/local/localtest"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/runtest"
	"github.com/zkchaos/zkchaos/reports"
	"github.com/zkchaos/zkchaos/scenarios"
)

func TestRegisterUnderLeaderKillsIsLinearizableAndRecheckable(t *testing.T) {
	t.Parallel() // beside the other tests that start ensembles, two at a time
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
	assert.Len(t, res.Logs, len(res.Nodes), "every server's log is listed")
	for _, l := range res.Logs {
		assert.FileExists(t, filepath.Join(out.Dir, l))
	}

	again, err := Check(ctx, out.Dir)
	require.NoError(t, err)
	assert.Equal(t, res.Verdict, again.Verdict)
	assert.Equal(t, res.Counts, again.Counts)
	assert.Equal(t, res.HealthyAfter, again.HealthyAfter, "facts of the run survive a re-check")
	assert.Greater(t, res.RunPeakRSS, int64(10<<20), "the harness's own memory is measured")
	assert.Equal(t, res.RunPeakRSS, again.RunPeakRSS, "and kept by a re-check")
	require.NotNil(t, again.Summary)
	assert.Greater(t, again.Summary.Latency[history.Read][history.OK].Count, 0)
}

func TestInterruptedRunHealsKeepsHistoryAndSaysSo(t *testing.T) {
	t.Parallel() // beside the other tests that start ensembles, two at a time
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
	assert.Empty(t, localtest.Servers(t, out.Dir), "no ZooKeeper process may outlive the run")

	// The partial history can be judged later.
	res, err := Check(context.Background(), out.Dir)
	require.NoError(t, err)
	assert.NotEqual(t, checker.Invalid, res.Verdict, res.Check.Message)
}

// TestShippedFaultScenariosAreValid runs every shipped fault scenario,
// shortened, and expects each workload's promises to hold and the ensemble
// to recover from every fault kind. The run as a whole may be invalid only
// by a known bug of the ZooKeeper under test that the servers report
// themselves (runtest.AssertValid). The smoke scenario, the rolling upgrade
// and the regression hunts have tests of their own; set-partition and
// queue-kill run in their workloads' packages.
func TestShippedFaultScenariosAreValid(t *testing.T) {
	t.Parallel() // beside the other tests that start ensembles, two at a time
	localtest.RequireZooKeeper(t)
	for _, name := range []string{
		"register-partition-halves", "register-isolate-leader", "register-pause-leader",
		"register-clock-bump", "register-mixed", "register-kill", "register-plain-partition",
		"lock-kill", "multi-partition", "session-pause", "session-isolate-clients", "watch-kill",
		"register-reconfig",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // two at a time: go test's -parallel is the number of cores
			s, err := scenarios.Load(filepath.Join("..", "scenarios", name+".yaml"))
			require.NoError(t, err)
			// A short warm-up, then one whole fault window with its election
			// and recovery.
			s.Nemesis.Warmup = min(s.Nemesis.Warmup, 2*time.Second)
			s.Nemesis.Duration = min(s.Nemesis.Duration, 7*time.Second)
			s.Nemesis.MaxDuration = max(s.Nemesis.Duration, min(s.Nemesis.MaxDuration, 7*time.Second))
			s.TimeLimit = 9 * time.Second
			s.Recovery = 2 * time.Second
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			out, err := Run(ctx, Options{Scenario: s, OutDir: t.TempDir()})
			require.NoError(t, err)
			res := out.Results
			checks := map[string]checker.Result{}
			for _, c := range res.Check.Children {
				checks[c.Checker] = c
			}
			// What clients were promised holds, and the ensemble recovers.
			assert.Equal(t, checker.Valid, checks[s.Workload.Name].Verdict, "%s", checks[s.Workload.Name].Message)
			assert.Equal(t, checker.Valid, checks["recovery"].Verdict, "%s", checks["recovery"].Message)
			runtest.AssertValid(t, res.Check)
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
			assert.Empty(t, localtest.Servers(t, out.Dir))
			for _, c := range res.Check.Children {
				t.Logf("%s: %s", c.Checker, c.Message)
			}
		})
	}
}

func TestInterruptDuringPartitionLeavesNoFaultAndNoProcess(t *testing.T) {
	t.Parallel() // beside the other tests that start ensembles, two at a time
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
	assert.Empty(t, localtest.Servers(t, out.Dir))
}

// TestRollingUpgradeUnderLoadUpgradesTheLeaderLast runs the shipped rolling
// upgrade, its first fault only (so the run ends on the new version), and
// checks that every node was restarted on it and synced, the leader last,
// with the register still linearizable; and that each server then runs the
// new distribution's jars, read from its command line in /proc while the
// run goes on.
func TestRollingUpgradeUnderLoadUpgradesTheLeaderLast(t *testing.T) {
	t.Parallel() // beside the other tests that start ensembles, two at a time
	localtest.RequireZooKeeper(t)
	if _, err := exec.LookPath("apt-get"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip("the scenario fetches Debian packages with apt-get:", err)
	}
	s, err := scenarios.Load("../scenarios/rolling-upgrade.yaml")
	require.NoError(t, err)
	require.EqualValues(t, "upgrade", s.Nemesis.Faults[0].Kind)
	s.Nemesis.Faults = s.Nemesis.Faults[:1]
	s.Nemesis.Warmup = 3 * time.Second
	s.Nemesis.Interval = time.Hour // one injection
	// The three restarts take about 3 s after the warm-up; the rest of the
	// run is load on the new version.
	s.TimeLimit = 15 * time.Second
	s.Recovery = 2 * time.Second

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b, err := local.FindDistribution(ctx, s.Nemesis.Faults[0].To)
	require.NoError(t, err)
	outDir := t.TempDir()
	classpaths := make(chan []string, 1)
	go func() {
		// Once every node's upgrade has completed, read the servers'
		// command lines.
		defer close(classpaths)
		for ctx.Err() == nil {
			time.Sleep(200 * time.Millisecond)
			// The servers' command lines name the real run directory.
			runDir, err := filepath.EvalSymlinks(filepath.Join(outDir, s.Name, reports.LatestLink))
			if err != nil {
				continue
			}
			read, err := history.ReadFile(filepath.Join(runDir, history.FileName))
			if err != nil || len(upgradeCompletions(read.Ops)) < 3 {
				continue
			}
			pids, err := local.Servers(runDir)
			if err != nil {
				return
			}
			var cps []string
			for _, pid := range pids {
				cps = append(cps, classpathOf(pid))
			}
			classpaths <- cps
			return
		}
	}()
	out, err := Run(ctx, Options{Scenario: s, OutDir: outDir, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	require.NoError(t, err)
	res := out.Results
	assert.Equal(t, checker.Valid, res.Verdict, "%s", res.Check.Message)
	assert.Equal(t, "debian 3.8.0-11+deb12u1", res.Distribution)
	require.Len(t, res.Builds, 3, "every server said what it runs")
	for node, build := range res.Builds {
		assert.Regexp(t, `^3\.8\.0-\S+, built on .+ -> 3\.9\.3-\S+, built on .+$`, build, "%s's srvr, first and last", node)
	}

	read, err := history.ReadFile(filepath.Join(out.Dir, history.FileName))
	require.NoError(t, err)
	var leader string
	var upgraded []string
	invoked := map[string]int64{}
	for _, op := range read.Ops {
		switch {
		case op.F == history.FRoles:
			leader = ""
			for n, r := range op.Roles {
				if r == "leader" {
					leader = n
				}
			}
		case op.F == "upgrade" && op.Type == history.Invoke:
			require.Len(t, op.Fault.Targets, 1)
			node := op.Fault.Targets[0]
			invoked[node] = op.Time
			if len(upgraded) == 2 {
				assert.Equal(t, leader, node, "the leader at the time is upgraded last")
			} else {
				assert.NotEqual(t, leader, node, "followers first")
			}
			upgraded = append(upgraded, node)
		case op.F == "upgrade":
			assert.Equal(t, history.OK, op.Type, "%s synced: %s", op.Fault.Targets, op.Error)
			assert.Equal(t, "debian 3.8.0-11+deb12u1 -> debian 3.9.3-1+deb13u1", op.Fault.Detail)
			t.Logf("%s upgraded in %v", op.Fault.Targets[0], time.Duration(op.Time-invoked[op.Fault.Targets[0]]).Round(time.Millisecond))
		}
	}
	assert.ElementsMatch(t, []string{"n1", "n2", "n3"}, upgraded, "every node once")
	assert.Len(t, upgradeCompletions(read.Ops), 3)

	cps := <-classpaths
	require.Len(t, cps, 3, "three servers seen after the upgrade")
	for _, cp := range cps {
		assert.Equal(t, strings.Join(b.Classpath, ":"), cp, "every server runs the new jars")
	}
	assert.Empty(t, localtest.Servers(t, out.Dir))
}

// upgradeCompletions returns the completions of upgrade steps.
func upgradeCompletions(ops []history.Op) []history.Op {
	var out []history.Op
	for _, op := range ops {
		if op.IsNemesis() && op.F == "upgrade" && op.Type != history.Invoke {
			out = append(out, op)
		}
	}
	return out
}

// classpathOf returns the -cp argument of a running process, or "" when it
// cannot be read.
func classpathOf(pid int) string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	if i := slices.Index(args, "-cp"); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

func TestUnfetchableUpgradeTargetFailsBeforeAnythingStarts(t *testing.T) {
	localtest.RequireZooKeeper(t)
	if _, err := exec.LookPath("apt-cache"); err != nil {
		t.Skip("needs apt-cache:", err)
	}
	s, err := scenarios.Parse("u.yaml", "u", []byte("nemesis:\n  faults: [{name: upgrade, to: debian=0.0-0}]\n"))
	require.NoError(t, err)
	outDir := t.TempDir()
	out, err := Run(context.Background(), Options{Scenario: s, OutDir: outDir})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a fault restarts nodes on debian=0.0-0")
	assert.Contains(t, err.Error(), "apt knows")
	assert.Empty(t, out.Dir)
	entries, err := os.ReadDir(outDir)
	require.NoError(t, err)
	assert.Empty(t, entries, "no run directory, no server")
}
