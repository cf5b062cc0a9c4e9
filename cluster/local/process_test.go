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
)

const helperDirEnv = "ZKCHAOS_HELPER_RUN_DIR"

// TestHelperHarness is the harness process of TestHarnessDeathKillsServers:
// it starts an ensemble, prints its pids and waits to be killed.
func TestHelperHarness(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("helper process of TestHarnessDeathKillsServers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e, err := Start(ctx, Config{Dir: dir, Distribution: os.Getenv("ZKCHAOS_DISTRIBUTION")})
	require.NoError(t, err)
	b, err := json.Marshal(e.PIDs())
	require.NoError(t, err)
	fmt.Printf("ZKCHAOS_PIDS %s\n", b)
	<-ctx.Done() // killed long before
	_ = e.Close(context.Background())
}

func TestHarnessDeathKillsServers(t *testing.T) {
	dist := testDistribution(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperHarness$", "-test.v")
	cmd.Env = append(os.Environ(), helperDirEnv+"="+dir, "ZKCHAOS_DISTRIBUTION="+dist)
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
	require.Len(t, pids, 3, "the helper harness did not report its servers")
	for _, pid := range pids {
		require.True(t, alive(pid))
	}

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	// The servers die with the harness (Pdeathsig), without anyone's help.
	require.Eventually(t, func() bool {
		for _, pid := range pids {
			if alive(pid) {
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
	assert.Empty(t, none, "another run directory has no servers")

	killed, err := KillLeftovers(ctx, e.cfg.Dir)
	require.NoError(t, err)
	assert.ElementsMatch(t, want, killed)
	for _, pid := range killed {
		assert.False(t, alive(pid))
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
