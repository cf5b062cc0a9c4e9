package set

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/queue"
	"github.com/zkchaos/zkchaos/checker/stats"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/checkertest"
)

// Builders of set histories; times in milliseconds, as in checkertest.

// addOK is an acknowledged plain add of e.
func addOK(p int, e, call, ret int64) []history.Op {
	return checkertest.ElementOp(p, Add, history.Int64(e), history.OK, call, ret)
}

// addSeqOK is an acknowledged sequential add of e that got name seq.
func addSeqOK(p int, e, seq, call, ret int64) []history.Op {
	ops := addOK(p, e, call, ret)
	ops[1].Path = fmt.Sprintf("/zkchaos-set/s-%010d", seq)
	return ops
}

func addInfo(p int, e, call, ret int64) []history.Op {
	return checkertest.ElementOp(p, Add, history.Int64(e), history.Info, call, ret)
}

func addFail(p int, e, call, ret int64) []history.Op {
	return checkertest.ElementOp(p, Add, history.Int64(e), history.Fail, call, ret)
}

func check(t *testing.T, ops []history.Op) (checker.Result, Details) {
	t.Helper()
	r := Checker{}.Check(context.Background(), ops)
	assert.Equal(t, "set", r.Checker)
	d, ok := r.Details.(Details)
	require.True(t, ok, "details are SetDetails")
	_, err := json.Marshal(r)
	require.NoError(t, err)
	return r, d
}

func nodeResult(t *testing.T, d Details, node string) NodeResult {
	t.Helper()
	for _, n := range d.Nodes {
		if n.Node == node {
			return n
		}
	}
	t.Fatalf("no result for node %s in %+v", node, d.Nodes)
	return NodeResult{}
}

func TestSetEveryAcknowledgedAddSurvivesOnEveryNode(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		checkertest.Roles(0, "n1", "n2", "n3"),
		addOK(1, 1, 0, 10),
		addSeqOK(2, 2, 0, 5, 15),
		addSeqOK(3, 3, 1, 20, 30),
		addInfo(4, 4, 20, 40), // committed: present everywhere
		addInfo(5, 5, 20, 40), // not committed: absent everywhere
		addFail(6, 6, 20, 40), // certainly not applied: absent
		checkertest.ElementRead(100, "n1", 100, 110, 1, 2, 3, 4),
		checkertest.ElementRead(101, "n2", 120, 130, 4, 3, 2, 1),
		checkertest.ElementRead(102, "n3", 140, 150, 1, 2, 3, 4),
	))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, stats.Counts{OK: 3, Fail: 1, Info: 2}, d.Adds)
	require.Len(t, d.Nodes, 3)
	for _, n := range d.Nodes {
		assert.Equal(t, checker.Valid, n.Verdict)
		assert.Equal(t, []int64{4}, n.Recovered.First, n.Node)
		assert.Equal(t, []int64{5}, n.UnknownOutcome.First, n.Node)
	}
	assert.Equal(t, 2, d.Sequence.Creates)
	assert.Contains(t, r.Message, "all 3 acknowledged adds are present")
}

func TestSetLostAcknowledgedAddIsInvalid(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		addOK(1, 1, 0, 10),
		addOK(2, 2, 0, 10),
		checkertest.ElementRead(100, "n1", 100, 110, 1, 2),
		checkertest.ElementRead(101, "n2", 120, 130, 1), // 2 lost on n2
	))
	assert.Equal(t, checker.Invalid, r.Verdict)
	assert.Equal(t, []int64{2}, nodeResult(t, d, "n2").Lost.First)
	assert.Equal(t, checker.Valid, nodeResult(t, d, "n1").Verdict)
	assert.Contains(t, r.Message, "node n2 lost acknowledged adds 1 [2]")
}

// Every read is judged, not only a node's last: an element an earlier read
// on the node saw must not be gone from a later one.
func TestSetElementGoneFromALaterReadOnTheSameNodeIsInvalid(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		addOK(1, 1, 0, 10),
		addInfo(2, 5, 0, 10), // indeterminate, but seen
		checkertest.ElementRead(100, "n1", 100, 110, 1, 5),
		checkertest.ElementRead(101, "n1", 120, 130, 1),
	))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	require.Len(t, d.Nodes, 2, "one result per read")
	assert.Equal(t, checker.Valid, d.Nodes[0].Verdict)
	assert.Equal(t, []int64{5}, d.Nodes[1].Diverged.First)
}

func TestSetAddStillRunningWhenTheReadBeganMayBeAbsent(t *testing.T) {
	// The add completed after the read began: they are concurrent, the read
	// may precede it.
	r, _ := check(t, checkertest.Hist(
		addOK(1, 1, 0, 10),
		addOK(2, 2, 90, 105),
		checkertest.ElementRead(100, "n1", 100, 110, 1),
	))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
}

func TestSetPhantomElementIsInvalid(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		addOK(1, 1, 0, 10),
		checkertest.ElementRead(100, "n1", 100, 110, 1, 99),
	))
	assert.Equal(t, checker.Invalid, r.Verdict)
	assert.Equal(t, []int64{99}, nodeResult(t, d, "n1").Phantom.First)
}

