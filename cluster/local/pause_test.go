package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/zkadmin"
)

// preparedEnsemble returns an ensemble of n nodes whose files are written
// but whose servers never start: for tests of bookkeeping, no JVM needed.
func preparedEnsemble(t *testing.T, n int) *Ensemble {
	t.Helper()
	cfg, err := Config{Dir: t.TempDir(), Nodes: n}.withDefaults()
	require.NoError(t, err)
	e, err := prepare(cfg, Distribution{})
	require.NoError(t, err)
	return e
}

// adoptProcess makes a plain process (not a server) the current run of the
// ensemble's first node, the way spawnLocked does.
func adoptProcess(t *testing.T, e *Ensemble, argv ...string) *process {
	t.Helper()
	n := e.nodes[0]
	p, err := startProcess(e.guard, argv, n.dir, nil, n.logPath, func(p *process) { e.exited(n, p) })
	require.NoError(t, err)
	e.mu.Lock()
	n.proc = p
	e.mu.Unlock()
	t.Cleanup(func() {
		_ = p.kill()
		_ = syscall.Kill(-p.pid, syscall.SIGCONT)
		<-p.done
	})
	return p
}

func TestPauseNeedsARunningNode(t *testing.T) {
	e := preparedEnsemble(t, 1)
	ctx := context.Background()
	n := e.Nodes()[0]

	err := e.Pause(ctx, n)
	assert.ErrorIs(t, err, ErrNotRunning)
	assert.ErrorContains(t, err, "pause n1")
	assert.False(t, e.Paused(n))
	assert.NoError(t, e.Resume(ctx, n), "resuming a node that is not running does nothing")

	stranger := cluster.Node{ID: 9, Name: "n9"}
	assert.ErrorContains(t, e.Pause(ctx, stranger), `no node "n9"`)
	assert.ErrorContains(t, e.Resume(ctx, stranger), `no node "n9"`)
	assert.False(t, e.Paused(stranger))
}

