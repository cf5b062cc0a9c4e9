package sequential

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/linearizable"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/checkertest"
)

func staleDetails(t *testing.T, r checker.Result) StaleReadsDetails {
	t.Helper()
	d, ok := r.Details.(StaleReadsDetails)
	require.True(t, ok, "details are %T", r.Details)
	return d
}

func TestStaleReadsAreCountedAndAllowed(t *testing.T) {
	ops := checkertest.Hist(
		checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1),
		checkertest.WriteOK(1, checkertest.Key, 2, 20, 30, 2),
		checkertest.WriteOK(1, checkertest.Key, 3, 40, 50, 3),
		onNode("n2", checkertest.ReadOK(2, checkertest.Key, 60, 70, 1, 1)),  // two versions behind, 30 ms after v2 was acknowledged
		onNode("n2", checkertest.ReadOK(2, checkertest.Key, 80, 90, 2, 2)),  // one behind
		onNode("n1", checkertest.ReadOK(3, checkertest.Key, 80, 90, 3, 3)),  // current
		onNode("n3", checkertest.ReadOK(4, checkertest.Key, 45, 100, 2, 2)), // concurrent with the write of v3: not stale
		onNode("n3", checkertest.ReadOK(4, "other", 0, 5, 0, 0)),
	)
	r := StaleReads{ReadMode: linearizable.ReadPlain}.Check(context.Background(), ops)
	assert.Equal(t, "stale-reads", r.Checker)
	assert.Equal(t, checker.Valid, r.Verdict, "stale plain reads are allowed by ZooKeeper")
	assert.Equal(t, "2 stale reads (allowed by ZooKeeper: plain reads are served by the connected server) among 5 ok reads; "+
		"at worst 2 versions behind, or 30ms after a newer write was acknowledged.", r.Message)
	d := staleDetails(t, r)
	assert.Equal(t, 5, d.ReadsChecked)
	assert.Equal(t, 2, d.Stale)
	assert.Equal(t, map[string]int{"n2": 2}, d.ByNode)
	assert.Equal(t, int32(2), d.MaxVersionsBehind)
	assert.Equal(t, 30*time.Millisecond, d.MaxLag)
	require.Len(t, d.Examples, 2)
	first := d.Examples[0]
	assert.Equal(t, StaleRead{Key: checkertest.Key, Node: "n2", ReadVersion: 1, LatestVersion: 3, VersionsBehind: 2, Lag: 30 * time.Millisecond},
		StaleRead{Key: first.Key, Node: first.Node, ReadVersion: first.ReadVersion, LatestVersion: first.LatestVersion,
			VersionsBehind: first.VersionsBehind, Lag: first.Lag})
	assert.Equal(t, int64(60*checkertest.Msec), first.Read.Invoke.Time)
	assert.Equal(t, int64(50*checkertest.Msec), first.Latest.Complete.Time)
	assert.Equal(t, int64(3), *first.Latest.Invoke.Value)
	_, err := json.Marshal(r)
	assert.NoError(t, err)
}

func TestNoStaleReadsIsReportedAsZero(t *testing.T) {
	ops := checkertest.Hist(
		checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1),
		checkertest.ReadOK(2, checkertest.Key, 5, 8, 0, 0), // invoked before the write was acknowledged
		checkertest.ReadOK(2, checkertest.Key, 20, 30, 1, 1),
		checkertest.WriteInfo(1, checkertest.Key, 2, 40, 50), // never acknowledged: cannot make a read stale
		checkertest.ReadOK(2, checkertest.Key, 60, 70, 1, 1), // ... even though it may have happened
		checkertest.CASConflict(3, checkertest.Key, 9, 0, 80, 90),
		checkertest.ReadOK(2, checkertest.Key, 100, 110, 1, 1),
	)
	for _, mode := range []string{"", linearizable.ReadPlain, linearizable.ReadSync, linearizable.ReadQuorum} {
		r := StaleReads{ReadMode: mode}.Check(context.Background(), ops)
		assert.Equal(t, checker.Valid, r.Verdict)
		assert.Contains(t, r.Message, "0 stale reads (")
		assert.Contains(t, r.Message, "among 4 ok reads")
		d := staleDetails(t, r)
		assert.Zero(t, d.Stale)
		assert.Empty(t, d.Examples)
		assert.Equal(t, 4, d.ReadsChecked)
	}
}

func TestStaleReadsMessagePerReadMode(t *testing.T) {
	ops := checkertest.Hist(
		checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1),
		checkertest.ReadOK(2, checkertest.Key, 20, 30, 0, 0),
	)
	for mode, want := range map[string]string{
		"":                      "1 stale read (allowed by ZooKeeper: plain reads are served by the connected server) among 1 ok read",
		linearizable.ReadPlain:  "1 stale read (allowed by ZooKeeper: plain reads are served by the connected server) among 1 ok read",
		linearizable.ReadSync:   "sync narrows the window but does not close it (ZOOKEEPER-1675)",
		linearizable.ReadQuorum: "1 stale read (quorum reads are confirmed through the leader, so there should be none; any would also fail the linearizable check)",
	} {
		r := StaleReads{ReadMode: mode}.Check(context.Background(), ops)
		assert.Equal(t, checker.Valid, r.Verdict, "the count never fails a run; in quorum mode the linearizable checker does")
		assert.Contains(t, r.Message, want, "mode %q", mode)
		if mode == "" {
			assert.Equal(t, linearizable.ReadPlain, staleDetails(t, r).ReadMode)
		}
	}
}

func TestStaleReadsKeepTenExamples(t *testing.T) {
	groups := [][]history.Op{checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)}
	for i := range int64(25) {
		groups = append(groups, checkertest.ReadOK(2, checkertest.Key, 20+2*i, 21+2*i, 0, 0))
	}
	r := StaleReads{}.Check(context.Background(), checkertest.Hist(groups...))
	assert.Equal(t, checker.Valid, r.Verdict)
	d := staleDetails(t, r)
	assert.Equal(t, 25, d.Stale)
	assert.Len(t, d.Examples, staleExamples)
}

func TestStaleReadsIgnoreMalformedAndForeignRecords(t *testing.T) {
	noVersion := checkertest.ReadOK(2, checkertest.Key, 20, 30, 0, 0)
	noVersion[1].Version = nil
	ops := checkertest.Hist(
		checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1),
		noVersion,
		checkertest.ReadInfo(3, checkertest.Key, 20, 30),
		checkertest.Nemesis("kill", "kill leader", 5, 6, "n1"),
		[]history.Op{{Type: history.Invoke, F: "enqueue", Process: 4, Time: 1}, {Type: history.OK, F: "enqueue", Process: 4, Time: 2}},
	)
	r := StaleReads{}.Check(context.Background(), ops)
	assert.Equal(t, checker.Valid, r.Verdict)
	assert.Equal(t, 0, staleDetails(t, r).ReadsChecked)
}

func TestStaleReadsCancelledIsUnknown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	groups := [][]history.Op{checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)}
	for i := range int64(5000) {
		groups = append(groups, checkertest.ReadOK(2, checkertest.Key, 20+2*i, 21+2*i, 1, 1))
	}
	r := StaleReads{}.Check(ctx, checkertest.Hist(groups...))
	assert.Equal(t, checker.Unknown, r.Verdict)
	assert.Contains(t, r.Message, "cancelled")
}