func TestSetElementAddedOnlyAfterTheReadIsAPhantom(t *testing.T) {
	// The read returned before the add of 2 was even issued.
	r, d := check(t, checkertest.Hist(
		addOK(1, 1, 0, 10),
		checkertest.ElementRead(100, "n1", 100, 110, 1, 2),
		addOK(2, 2, 120, 130),
	))
	assert.Equal(t, checker.Invalid, r.Verdict)
	assert.Equal(t, []int64{2}, nodeResult(t, d, "n1").Phantom.First)
}

func TestSetElementWhoseAddCertainlyFailedMustNotAppear(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		addOK(1, 1, 0, 10),
		addFail(2, 2, 0, 10),
		checkertest.ElementRead(100, "n1", 100, 110, 1, 2),
	))
	assert.Equal(t, checker.Invalid, r.Verdict)
	assert.Equal(t, []int64{2}, nodeResult(t, d, "n1").FailedPresent.First)
}

func TestSetDuplicatedElementIsInvalid(t *testing.T) {
	// Two sequential znodes with the same element: a create applied twice.
	r, d := check(t, checkertest.Hist(
		addSeqOK(1, 1, 0, 0, 10),
		checkertest.ElementRead(100, "n1", 100, 110, 1, 1),
	))
	assert.Equal(t, checker.Invalid, r.Verdict)
	assert.Equal(t, []int64{1}, nodeResult(t, d, "n1").Duplicated.First)
	assert.Contains(t, r.Message, "holds elements twice")
}

func TestSetIndeterminateAddSeenThenGoneIsInvalid(t *testing.T) {
	// An indeterminate add may be absent, but not once a synced final read
	// saw it: the set never shrinks.
	r, d := check(t, checkertest.Hist(
		addOK(1, 1, 0, 10),
		addInfo(2, 2, 0, 10),
		checkertest.ElementRead(100, "n1", 100, 110, 1, 2),
		checkertest.ElementRead(101, "n2", 120, 130, 1),
	))
	assert.Equal(t, checker.Invalid, r.Verdict)
	assert.Equal(t, []int64{2}, nodeResult(t, d, "n2").Diverged.First)
	assert.Empty(t, nodeResult(t, d, "n2").Lost.First)
}

func TestSetIndeterminateAddMayAppearBetweenReads(t *testing.T) {
	// Absent on the first node, present on the second: it committed in
	// between, which an indeterminate add may do at any time.
	r, d := check(t, checkertest.Hist(
		addOK(1, 1, 0, 10),
		addInfo(2, 2, 0, 10),
		checkertest.ElementRead(100, "n1", 100, 110, 1),
		checkertest.ElementRead(101, "n2", 120, 130, 1, 2),
	))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, []int64{2}, nodeResult(t, d, "n1").UnknownOutcome.First)
	assert.Equal(t, []int64{2}, nodeResult(t, d, "n2").Recovered.First)
}

func TestSetOverlappingReadsMayDisagreeOnIndeterminateAdds(t *testing.T) {
	r, _ := check(t, checkertest.Hist(
		addOK(1, 1, 0, 10),
		addInfo(2, 2, 0, 10),
		checkertest.ElementRead(100, "n1", 100, 130, 1, 2),
		checkertest.ElementRead(101, "n2", 110, 140, 1),
	))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
}

func TestSetWithoutFinalReadIsUnknown(t *testing.T) {
	r, _ := check(t, checkertest.Hist(addOK(1, 1, 0, 10)))
	assert.Equal(t, checker.Unknown, r.Verdict)
	assert.Contains(t, r.Message, "no final read")
}

func TestSetWithoutAcknowledgedAddIsUnknown(t *testing.T) {
	r, _ := check(t, checkertest.Hist(
		addInfo(1, 1, 0, 10),
		checkertest.ElementRead(100, "n1", 100, 110),
	))
	assert.Equal(t, checker.Unknown, r.Verdict)
	assert.Contains(t, r.Message, "no add was acknowledged")
}

func TestSetNodeWithoutFinalReadIsUnknown(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		checkertest.Roles(0, "n1", "n2", "n3"),
		addOK(1, 1, 0, 10),
		checkertest.ElementRead(100, "n1", 100, 110, 1),
		checkertest.ElementRead(101, "n2", 120, 130, 1),
	))
	assert.Equal(t, checker.Unknown, r.Verdict)
	assert.Equal(t, []string{"n3"}, d.Unread)
	assert.Contains(t, r.Message, "no final read of n3")
}

func TestSetLossOutweighsMissingNodes(t *testing.T) {
	r, _ := check(t, checkertest.Hist(
		checkertest.Roles(0, "n1", "n2", "n3"),
		addOK(1, 1, 0, 10),
		checkertest.ElementRead(100, "n1", 100, 110),
	))
	assert.Equal(t, checker.Invalid, r.Verdict)
}

