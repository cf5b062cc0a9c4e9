package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/stats"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/checkertest"
)

// Builders of queue histories (see set_test.go). Element e is enqueued as
// znode seq; a dequeue records the element and znode it took.

func nodePath(seq int64) string { return fmt.Sprintf("/zkchaos-queue/q-%010d", seq) }

func enqOK(p int, e, seq, call, ret int64) []history.Op {
	ops := checkertest.ElementOp(p, Enqueue, history.Int64(e), history.OK, call, ret)
	ops[1].Path = nodePath(seq)
	return ops
}

func enqInfo(p int, e, call, ret int64) []history.Op {
	return checkertest.ElementOp(p, Enqueue, history.Int64(e), history.Info, call, ret)
}

func enqFail(p int, e, call, ret int64) []history.Op {
	return checkertest.ElementOp(p, Enqueue, history.Int64(e), history.Fail, call, ret)
}

// deqOK took element e from znode seq.
func deqOK(p int, e, seq, call, ret int64) []history.Op {
	ops := checkertest.ElementOp(p, Dequeue, nil, history.OK, call, ret)
	ops[1].Value, ops[1].Path = history.Int64(e), nodePath(seq)
	return ops
}

// deqEmpty found no element.
func deqEmpty(p int, call, ret int64) []history.Op {
	ops := checkertest.ElementOp(p, Dequeue, nil, history.Fail, call, ret)
	ops[1].Error = Empty
	return ops
}

// deqInfoOf lost its connection while deleting e's znode.
func deqInfoOf(p int, e, seq, call, ret int64) []history.Op {
	ops := checkertest.ElementOp(p, Dequeue, nil, history.Info, call, ret)
	ops[1].Value, ops[1].Path = history.Int64(e), nodePath(seq)
	return ops
}

// deqTimeout timed out before anyone knew which element it would take.
func deqTimeout(p int, call, ret int64) []history.Op {
	ops := checkertest.ElementOp(p, Dequeue, nil, history.Info, call, ret)
	ops[1].Error = "operation timed out"
	return ops
}

func check(t *testing.T, ops []history.Op) (checker.Result, Details) {
	t.Helper()
	r := Checker{}.Check(context.Background(), ops)
	assert.Equal(t, "queue", r.Checker)
	d, ok := r.Details.(Details)
	require.True(t, ok, "details are QueueDetails")
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

func TestQueueEveryElementIsDequeuedOnceOrLeftInOrder(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		checkertest.Roles(0, "n1", "n2"),
		deqEmpty(9, 0, 5),
		enqOK(1, 1, 0, 10, 20),
		enqOK(2, 2, 1, 30, 40),
		enqOK(3, 3, 3, 50, 60),
		enqInfo(4, 4, 50, 60), // committed as znode 2 (between 2 and 3)
		enqInfo(5, 5, 50, 60), // never committed
		enqFail(6, 6, 50, 60),
		deqOK(1, 1, 0, 70, 80),
		checkertest.ElementRead(100, "n1", 100, 110, 2, 4, 3),
		checkertest.ElementRead(101, "n2", 120, 130, 2, 4, 3),
		// The drain after the final reads.
		deqOK(102, 2, 1, 140, 150),
		deqOK(102, 4, 2, 160, 170),
		deqOK(102, 3, 3, 180, 190),
		deqEmpty(102, 200, 210),
	))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, stats.Counts{OK: 3, Fail: 1, Info: 2}, d.Enqueues)
	assert.Equal(t, stats.Counts{OK: 4, Fail: 2}, d.Dequeues)
	assert.Equal(t, 2, d.Empty)
	assert.Equal(t, []int64{4}, nodeResult(t, d, "n1").Recovered.First)
	assert.Zero(t, d.Skipped)
	assert.Contains(t, r.Message, "no element lost")
}