func TestPauseStopsEveryThreadAndKillAndCloseStillWork(t *testing.T) {
	e := preparedEnsemble(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := e.Nodes()[0]

	p := adoptProcess(t, e, "sleep", "600")
	require.NoError(t, e.Pause(ctx, n))
	assert.True(t, e.Paused(n))
	stopped, err := allThreadsStopped(p.pid)
	require.NoError(t, err)
	assert.True(t, stopped, "Pause returns once every thread is stopped")
	require.NoError(t, e.Pause(ctx, n), "pausing a paused node does nothing")

	require.NoError(t, e.Resume(ctx, n))
	assert.False(t, e.Paused(n))
	require.Eventually(t, func() bool {
		state, ok := procState(fmt.Sprintf("/proc/%d/stat", p.pid))
		return ok && state != 'T' && state != 't'
	}, 5*time.Second, 10*time.Millisecond, "the process runs again")

	// SIGKILL ends a stopped process: Kill of a paused node works.
	require.NoError(t, e.Pause(ctx, n))
	require.NoError(t, e.Kill(ctx, n))
	assert.False(t, e.Running(n))
	assert.False(t, e.Paused(n), "a killed node is not paused")
	assert.ErrorIs(t, syscall.Kill(p.pid, 0), syscall.ESRCH)

	// Close ends a paused node too.
	q := adoptProcess(t, e, "sleep", "600")
	require.NoError(t, e.Pause(ctx, n))
	require.NoError(t, e.Close(ctx))
	assert.ErrorIs(t, syscall.Kill(q.pid, 0), syscall.ESRCH)
	assert.False(t, e.Paused(n))
	assert.ErrorContains(t, e.Pause(ctx, n), "closed")
}

// srvrRoles asks the given nodes only for their roles, each with a short
// deadline.
func srvrRoles(ctx context.Context, nodes []cluster.Node) map[string]cluster.Role {
	roles := make(map[string]cluster.Role, len(nodes))
	for _, n := range nodes {
		rctx, cancel := context.WithTimeout(ctx, roleTimeout)
		roles[n.Name], _ = zkadmin.Srvr(rctx, n.ClientAddr)
		cancel()
	}
	return roles
}

func TestPausedNodeStopsAnswering(t *testing.T) {
	t.Parallel() // waits out timeouts; see waitTimeout
	e := startTestEnsemble(t, testConfig(t, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	leader, followers := splitByLeader(t, e)
	paused := followers[0]
	pid := e.PIDs()[paused.Name]

	require.NoError(t, e.Pause(ctx, paused))
	assert.True(t, e.Paused(paused))
	assert.True(t, e.Running(paused), "a paused server still runs")
	stopped, err := allThreadsStopped(pid)
	require.NoError(t, err)
	assert.True(t, stopped, "every JVM thread is stopped")

	// The kernel still accepts the connection, but nobody answers.
	sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
	_, err = zkadmin.Srvr(sctx, paused.ClientAddr)
	scancel()
	assert.ErrorIs(t, err, context.DeadlineExceeded, "srvr to a paused server times out")
	roles := e.Roles(ctx)
	assert.Equal(t, cluster.Down, roles[paused.Name])
	assert.Equal(t, leader.Name, cluster.LeaderOf(roles), "the leader and one follower keep the quorum: %v", roles)
	_, err = e.WaitHealthy(ctx, 1500*time.Millisecond)
	assert.ErrorContains(t, err, fmt.Sprintf("node %s (paused) is down", paused.Name))

	conn := connect(t, leader)
	_, err = conn.Create("/written-while-paused", []byte("v"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err, "the quorum takes writes while a follower is paused")

	require.NoError(t, e.Resume(ctx, paused))
	assert.False(t, e.Paused(paused))
	require.NoError(t, e.Resume(ctx, paused), "resuming a running node is harmless")
	took, err := e.WaitHealthy(ctx, waitTimeout)
	require.NoError(t, err)
	t.Logf("resumed %s; ensemble healthy again after %v", paused.Name, took)
	// Just after SIGCONT the server works through the connections that
	// queued while it was frozen (their clients gave up long ago) and may
	// find that its leader dropped it, so for a moment srvr may get an empty
	// reply or "not serving": ask until it follows again.
	var role cluster.Role
	require.Eventually(t, func() bool {
		role, err = zkadmin.Srvr(ctx, paused.ClientAddr)
		return err == nil && role == cluster.Follower
	}, waitTimeout, 100*time.Millisecond, "the resumed node follows again: %v %v", role, err)
	assert.Equal(t, pid, e.PIDs()[paused.Name], "the same process: paused, never restarted")

	c := connect(t, paused)
	_, err = c.Sync("/")
	require.NoError(t, err)
	data, _, err := c.Get("/written-while-paused")
	require.NoError(t, err)
	assert.Equal(t, "v", string(data), "the resumed follower caught up")
}

func TestPausedLeaderIsReplaced(t *testing.T) {
	t.Parallel() // waits out timeouts; see waitTimeout
	e := startTestEnsemble(t, testConfig(t, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	leader, survivors := splitByLeader(t, e)
	syncTimeout := time.Duration(e.cfg.SyncLimit) * e.cfg.TickTime

	pausedAt := time.Now()
	require.NoError(t, e.Pause(ctx, leader))
	// Only the survivors are asked: a paused node costs a whole srvr timeout
	// per question, which would blur the measurement.
	var roles map[string]cluster.Role
	require.Eventually(t, func() bool {
		roles = srvrRoles(ctx, survivors)
		l, f := rolesCount(roles)
		return l == 1 && f == 1
	}, 2*waitTimeout, 50*time.Millisecond, "the survivors elect no leader while %s is paused", leader.Name)
	toNewLeader := time.Since(pausedAt)
	newLeader := cluster.LeaderOf(roles)
	t.Logf("paused leader %s; %s leads after %v (syncLimit*tickTime = %v)", leader.Name, newLeader, toNewLeader, syncTimeout)
	assert.Equal(t, cluster.Down, e.Roles(ctx)[leader.Name])

	conn := connect(t, survivors[0])
	_, err := conn.Create("/written-while-leader-paused", []byte("v"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err, "the survivors take writes")

	resumedAt := time.Now()
	require.NoError(t, e.Resume(ctx, leader))
	// What the old leader says the moment it thaws (it learns only then
	// that it lost its followers).
	if role, err := zkadmin.Srvr(ctx, leader.ClientAddr); err == nil {
		t.Logf("%s right after resume says %s", leader.Name, role)
	}
	_, err = e.WaitHealthy(ctx, 2*waitTimeout)
	require.NoError(t, err)
	t.Logf("resumed %s; ensemble fully healthy %v after resume (%v after the pause)",
		leader.Name, time.Since(resumedAt), time.Since(pausedAt).Round(time.Millisecond))
	roles = e.Roles(ctx)
	assert.Equal(t, cluster.Follower, roles[leader.Name], "the old leader rejoins as a follower: %v", roles)

	c := connect(t, leader)
	_, err = c.Sync("/")
	require.NoError(t, err)
	data, _, err := c.Get("/written-while-leader-paused")
	require.NoError(t, err)
	assert.Equal(t, "v", string(data))
}

func TestCloseResumesPausedNodes(t *testing.T) {
	e := startTestEnsemble(t, testConfig(t, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nodes := e.Nodes()

	// A paused node can be killed, and started again.
	require.NoError(t, e.Pause(ctx, nodes[0]))
	oldPID := e.PIDs()[nodes[0].Name]
	require.NoError(t, e.Kill(ctx, nodes[0]))
	assert.False(t, e.Running(nodes[0]))
	assert.False(t, e.Paused(nodes[0]))
	assert.ErrorIs(t, syscall.Kill(oldPID, 0), syscall.ESRCH, "the paused JVM is gone")
	require.NoError(t, e.Start(ctx, nodes[0]))
	_, err := e.WaitHealthy(ctx, waitTimeout)
	require.NoError(t, err, "a paused-then-killed node starts and rejoins")
	assert.False(t, e.Paused(nodes[0]))

	// Two paused nodes (no quorum left), then Close.
	pids := e.PIDs()
	require.Len(t, pids, 3)
	require.NoError(t, e.Pause(ctx, nodes[0]))
	require.NoError(t, e.Pause(ctx, nodes[1]))
	require.NoError(t, e.Close(ctx))

	assert.Empty(t, e.PIDs())
	for _, n := range nodes {
		assert.False(t, e.Paused(n))
		assert.Error(t, e.Pause(ctx, n), "Pause after Close")
	}
	for name, pid := range pids {
		assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "process of %s (pid %d) still exists", name, pid)
		assert.ErrorIs(t, syscall.Kill(-pid, 0), syscall.ESRCH, "process group of %s (pid %d) still exists", name, pid)
		_, err := os.Stat(filepath.Join("/proc", fmt.Sprint(pid)))
		assert.True(t, errors.Is(err, os.ErrNotExist), "/proc/%d exists", pid)
	}
	assert.Empty(t, processesMentioning(t, e.cfg.Dir), "processes started for this ensemble are still running (or stopped)")
}
