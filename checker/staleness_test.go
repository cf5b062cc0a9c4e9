package checker

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zkchaos/zkchaos/history"
)

func staleDetails(t *testing.T, r Result) StaleReadsDetails {
	t.Helper()
	d, ok := r.Details.(StaleReadsDetails)
	require.True(t, ok, "details are %T", r.Details)
	return d
}

func TestStaleReadsAreCountedAndAllowed(t *testing.T) {
	ops := hist(
		writeOK(1, key, 1, 0, 10, 1),
		writeOK(1, key, 2, 20, 30, 2),
		writeOK(1, key, 3, 40, 50, 3),
		scNode("n2", readOK(2, key, 60, 70, 1, 1)),  // two versions behind, 30 ms after v2 was acknowledged
		scNode("n2", readOK(2, key, 80, 90, 2, 2)),  // one behind
		scNode("n1", readOK(3, key, 80, 90, 3, 3)),  // current
		scNode("n3", readOK(4, key, 45, 100, 2, 2)), // concurrent with the write of v3: not stale
		scNode("n3", readOK(4, "other", 0, 5, 0, 0)),
	)
	r := StaleReads{ReadMode: ReadPlain}.Check(context.Background(), ops)
	assert.Equal(t, "stale-reads", r.Checker)
	assert.Equal(t, Valid, r.Verdict, "stale plain reads are allowed by ZooKeeper")
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
	assert.Equal(t, StaleRead{Key: key, Node: "n2", ReadVersion: 1, LatestVersion: 3, VersionsBehind: 2, Lag: 30 * time.Millisecond},
		StaleRead{Key: first.Key, Node: first.Node, ReadVersion: first.ReadVersion, LatestVersion: first.LatestVersion,
			VersionsBehind: first.VersionsBehind, Lag: first.Lag})
	assert.Equal(t, int64(60*msec), first.Read.Invoke.Time)
	assert.Equal(t, int64(50*msec), first.Latest.Complete.Time)
	assert.Equal(t, int64(3), *first.Latest.Invoke.Value)
	_, err := json.Marshal(r)
	assert.NoError(t, err)
}

func TestNoStaleReadsIsReportedAsZero(t *testing.T) {
	ops := hist(
		writeOK(1, key, 1, 0, 10, 1),
		readOK(2, key, 5, 8, 0, 0), // invoked before the write was acknowledged
		readOK(2, key, 20, 30, 1, 1),
		writeInfo(1, key, 2, 40, 50), // never acknowledged: cannot make a read stale
		readOK(2, key, 60, 70, 1, 1), // ... even though it may have happened
		casConflict(3, key, 9, 0, 80, 90),
		readOK(2, key, 100, 110, 1, 1),
	)
	for _, mode := range []string{"", ReadPlain, ReadSync, ReadQuorum} {
		r := StaleReads{ReadMode: mode}.Check(context.Background(), ops)
		assert.Equal(t, Valid, r.Verdict)
		assert.Contains(t, r.Message, "0 stale reads (")
		assert.Contains(t, r.Message, "among 4 ok reads")
		d := staleDetails(t, r)
		assert.Zero(t, d.Stale)
		assert.Empty(t, d.Examples)
		assert.Equal(t, 4, d.ReadsChecked)
	}
}

func TestStaleReadsMessagePerReadMode(t *testing.T) {
	ops := hist(
		writeOK(1, key, 1, 0, 10, 1),
		readOK(2, key, 20, 30, 0, 0),
	)
	for mode, want := range map[string]string{
		"":         "1 stale read (allowed by ZooKeeper: plain reads are served by the connected server) among 1 ok read",
		ReadPlain:  "1 stale read (allowed by ZooKeeper: plain reads are served by the connected server) among 1 ok read",
		ReadSync:   "sync narrows the window but does not close it (ZOOKEEPER-1675)",
		ReadQuorum: "1 stale read (quorum reads are confirmed through the leader, so there should be none; any would also fail the linearizable check)",
	} {
		r := StaleReads{ReadMode: mode}.Check(context.Background(), ops)
		assert.Equal(t, Valid, r.Verdict, "the count never fails a run; in quorum mode the linearizable checker does")
		assert.Contains(t, r.Message, want, "mode %q", mode)
		if mode == "" {
			assert.Equal(t, ReadPlain, staleDetails(t, r).ReadMode)
		}
	}
}

func TestStaleReadsKeepTenExamples(t *testing.T) {
	groups := [][]history.Op{writeOK(1, key, 1, 0, 10, 1)}
	for i := range int64(25) {
		groups = append(groups, readOK(2, key, 20+2*i, 21+2*i, 0, 0))
	}
	r := StaleReads{}.Check(context.Background(), hist(groups...))
	assert.Equal(t, Valid, r.Verdict)
	d := staleDetails(t, r)
	assert.Equal(t, 25, d.Stale)
	assert.Len(t, d.Examples, staleExamples)
}

func TestStaleReadsIgnoreMalformedAndForeignRecords(t *testing.T) {
	noVersion := readOK(2, key, 20, 30, 0, 0)
	noVersion[1].Version = nil
	ops := hist(
		writeOK(1, key, 1, 0, 10, 1),
		noVersion,
		readInfo(3, key, 20, 30),
		nemesis("kill", "kill leader", 5, 6, "n1"),
		[]history.Op{{Type: history.Invoke, F: "enqueue", Process: 4, Time: 1}, {Type: history.OK, F: "enqueue", Process: 4, Time: 2}},
	)
	r := StaleReads{}.Check(context.Background(), ops)
	assert.Equal(t, Valid, r.Verdict)
	assert.Equal(t, 0, staleDetails(t, r).ReadsChecked)
}

func TestStaleReadsCancelledIsUnknown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	groups := [][]history.Op{writeOK(1, key, 1, 0, 10, 1)}
	for i := range int64(5000) {
		groups = append(groups, readOK(2, key, 20+2*i, 21+2*i, 1, 1))
	}
	r := StaleReads{}.Check(ctx, hist(groups...))
	assert.Equal(t, Unknown, r.Verdict)
	assert.Contains(t, r.Message, "cancelled")
}