// An ok dequeue that does not say what it took may have taken anything: the
// verdict cannot be valid.
func TestQueueDequeueWithoutItsElementMakesTheVerdictUnknown(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		checkertest.Roles(0, "n1"),
		enqOK(1, 1, 0, 10, 20),
		enqOK(2, 2, 1, 30, 40),
		checkertest.ElementOp(3, Dequeue, nil, history.OK, 50, 60),
		checkertest.ElementRead(100, "n1", 100, 110, 1, 2),
	))
	assert.Equal(t, checker.Unknown, r.Verdict, r.Message)
	assert.Equal(t, 1, d.Malformed)
	assert.Contains(t, r.Message, "1 record lacked the element")
}

// Every read is judged, not only a node's last: a phantom in an earlier read
// is not excused by a clean later one.
func TestQueuePhantomInAnEarlierReadOfTheNodeIsInvalid(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		checkertest.Roles(0, "n1"),
		enqOK(1, 1, 0, 10, 20),
		checkertest.ElementRead(100, "n1", 100, 110, 1, 99),
		checkertest.ElementRead(101, "n1", 120, 130, 1),
	))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	require.Len(t, d.Nodes, 2, "one result per read")
	assert.Equal(t, checker.Invalid, d.Nodes[0].Verdict)
	assert.Equal(t, checker.Valid, d.Nodes[1].Verdict)
}

func TestQueueElementDequeuedTwiceIsInvalid(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		enqOK(1, 1, 0, 0, 10),
		deqOK(2, 1, 0, 20, 30),
		deqOK(3, 1, 0, 25, 35),
		checkertest.ElementRead(100, "n1", 100, 110),
	))
	assert.Equal(t, checker.Invalid, r.Verdict)
	assert.Equal(t, []int64{1}, d.DequeuedTwice.First)
	assert.Contains(t, r.Message, "dequeued twice")
}

func TestQueueDequeuedElementStillPresentIsInvalid(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		enqOK(1, 1, 0, 0, 10),
		deqOK(2, 1, 0, 20, 30),
		checkertest.ElementRead(100, "n1", 100, 110, 1),
	))
	assert.Equal(t, checker.Invalid, r.Verdict)
	assert.Equal(t, []int64{1}, nodeResult(t, d, "n1").Resurrected.First)
}

func TestQueueLostElementIsInvalid(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		enqOK(1, 1, 0, 0, 10),
		enqOK(1, 2, 1, 20, 30),
		checkertest.ElementRead(100, "n1", 100, 110, 2),
	))
	assert.Equal(t, checker.Invalid, r.Verdict)
	n := nodeResult(t, d, "n1")
	assert.Equal(t, []int64{1}, n.Lost.First)
	assert.Equal(t, 1, n.LostAtLeast)
	assert.Contains(t, r.Message, "lost at least 1")
}

func TestQueueIndeterminateDequeueExplainsOneAbsence(t *testing.T) {
	t.Run("of that very element", func(t *testing.T) {
		r, d := check(t, checkertest.Hist(
			enqOK(1, 1, 0, 0, 10),
			deqInfoOf(2, 1, 0, 20, 30),
			checkertest.ElementRead(100, "n1", 100, 110),
		))
		assert.Equal(t, checker.Valid, r.Verdict, r.Message)
		assert.Equal(t, []int64{1}, nodeResult(t, d, "n1").MaybeTaken.First)
	})
	t.Run("of another element: still lost", func(t *testing.T) {
		r, _ := check(t, checkertest.Hist(
			enqOK(1, 1, 0, 0, 10),
			enqOK(4, 2, 1, 0, 10),
			deqInfoOf(2, 2, 1, 20, 30),
			checkertest.ElementRead(100, "n1", 100, 110, 2),
		))
		assert.Equal(t, checker.Invalid, r.Verdict)
	})
	t.Run("timed out: any one element", func(t *testing.T) {
		r, d := check(t, checkertest.Hist(
			enqOK(1, 1, 0, 0, 10),
			deqTimeout(2, 20, 30),
			checkertest.ElementRead(100, "n1", 100, 110),
		))
		assert.Equal(t, checker.Valid, r.Verdict, r.Message)
		assert.Equal(t, []int64{1}, nodeResult(t, d, "n1").MaybeTaken.First)
	})
	t.Run("one timeout cannot explain two absences", func(t *testing.T) {
		r, d := check(t, checkertest.Hist(
			enqOK(1, 1, 0, 0, 10),
			enqOK(1, 2, 1, 20, 30),
			deqTimeout(2, 40, 50),
			checkertest.ElementRead(100, "n1", 100, 110),
		))
		assert.Equal(t, checker.Invalid, r.Verdict)
		assert.Equal(t, 1, nodeResult(t, d, "n1").LostAtLeast)
	})
	t.Run("a dequeue issued after the read explains nothing", func(t *testing.T) {
		r, _ := check(t, checkertest.Hist(
			enqOK(1, 1, 0, 0, 10),
			checkertest.ElementRead(100, "n1", 100, 110),
			deqTimeout(2, 120, 130),
		))
		assert.Equal(t, checker.Invalid, r.Verdict)
	})
}

