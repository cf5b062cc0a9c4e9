package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/local/diskfs"
)

// diskConfig returns the config of a real ensemble with disk faults, or
// skips the test with the reason FUSE cannot mount here.
func diskConfig(t *testing.T, forceSync bool) Config {
	t.Helper()
	cfg := testConfig(t, 3)
	if err := diskfs.Probe(t.TempDir()); err != nil {
		t.Skipf("no FUSE here: %v", err)
	}
	cfg.Disk, cfg.ForceSync = true, forceSync
	return cfg
}

// createZnodes creates /k0 .. /k<n-1> through node n and returns the
// connection.
func createZnodes(t *testing.T, node cluster.Node, n int) {
	t.Helper()
	conn := connect(t, node)
	for i := range n {
		_, err := conn.Create(fmt.Sprint("/k", i), []byte("v"), 0, zk.WorldACL(zk.PermAll))
		require.NoError(t, err)
	}
	conn.Close()
}

// powerLossAll cuts the power of every node, starts them again and waits
// until the ensemble is healthy.
func powerLossAll(t *testing.T, e *Ensemble) {
	t.Helper()
	ctx := context.Background()
	for _, n := range e.Nodes() {
		require.NoError(t, e.PowerLoss(ctx, n))
		require.False(t, e.Running(n))
	}
	for _, n := range e.Nodes() {
		require.NoError(t, e.Start(ctx, n))
	}
	_, err := e.WaitHealthy(ctx, waitTimeout)
	require.NoError(t, err)
}

func TestPowerLossKeepsWhatWasSynced(t *testing.T) {
	e := startTestEnsemble(t, diskConfig(t, true))
	require.NoError(t, e.Can(cluster.CapDisk))
	require.NoError(t, cluster.Supports(e, cluster.CapDisk))
	createZnodes(t, e.Nodes()[0], 20)
	powerLossAll(t, e)
	conn := connect(t, e.Nodes()[1])
	children, _, err := conn.Children("/")
	require.NoError(t, err)
	require.Subset(t, children, []string{"k0", "k19"}, "acknowledged writes were fsynced by a quorum")

	n1 := e.Nodes()[0]
	require.NoError(t, e.Close(context.Background()))
	mounts, err := staleDisks(e.cfg.Dir)
	require.NoError(t, err)
	require.Empty(t, mounts, "Close unmounts")
	_, err = os.Stat(filepath.Join(e.cfg.Dir, "nodes", n1.Name, "data", "myid"))
	require.NoError(t, err, "the data is back in the data directory")
	_, err = os.Stat(filepath.Join(e.cfg.Dir, "nodes", n1.Name, diskBacking))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestPowerLossWithoutForceSyncLosesAcknowledgedWrites(t *testing.T) {
	e := startTestEnsemble(t, diskConfig(t, false))
	createZnodes(t, e.Nodes()[0], 20)
	var fsyncs, unsynced int64
	for _, n := range e.Nodes() {
		s := e.Disk(n).Stats()
		fsyncs, unsynced = fsyncs+s.Fsyncs, unsynced+s.Unsynced
	}
	t.Logf("before the power loss: %d fsyncs, %d bytes unsynced", fsyncs, unsynced)
	require.Positive(t, unsynced, "with zookeeper.forceSync=no the transaction logs stay unsynced")
	powerLossAll(t, e)
	conn := connect(t, e.Nodes()[1])
	children, _, err := conn.Children("/")
	require.NoError(t, err)
	require.NotContains(t, children, "k19", "the acknowledged write is lost")
}

func TestHealUnmountsStaleDisks(t *testing.T) {
	dir := t.TempDir()
	if err := diskfs.Probe(dir); err != nil {
		t.Skipf("no FUSE here: %v", err)
	}
	nodeDir := filepath.Join(dir, "nodes", "n1")
	data, backing := filepath.Join(nodeDir, "data"), filepath.Join(nodeDir, diskBacking)
	require.NoError(t, os.MkdirAll(data, 0o755))
	require.NoError(t, os.MkdirAll(backing, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(backing, "myid"), []byte("1\n"), 0o644))
	_, err := diskfs.Mount(backing, data, diskfs.Options{})
	require.NoError(t, err)
	mounts, err := staleDisks(dir)
	require.NoError(t, err)
	require.Equal(t, []string{data}, mounts)

	left, err := HealRuns(context.Background(), dir, nil)
	require.NoError(t, err)
	require.Len(t, left, 1)
	require.Equal(t, []string{data}, left[0].Disks)
	mounts, err = staleDisks(dir)
	require.NoError(t, err)
	require.Empty(t, mounts)
	got, err := os.ReadFile(filepath.Join(data, "myid"))
	require.NoError(t, err)
	require.Equal(t, "1\n", string(got), "the data is back in the data directory")
}

func TestUnescapeMount(t *testing.T) {
	require.Equal(t, "/tmp/a b\\c", unescapeMount(`/tmp/a\040b\134c`))
	require.Equal(t, "/plain", unescapeMount("/plain"))
}
