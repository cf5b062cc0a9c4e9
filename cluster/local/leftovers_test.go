package local

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/internal/proc"
)

// startLoneServer starts one standalone ZooKeeper server with its zoo.cfg at
// cfgPath, written there first. When leader is false the JVM stays in the
// test's process group, as a server started by a shell or a supervisor
// would be: it leads no group of its own. The test's cleanup kills it.
func startLoneServer(t *testing.T, cfgPath string, leader bool) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dist, err := FindDistribution(ctx, testDistribution(t))
	require.NoError(t, err)
	ports, err := freePorts(1)
	require.NoError(t, err)
	dir := filepath.Dir(cfgPath)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "data"), 0o755))
	cfg := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=%s\n", filepath.Join(dir, "data"), ports[0], loopback)
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o644))
	argv := dist.Command(nil, dir, cfgPath)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: leader, Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	return cmd.Process.Pid
}

func TestKillLeftoversKillsAServerThatLeadsNoGroup(t *testing.T) {
	dir := t.TempDir()
	pid := startLoneServer(t, filepath.Join(dir, "nodes", "n1", "zoo.cfg"), false)
	pgid, err := syscall.Getpgid(pid)
	require.NoError(t, err)
	require.NotEqual(t, pid, pgid, "the server must not lead its process group")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	left, err := KillLeftovers(ctx, dir)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 10*time.Second, "killing one server must not wait out the deadline")
	assert.Equal(t, []int{pid}, left.Killed)
	assert.Empty(t, left.Running)
	assert.False(t, proc.Alive(pid))
	assert.NoError(t, syscall.Kill(os.Getpid(), 0), "the test's own process group is never signalled")
}

func TestKillLeftoversFindsServersThroughSymlinks(t *testing.T) {
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "runs")
	require.NoError(t, os.Symlink(real, link))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Started through the link, healed through the real path...
	pid := startLoneServer(t, filepath.Join(link, "r1", "nodes", "n1", "zoo.cfg"), true)
	left, err := KillLeftovers(ctx, filepath.Join(real, "r1"))
	require.NoError(t, err)
	assert.Equal(t, []int{pid}, left.Killed)

	// ...and the other way round.
	pid = startLoneServer(t, filepath.Join(real, "r2", "nodes", "n1", "zoo.cfg"), true)
	left, err = KillLeftovers(ctx, filepath.Join(link, "r2"))
	require.NoError(t, err)
	assert.Equal(t, []int{pid}, left.Killed)
	assert.False(t, proc.Alive(pid))
}

func TestKillLeftoversRemovesFaketimeSharedMemory(t *testing.T) {
	testDistribution(t)
	if _, err := FindFaketime(); err != nil {
		t.Skip(err.Error())
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd, pids := startHelperHarness(ctx, t, dir, helperClockEnv+"=1")
	require.Len(t, pids, 1, "the helper harness did not report its server")
	pid := pids["n1"]
	shm := []string{fmt.Sprintf("/dev/shm/faketime_shm_%d", pid), fmt.Sprintf("/dev/shm/sem.faketime_sem_%d", pid)}

	// A harness killed outright takes its server with it, but not the
	// files libfaketime made for it.
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	require.Eventually(t, func() bool { return !proc.Alive(pid) }, 30*time.Second, 20*time.Millisecond)
	for _, f := range shm {
		require.FileExists(t, f, "libfaketime leaves its files behind a killed server")
	}

	left, err := KillLeftovers(ctx, dir)
	require.NoError(t, err)
	assert.Empty(t, left.Killed)
	assert.ElementsMatch(t, shm, left.SharedMemory)
	for _, f := range shm {
		assert.NoFileExists(t, f)
	}
}
