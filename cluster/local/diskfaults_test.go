package local

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster"
)

// writeTimeout bounds one create under a disk fault.
const writeTimeout = 5 * time.Second

// timedCreates creates n sequential znodes under prefix through conn and
// returns the median time a create took; an error is the first create that
// failed or took longer than writeTimeout.
func timedCreates(conn *zk.Conn, prefix string, n int) (time.Duration, error) {
	var took []time.Duration
	for i := range n {
		start := time.Now()
		done := make(chan error, 1)
		go func() {
			_, err := conn.Create(fmt.Sprintf("%s%d", prefix, i), []byte("v"), 0, zk.WorldACL(zk.PermAll))
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				return 0, fmt.Errorf("create %s%d: %w", prefix, i, err)
			}
		case <-time.After(writeTimeout):
			return 0, fmt.Errorf("create %s%d: no answer within %s", prefix, i, writeTimeout)
		}
		took = append(took, time.Since(start))
	}
	return took[len(took)/2], nil
}

// healDisk clears the node's disk faults, starts its server if the fault
// made it exit, and waits until the ensemble is healthy.
func healDisk(t *testing.T, e *Ensemble, n cluster.Node) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, e.SetDiskFaults(ctx, n, cluster.DiskFaults{}))
	if !e.Running(n) {
		require.NoError(t, e.Start(ctx, n))
	}
	_, err := e.WaitHealthy(ctx, waitTimeout)
	require.NoError(t, err)
}

// roleAfter watches the node for up to d and returns its role and whether
// its server still runs, as soon as it is no longer in role was or has
// exited.
func roleAfter(e *Ensemble, n cluster.Node, was cluster.Role, d time.Duration) (cluster.Role, bool) {
	deadline := time.Now().Add(d)
	for {
		role, running := e.Roles(context.Background())[n.Name], e.Running(n)
		if role != was || !running || time.Now().After(deadline) {
			return role, running
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logSize is how long the node's zookeeper.log is now.
func logSize(t *testing.T, e *Ensemble, n cluster.Node) int64 {
	t.Helper()
	st, err := os.Stat(e.LogPath(n))
	require.NoError(t, err)
	return st.Size()
}

// logErrors logs the first ERROR lines the node's zookeeper.log gained
// past offset off.
func logErrors(t *testing.T, e *Ensemble, n cluster.Node, off int64) {
	t.Helper()
	b, err := os.ReadFile(e.LogPath(n))
	require.NoError(t, err)
	shown := 0
	for line := range strings.SplitSeq(string(b[min(off, int64(len(b))):]), "\n") {
		if strings.Contains(line, "ERROR") && shown < 6 {
			t.Logf("  %s: %s", n.Name, truncate(line, 240))
			shown++
		}
	}
}

// slowCreates sets the faults on nodes, measures the median create through
// conn under them, and heals.
func slowCreates(t *testing.T, e *Ensemble, conn *zk.Conn, nodes []cluster.Node, f cluster.DiskFaults, prefix string) time.Duration {
	t.Helper()
	for _, n := range nodes {
		require.NoError(t, e.SetDiskFaults(context.Background(), n, f))
	}
	took, err := timedCreates(conn, prefix, 5)
	require.NoError(t, err)
	for _, n := range nodes {
		healDisk(t, e, n)
	}
	return took
}

// TestDiskFaultsOnARunningEnsemble injects each disk fault on a real
// ensemble under a few writes, logs what ZooKeeper did and heals.
func TestDiskFaultsOnARunningEnsemble(t *testing.T) {
	e := startTestEnsemble(t, diskConfig(t, true))
	require.NoError(t, cluster.Supports(e, cluster.CapDiskIO))
	ctx := context.Background()
	leader, followers := splitByLeader(t, e)
	conn := connect(t, followers[0])
	base, err := timedCreates(conn, "/base", 5)
	require.NoError(t, err)
	const d = 200 * time.Millisecond

	one := slowCreates(t, e, conn, followers[:1], cluster.DiskFaults{FsyncDelay: d}, "/fsync-one")
	lead := slowCreates(t, e, conn, []cluster.Node{leader}, cluster.DiskFaults{FsyncDelay: d}, "/fsync-leader")
	both := slowCreates(t, e, conn, followers, cluster.DiskFaults{FsyncDelay: d}, "/fsync-followers")
	t.Logf("fsync-delay %s, median create through a follower: none %s, on that follower %s, on the leader %s, on both followers %s",
		d, base, one, lead, both)
	require.Less(t, one, d, "one slow disk of three: the other two make the quorum")
	require.Less(t, lead, d, "the leader's own log sync is not on the quorum's path")
	require.GreaterOrEqual(t, both, d, "with both followers slow, every commit waits for one of them")
	wOne := slowCreates(t, e, conn, followers[:1], cluster.DiskFaults{WriteDelay: d}, "/write-one")
	wBoth := slowCreates(t, e, conn, followers, cluster.DiskFaults{WriteDelay: d}, "/write-followers")
	t.Logf("write-delay %s, median create: on the follower written through %s, on both followers %s", d, wOne, wBoth)
	require.Less(t, wOne, d)
	require.GreaterOrEqual(t, wBoth, d)

	leader, followers = splitByLeader(t, e)
	conn = connect(t, followers[0])
	off := logSize(t, e, leader)
	require.NoError(t, e.SetDiskFaults(ctx, leader, cluster.DiskFaults{FsyncErrors: 1}))
	_, errErr := timedCreates(conn, "/disk-error", 3)
	role, running := roleAfter(e, leader, cluster.Leader, 10*time.Second)
	t.Logf("disk-error on the leader's fsyncs: creates: %v; the leader is then %q, running %v", errErr, role, running)
	logErrors(t, e, leader, off)
	require.False(t, role == cluster.Leader && running, "a leader that cannot sync its log does not stay leader")
	healDisk(t, e, leader)

	leader, followers = splitByLeader(t, e)
	conn = connect(t, leader)
	full := followers[0]
	off = logSize(t, e, full)
	require.NoError(t, e.SetDiskFaults(ctx, full, cluster.DiskFaults{Full: true}))
	_, fullErr := timedCreates(conn, "/disk-full", 3)
	role, running = roleAfter(e, full, cluster.Follower, 10*time.Second)
	t.Logf("disk-full on a follower: creates through the leader: %v; the follower is then %q, running %v", fullErr, role, running)
	logErrors(t, e, full, off)
	require.NoError(t, fullErr, "the leader and the other follower make the quorum")
	healDisk(t, e, full)
	_, err = timedCreates(connect(t, full), "/after", 3)
	require.NoError(t, err, "writes go through the node again")
}