func TestQueueElementDequeuedAfterAnAbsentReadIsLost(t *testing.T) {
	// The synced read did not show 1, yet a later dequeue took it: the read's
	// node had lost it.
	r, _ := check(t, checkertest.Hist(
		enqOK(1, 1, 0, 0, 10),
		checkertest.ElementRead(100, "n1", 100, 110),
		deqOK(2, 1, 0, 120, 130),
	))
	assert.Equal(t, checker.Invalid, r.Verdict)
}

func TestQueuePhantomsAreInvalid(t *testing.T) {
	t.Run("dequeued, never enqueued", func(t *testing.T) {
		r, d := check(t, checkertest.Hist(
			enqOK(1, 1, 0, 0, 10),
			deqOK(2, 7, 5, 20, 30),
			checkertest.ElementRead(100, "n1", 100, 110, 1),
		))
		assert.Equal(t, checker.Invalid, r.Verdict)
		assert.Equal(t, []int64{7}, d.PhantomDequeued.First)
	})
	t.Run("dequeued though the enqueue failed", func(t *testing.T) {
		r, d := check(t, checkertest.Hist(
			enqOK(1, 1, 0, 0, 10),
			enqFail(1, 2, 20, 30),
			deqOK(2, 2, 5, 40, 50),
			checkertest.ElementRead(100, "n1", 100, 110, 1),
		))
		assert.Equal(t, checker.Invalid, r.Verdict)
		assert.Equal(t, []int64{2}, d.FailedDequeued.First)
	})
	t.Run("present, never enqueued", func(t *testing.T) {
		r, d := check(t, checkertest.Hist(
			enqOK(1, 1, 0, 0, 10),
			checkertest.ElementRead(100, "n1", 100, 110, 1, 8),
		))
		assert.Equal(t, checker.Invalid, r.Verdict)
		assert.Equal(t, []int64{8}, nodeResult(t, d, "n1").Phantom.First)
	})
	t.Run("present twice", func(t *testing.T) {
		r, d := check(t, checkertest.Hist(
			enqOK(1, 1, 0, 0, 10),
			checkertest.ElementRead(100, "n1", 100, 110, 1, 1),
		))
		assert.Equal(t, checker.Invalid, r.Verdict)
		assert.Equal(t, []int64{1}, nodeResult(t, d, "n1").Duplicated.First)
	})
	t.Run("dequeued from another znode", func(t *testing.T) {
		r, d := check(t, checkertest.Hist(
			enqOK(1, 1, 0, 0, 10),
			deqOK(2, 1, 4, 20, 30),
			checkertest.ElementRead(100, "n1", 100, 110),
		))
		assert.Equal(t, checker.Invalid, r.Verdict)
		assert.Equal(t, []int64{1}, d.MovedPath.First)
	})
}

func TestQueueNewerElementTakenBeforeAnOlderOneIsInvalid(t *testing.T) {
	// 1 (znode 0) is older than 2 (znode 1). The dequeue of 2 completed
	// before the dequeue of 1 began: the dequeuer of 2 must have seen 1, or
	// its delete, first.
	r, d := check(t, checkertest.Hist(
		enqOK(1, 1, 0, 0, 10),
		enqOK(1, 2, 1, 20, 30),
		deqOK(2, 2, 1, 40, 50),
		deqOK(3, 1, 0, 60, 70),
		checkertest.ElementRead(100, "n1", 100, 110),
	))
	assert.Equal(t, checker.Invalid, r.Verdict)
	require.Equal(t, 1, d.Skipped)
	assert.Equal(t, int64(1), d.SkipExamples[0].Older.Element)
	assert.Equal(t, int64(2), d.SkipExamples[0].Newer.Element)
	assert.Contains(t, r.Message, "out of order")
}