func TestSetSequentialNamesFollowRealTime(t *testing.T) {
	t.Run("same name twice", func(t *testing.T) {
		r, d := check(t, checkertest.Hist(
			addSeqOK(1, 1, 7, 0, 10),
			addSeqOK(2, 2, 7, 0, 10),
			checkertest.ElementRead(100, "n1", 100, 110, 1, 2),
		))
		assert.Equal(t, checker.Invalid, r.Verdict)
		assert.Equal(t, []string{"/zkchaos-set/s-0000000007"}, d.Sequence.SameName)
	})
	t.Run("later create got a lower number", func(t *testing.T) {
		r, d := check(t, checkertest.Hist(
			addSeqOK(1, 1, 5, 0, 10),
			addSeqOK(2, 2, 3, 20, 30),
			checkertest.ElementRead(100, "n1", 100, 110, 1, 2),
		))
		assert.Equal(t, checker.Invalid, r.Verdict)
		assert.Equal(t, 1, d.Sequence.Inversions)
		assert.Equal(t, int64(5), d.Sequence.Examples[0].Earlier.Seq)
		assert.Equal(t, int64(3), d.Sequence.Examples[0].Later.Seq)
		assert.Contains(t, r.Message, "against real time")
	})
	t.Run("overlapping creates may be numbered either way", func(t *testing.T) {
		r, d := check(t, checkertest.Hist(
			addSeqOK(1, 1, 5, 0, 10),
			addSeqOK(2, 2, 3, 5, 30),
			checkertest.ElementRead(100, "n1", 100, 110, 1, 2),
		))
		assert.Equal(t, checker.Valid, r.Verdict, r.Message)
		assert.Zero(t, d.Sequence.Inversions)
	})
}

func TestSetOnlyNamesZooKeeperNumberedAreSequential(t *testing.T) {
	// A plain create whose name happens to end in ten digits returned the
	// path it asked for: it has no sequence number.
	plain := func(p int, e, call, ret int64) []history.Op {
		ops := addOK(p, e, call, ret)
		ops[0].Path = fmt.Sprintf("/zkchaos-set/e%d", e)
		ops[1].Path = ops[0].Path
		return ops
	}
	seq := func(p int, e, n, call, ret int64) []history.Op {
		ops := addSeqOK(p, e, n, call, ret)
		ops[0].Path = "/zkchaos-set/s-"
		return ops
	}
	r, d := check(t, checkertest.Hist(
		plain(1, 9000000001, 0, 10),
		plain(2, 9000000002, 0, 10),
		seq(3, 3, 5, 20, 30),
		seq(4, 4, 6, 40, 50),
		checkertest.ElementRead(100, "n1", 100, 110, 9000000001, 9000000002, 3, 4),
	))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, 2, d.Sequence.Creates)
}

func TestSetMalformedAddMakesTheVerdictUnknown(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		addOK(1, 1, 0, 10),
		checkertest.ElementOp(2, Add, nil, history.OK, 0, 10),
		checkertest.ElementRead(100, "n1", 100, 110, 1),
	))
	assert.Equal(t, checker.Unknown, r.Verdict, "the add without its element may be lost: %s", r.Message)
	assert.Equal(t, 1, d.Malformed)

	r, _ = check(t, checkertest.Hist(
		addOK(1, 1, 0, 10),
		checkertest.ElementOp(2, Add, nil, history.OK, 0, 10),
		checkertest.ElementRead(100, "n1", 100, 110),
	))
	assert.Equal(t, checker.Invalid, r.Verdict, "what was proven stays proven: %s", r.Message)
}

func TestSetInterruptedAddIsIndeterminate(t *testing.T) {
	// An add without completion (the run ended) may have happened.
	inv := checkertest.Invoke(1, Add, "", 50)
	inv.Value = history.Int64(2)
	r, d := check(t, checkertest.Hist(
		addOK(2, 1, 0, 10),
		checkertest.One(inv),
		checkertest.ElementRead(100, "n1", 100, 110, 1, 2),
	))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, 1, d.Adds.Info)
}

func TestSetCancelledCheckIsUnknown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := Checker{}.Check(ctx, checkertest.Hist(addOK(1, 1, 0, 10), checkertest.ElementRead(100, "n1", 100, 110, 1)))
	assert.Equal(t, checker.Unknown, r.Verdict)
}

func FuzzSet(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 2, 1, 1, 50, 1, 2, 1, 1, 60, 0, 0, 2, 1, 70, 1, 0, 2, 3, 80})
	f.Add([]byte{0, 2, 1, 1, 41, 3, 2, 1, 1, 42, 0, 0, 3, 201, 43, 1, 0, 3, 5, 44, 0, 2, 0, 2, 40})
	f.Add([]byte("the quick brown fox jumps over the lazy dog, twice: the quick brown fox"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ops := checkertest.ElementHistory(data, queue.Empty, Add)
		checkertest.CheckResult(t, "set", Checker{}.Check(context.Background(), ops))
		if len(ops) <= checkertest.BruteForceLimit {
			differential.Agree(t, "damaged history", ops)
		}
	})
}
