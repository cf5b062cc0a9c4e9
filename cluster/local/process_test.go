package local

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/internal/proc"
)

const (
	helperDirEnv   = "ZKCHAOS_HELPER_RUN_DIR"
	helperClockEnv = "ZKCHAOS_HELPER_CLOCK"
)

// TestHelperHarness is the harness process of the tests that kill one: it
// starts an ensemble (one node with clock control when helperClockEnv is
// set, else three), prints its pids and waits to be killed.
func TestHelperHarness(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("helper process of TestHarnessDeathKillsServers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := Config{Dir: dir, Distribution: os.Getenv("ZKCHAOS_DISTRIBUTION")}
	if os.Getenv(helperClockEnv) != "" {
		cfg.Nodes, cfg.Clock = 1, true
	}
	e, err := Start(ctx, cfg)
	require.NoError(t, err)
	b, err := json.Marshal(e.PIDs())
	require.NoError(t, err)
	fmt.Printf("ZKCHAOS_PIDS %s\n", b)
	<-ctx.Done() // killed long before
	_ = e.Close(context.Background())
}

// startHelperHarness runs TestHelperHarness in a process of its own with
// the extra environment and returns it with the pids of its servers.
func startHelperHarness(ctx context.Context, t *testing.T, dir string, env ...string) (*exec.Cmd, map[string]int) {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperHarness$", "-test.v")
	cmd.Env = append(append(os.Environ(), helperDirEnv+"="+dir, "ZKCHAOS_DISTRIBUTION="+testDistribution(t)), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var pids map[string]int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if js, ok := strings.CutPrefix(sc.Text(), "ZKCHAOS_PIDS "); ok {
			require.NoError(t, json.Unmarshal([]byte(js), &pids))
			break
		}
		t.Log("helper: " + sc.Text())
	}
	return cmd, pids
}

func TestHarnessDeathKillsServers(t *testing.T) {
	testDistribution(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd, pids := startHelperHarness(ctx, t, dir)
	require.Len(t, pids, 3, "the helper harness did not report its servers")
	for _, pid := range pids {
		require.True(t, proc.Alive(pid))
	}

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	// The servers die with the harness (Pdeathsig), without anyone's help.
	require.Eventually(t, func() bool {
		for _, pid := range pids {
			if proc.Alive(pid) {
				return false
			}
		}
		return true
	}, 30*time.Second, 50*time.Millisecond, "servers %v outlived their harness", pids)
	left, err := serversOf(dir)
	require.NoError(t, err)
	assert.Empty(t, left)
}

func TestKillLeftovers(t *testing.T) {
	e := startTestEnsemble(t, testConfig(t, 3))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var want []int
	for _, pid := range e.PIDs() {
		want = append(want, pid)
	}

	none, err := KillLeftovers(ctx, t.TempDir())
	require.NoError(t, err)
	assert.Empty(t, none.Killed, "another run directory has no servers")

	left, err := KillLeftovers(ctx, e.cfg.Dir)
	require.NoError(t, err)
	assert.ElementsMatch(t, want, left.Killed)
	assert.Empty(t, left.Running)
	for _, pid := range left.Killed {
		assert.False(t, proc.Alive(pid))
	}

	// To the ensemble, servers killed behind its back have crashed:
	// WaitHealthy says so at once instead of waiting out its timeout.
	start := time.Now()
	_, err = e.WaitHealthy(ctx, 40*time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exited on its own")
	assert.Contains(t, err.Error(), "signal: killed")
	assert.Less(t, time.Since(start), 30*time.Second)
}

func TestStartHonoursCancellation(t *testing.T) {
	cfg := testConfig(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Start(ctx, cfg)
	require.ErrorIs(t, err, context.Canceled)

	cfg = testConfig(t, 3)
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = Start(ctx, cfg)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	left, err := serversOf(cfg.Dir)
	require.NoError(t, err)
	assert.Empty(t, left, "a start cut short leaves no server behind")
}