func TestQueueOlderElementLeftBehindIsInvalid(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		enqOK(1, 1, 0, 0, 10),
		enqOK(1, 2, 1, 20, 30),
		deqOK(2, 2, 1, 40, 50),
		checkertest.ElementRead(100, "n1", 100, 110, 1),
	))
	assert.Equal(t, checker.Invalid, r.Verdict)
	require.Equal(t, 1, d.Skipped)
	assert.Equal(t, "present on n1", d.SkipExamples[0].How)
}

func TestQueueOverlappingDequeuesMayCompleteInEitherOrder(t *testing.T) {
	// Both dequeues ran at once; the newer element's completed first.
	// Counted as overtaken, for information.
	r, d := check(t, checkertest.Hist(
		enqOK(1, 1, 0, 0, 10),
		enqOK(1, 2, 1, 20, 30),
		deqOK(2, 1, 0, 40, 70),
		deqOK(3, 2, 1, 45, 50),
		checkertest.ElementRead(100, "n1", 100, 110),
	))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Zero(t, d.Skipped)
	assert.Equal(t, 1, d.Overtaken)
	assert.Contains(t, r.Message, "overtaken")
}

func TestQueueConcurrentEnqueuesMayBeNumberedEitherWay(t *testing.T) {
	// 2 was enqueued while 1 was: ZooKeeper may number them either way, and
	// the queue then hands out 2 first.
	r, d := check(t, checkertest.Hist(
		enqOK(1, 1, 1, 0, 30),
		enqOK(2, 2, 0, 10, 20),
		deqOK(3, 2, 0, 40, 50),
		deqOK(3, 1, 1, 60, 70),
		checkertest.ElementRead(100, "n1", 100, 110),
	))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Zero(t, d.Sequence.Inversions)
}

func TestQueueSequenceAgainstRealTimeIsInvalid(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		enqOK(1, 1, 1, 0, 10),
		enqOK(2, 2, 0, 20, 30),
		checkertest.ElementRead(100, "n1", 100, 110, 2, 1),
	))
	assert.Equal(t, checker.Invalid, r.Verdict)
	assert.Equal(t, 1, d.Sequence.Inversions)
}

func TestQueueWithoutEvidenceIsUnknown(t *testing.T) {
	t.Run("no final read", func(t *testing.T) {
		r, _ := check(t, checkertest.Hist(enqOK(1, 1, 0, 0, 10), deqOK(2, 1, 0, 20, 30)))
		assert.Equal(t, checker.Unknown, r.Verdict)
		assert.Contains(t, r.Message, "no final read")
	})
	t.Run("no acknowledged enqueue", func(t *testing.T) {
		r, _ := check(t, checkertest.Hist(enqInfo(1, 1, 0, 10), deqEmpty(2, 20, 30), checkertest.ElementRead(100, "n1", 100, 110)))
		assert.Equal(t, checker.Unknown, r.Verdict)
		assert.Contains(t, r.Message, "no enqueue was acknowledged")
	})
	t.Run("a node not read", func(t *testing.T) {
		r, d := check(t, checkertest.Hist(
			checkertest.Roles(0, "n1", "n2"),
			enqOK(1, 1, 0, 0, 10),
			checkertest.ElementRead(100, "n1", 100, 110, 1),
		))
		assert.Equal(t, checker.Unknown, r.Verdict)
		assert.Equal(t, []string{"n2"}, d.Unread)
	})
}

func TestQueueCancelledCheckIsUnknown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := Checker{}.Check(ctx, checkertest.Hist(enqOK(1, 1, 0, 0, 10), checkertest.ElementRead(100, "n1", 100, 110, 1)))
	assert.Equal(t, checker.Unknown, r.Verdict)
}

func FuzzQueue(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 2, 1, 1, 41, 1, 2, 1, 1, 42, 0, 3, 2, 9, 43, 1, 3, 2, 1, 41, 0, 0, 3, 2, 50, 1, 0, 3, 2, 44})
	f.Add([]byte{0, 3, 1, 201, 41, 3, 3, 1, 201, 42, 0, 3, 2, 201, 43, 129, 3, 2, 201, 44})
	f.Add([]byte("enqueue dequeue enqueue dequeue read read read, in a queue of sequential znodes"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ops := checkertest.ElementHistory(data, Empty, Enqueue, Dequeue)
		checkertest.CheckResult(t, "queue", Checker{}.Check(context.Background(), ops))
		if len(ops) <= checkertest.BruteForceLimit {
			differential.Agree(t, "damaged history", ops)
		}
	})
}

// A removal may explain an element's absence from a read only if nothing
// shows the element after it: a deleted znode never comes back.
func TestQueueElementAbsentFromAReadThenSeenAgainIsInvalid(t *testing.T) {
	t.Run("a timed-out dequeue cannot explain it", func(t *testing.T) {
		r, d := check(t, checkertest.Hist(
			checkertest.Roles(0, "n1", "n2"),
			deqTimeout(2, 0, 5),
			enqOK(1, 1, 0, 10, 20),
			checkertest.ElementRead(100, "n1", 100, 110),
			checkertest.ElementRead(101, "n2", 120, 130, 1),
			deqOK(102, 1, 0, 140, 150),
		))
		assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
		assert.Equal(t, []int64{1}, nodeResult(t, d, "n1").Returned.First)
		assert.Contains(t, r.Message, "node n1 lacks elements seen before and after it 1 [1]")
	})
	t.Run("nor a dequeue that tried it", func(t *testing.T) {
		r, _ := check(t, checkertest.Hist(
			enqOK(1, 1, 0, 0, 10),
			deqInfoOf(2, 1, 0, 20, 30),
			checkertest.ElementRead(100, "n1", 100, 110),
			checkertest.ElementRead(101, "n1", 120, 130, 1),
		))
		assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	})
	t.Run("seen before by a read, taken after", func(t *testing.T) {
		// The enqueue is indeterminate: only the first read shows that 1
		// was in the queue before the second.
		r, _ := check(t, checkertest.Hist(
			enqOK(1, 2, 0, 0, 10),
			enqInfo(3, 1, 0, 10),
			deqInfoOf(2, 1, 1, 20, 30),
			checkertest.ElementRead(100, "n1", 100, 110, 2, 1),
			checkertest.ElementRead(101, "n2", 120, 130, 2),
			deqOK(102, 1, 1, 140, 150),
		))
		assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	})
	t.Run("absent before it was enqueued: fine", func(t *testing.T) {
		r, _ := check(t, checkertest.Hist(
			enqOK(1, 2, 0, 0, 10),
			enqInfo(3, 1, 0, 10),
			deqTimeout(2, 20, 30),
			checkertest.ElementRead(100, "n1", 100, 110, 2),
			checkertest.ElementRead(101, "n1", 120, 130, 2, 1),
		))
		assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	})
}

// An element a read listed must stay in the queue until a dequeue takes
// it, whether or not its enqueue was acknowledged.
func TestQueueElementSeenThenAbsentNeedsADequeue(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		enqOK(1, 2, 0, 0, 10),
		enqInfo(3, 1, 0, 10),
		checkertest.ElementRead(100, "n1", 100, 110, 2, 1),
		checkertest.ElementRead(101, "n2", 120, 130, 2),
	))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Equal(t, []int64{1}, nodeResult(t, d, "n2").Lost.First)

	r, _ = check(t, checkertest.Hist(
		enqOK(1, 2, 0, 0, 10),
		enqInfo(3, 1, 0, 10),
		deqInfoOf(2, 1, 1, 20, 30),
		checkertest.ElementRead(100, "n1", 100, 110, 2, 1),
		checkertest.ElementRead(101, "n2", 120, 130, 2),
	))
	assert.Equal(t, checker.Valid, r.Verdict, "the indeterminate dequeue may have taken it late: %s", r.Message)
}
