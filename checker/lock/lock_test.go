package lock

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/session"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/checkertest"
)

// record is one lock operation on session s, invoked at call and completed
// at ret (milliseconds). An ok acquire records its node and owner as the
// workload does.
func record(f string, p int, s int64, path string, typ history.Type, call, ret int64) []history.Op {
	inv := history.Op{Type: history.Invoke, F: f, Process: history.Process(p), Session: s, Time: call * checkertest.Msec}
	if f == Release {
		inv.Path = path
	}
	c := inv
	c.Type, c.Time = typ, ret*checkertest.Msec
	switch {
	case f == Acquire && typ == history.OK:
		c.Path, c.Values = path, []int64{s}
	case typ == history.Fail:
		c.Error = "zk: node does not exist"
	case typ == history.Info:
		c.Error = "zk: connection closed"
	}
	return []history.Op{inv, c}
}

func acquire(p int, s int64, path string, typ history.Type, call, ret int64) []history.Op {
	return record(Acquire, p, s, path, typ, call, ret)
}

func release(p int, s int64, path string, typ history.Type, call, ret int64) []history.Op {
	return record(Release, p, s, path, typ, call, ret)
}

// sessionEvent is a session event recorded by an observer process of its own.
func sessionEvent(s int64, event string, at int64) []history.Op {
	return checkertest.One(history.Op{Type: history.Info, F: session.F, Process: history.Process(100 + s), Session: s, Event: event, Time: at * checkertest.Msec})
}

func check(t *testing.T, ops []history.Op) (checker.Result, Details) {
	t.Helper()
	r := Checker{}.Check(context.Background(), ops)
	d, ok := r.Details.(Details)
	require.True(t, ok, "details are LockDetails")
	_, err := json.Marshal(r)
	require.NoError(t, err)
	return r, d
}

func TestLockHoldsOneAfterAnotherAreValid(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		acquire(0, 1, "/l/a-01", history.OK, 0, 10),
		acquire(1, 2, "/l/a-02", history.OK, 5, 130), // waited for the release
		release(0, 1, "/l/a-01", history.OK, 110, 120),
		release(1, 2, "/l/a-02", history.OK, 230, 240),
	))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, 2, d.Holds)
	assert.Equal(t, 2, d.Proven)
	assert.Zero(t, d.ExpiredHolders)
}

func TestLockTwoLiveHoldersAtOnceAreInvalid(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		acquire(0, 1, "/l/a-01", history.OK, 0, 10),
		acquire(1, 2, "/l/a-02", history.OK, 5, 100), // while 0 still holds
		release(0, 1, "/l/a-01", history.OK, 200, 210),
		release(1, 2, "/l/a-02", history.OK, 300, 310),
	))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	require.Equal(t, 1, d.Violations)
	v := d.ViolationExamples[0]
	assert.Equal(t, history.Process(0), v.First.Process)
	assert.Equal(t, history.Process(1), v.Second.Process)
	assert.Equal(t, 100*checkertest.Msec, v.From)
	assert.Equal(t, 200*checkertest.Msec, v.To)
}

// A holder whose session expired has lost its node: another process may take
// the lock before the old holder hears of it. That is ZooKeeper's documented
// behaviour, reported but not a violation.
func TestLockExpiredHolderStillBelievingIsAllowed(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		acquire(0, 1, "/l/a-01", history.OK, 0, 10),
		acquire(1, 2, "/l/a-02", history.OK, 5, 300), // session 1 expired on the server
		release(1, 2, "/l/a-02", history.OK, 400, 410),
		sessionEvent(1, session.Expired, 450), // the old holder hears of it late
		release(0, 1, "/l/a-01", history.Fail, 460, 470),
	))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, 1, d.Proven)
	require.Equal(t, 1, d.ExpiredHolders)
	assert.Contains(t, d.ExpiredExamples[0].Explanation, "expired holder still believed")
	assert.Equal(t, 450*checkertest.Msec, d.ExpiredExamples[0].First.Until, "the believed hold ends when the expiry is seen")
	assert.Contains(t, r.Message, "expired holder")
}

// If the holder's session provably lived on (a later write on it succeeded),
// its node vanishing is no expiry: ZooKeeper deleted an ephemeral node of a
// live session, and the lock was held twice.
func TestLockNodeVanishedWhileSessionLivedIsInvalid(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		acquire(0, 1, "/l/a-01", history.OK, 0, 10),
		acquire(1, 2, "/l/a-02", history.OK, 5, 100),
		release(1, 2, "/l/a-02", history.OK, 150, 160),
		release(0, 1, "/l/a-01", history.Fail, 200, 210), // its node was gone
		acquire(0, 1, "/l/a-03", history.OK, 300, 310),   // yet session 1 lived on
		release(0, 1, "/l/a-03", history.OK, 400, 410),
	))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	require.Equal(t, 1, d.Violations)
	assert.Equal(t, 150*checkertest.Msec, d.ViolationExamples[0].To)
}

func TestLockIndeterminateAcquireHoldsNothing(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		acquire(0, 1, "", history.Info, 0, 50), // may have created a node, never believed it held
		acquire(1, 2, "/l/a-02", history.OK, 5, 20),
		release(1, 2, "/l/a-02", history.OK, 120, 130),
		acquire(2, 3, "", history.Fail, 10, 200), // gave up waiting
	))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, 1, d.Holds)
}

func TestLockWithoutSuccessfulAcquireIsUnknown(t *testing.T) {
	r, _ := check(t, checkertest.Hist(
		acquire(0, 1, "", history.Info, 0, 50),
		acquire(1, 2, "", history.Fail, 5, 20),
	))
	assert.Equal(t, checker.Unknown, r.Verdict, r.Message)
	r, _ = check(t, nil)
	assert.Equal(t, checker.Unknown, r.Verdict, r.Message)
}

// Holds whose release never confirmed the node, on sessions with no later
// write, prove nothing: even overlapping they may have been expired holders.
func TestLockUnprovenHoldsAreUnknown(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		acquire(0, 1, "/l/a-01", history.OK, 0, 10),
		acquire(1, 2, "/l/a-02", history.OK, 5, 50),
		release(0, 1, "/l/a-01", history.Info, 100, 110),
		release(1, 2, "/l/a-02", history.Info, 100, 120),
	))
	assert.Equal(t, checker.Unknown, r.Verdict, r.Message)
	assert.Equal(t, 2, d.Holds)
	assert.Zero(t, d.Proven)
	assert.Equal(t, 1, d.ExpiredHolders)
	assert.Contains(t, d.ExpiredExamples[0].Explanation, "not proven alive")
}

// A run that ended during a hold: the holder believed until the end, but
// nothing proves its session lived, so a later holder is information only.
func TestLockHoldUntilTheEndOfTheHistory(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		acquire(1, 2, "/l/a-00", history.OK, 0, 5),
		release(1, 2, "/l/a-00", history.OK, 6, 7),
		acquire(0, 1, "/l/a-01", history.OK, 10, 20),
		acquire(1, 2, "/l/a-02", history.OK, 30, 400),
		release(1, 2, "/l/a-02", history.OK, 500, 510),
	))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, 1, d.ExpiredHolders)
	assert.Equal(t, "end of history", d.ExpiredExamples[0].First.EndedBy)
}

func TestLockHoldsThatTouchDoNotOverlap(t *testing.T) {
	r, _ := check(t, checkertest.Hist(
		acquire(0, 1, "/l/a-01", history.OK, 0, 10),
		release(0, 1, "/l/a-01", history.OK, 100, 110),
		acquire(1, 2, "/l/a-02", history.OK, 5, 100),
		release(1, 2, "/l/a-02", history.OK, 200, 210),
	))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
}

// Without a recorded owner the hold's session is the one the acquire ran on
// throughout; a call whose session changed has no known session.
func TestLockSessionOfTheCallWhenNoOwnerIsRecorded(t *testing.T) {
	noOwner := func(g []history.Op) []history.Op { g[1].Values = nil; return g }
	ops := checkertest.Hist(
		noOwner(acquire(0, 1, "/l/a-01", history.OK, 0, 10)),
		noOwner(acquire(1, 2, "/l/a-02", history.OK, 5, 100)),
		release(0, 1, "/l/a-01", history.Fail, 200, 210),
		release(1, 2, "/l/a-02", history.OK, 300, 310),
		acquire(0, 1, "/l/a-03", history.OK, 400, 410), // session 1 lived on
	)
	r, _ := check(t, ops)
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)

	for i := range ops {
		if ops[i].F == Acquire && ops[i].Type == history.OK && ops[i].Path == "/l/a-01" {
			ops[i].Session = 7 // the session changed during the acquire
		}
	}
	r, _ = check(t, ops)
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
}

// Session records of an observer process are never taken for completions,
// and a closed session ends a hold like an expired one.
func TestLockSessionRecordsAndClosedSessions(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		sessionEvent(1, session.Established, 0),
		acquire(0, 1, "/l/a-01", history.OK, 1, 10),
		sessionEvent(1, session.Disconnected, 20),
		sessionEvent(1, session.Closed, 60),
		acquire(1, 2, "/l/a-02", history.OK, 5, 100),
		release(1, 2, "/l/a-02", history.OK, 150, 160),
		release(0, 1, "/l/a-01", history.Info, 200, 210),
	))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, 2, d.Holds)
	assert.Zero(t, d.ExpiredHolders, "the closed holder's belief ended before the other acquired")
}

func TestLockCancelledCheckIsUnknown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := Checker{}.Check(ctx, checkertest.Hist(
		acquire(0, 1, "/l/a-01", history.OK, 0, 10),
		release(0, 1, "/l/a-01", history.OK, 100, 110),
	))
	assert.Equal(t, checker.Unknown, r.Verdict, r.Message)
}

// A check cut short still reports the violations it found: no lack of time
// hides what was proven.
func TestLockCheckCutShortAfterAViolationIsInvalid(t *testing.T) {
	parts := [][]history.Op{
		acquire(0, 1, "/l/a-01", history.OK, 0, 10),
		acquire(1, 2, "/l/a-02", history.OK, 5, 100), // while 0 still holds
		release(0, 1, "/l/a-01", history.OK, 200, 210),
		release(1, 2, "/l/a-02", history.OK, 300, 310),
	}
	for i := range int64(300) {
		at := 1000 + 100*i
		parts = append(parts, acquire(int(2+i), 3+i, "/l/b", history.OK, at, at+10), release(int(2+i), 3+i, "/l/b", history.OK, at+20, at+30))
	}
	ops := checkertest.Hist(parts...)
	r := Checker{}.Check(&checkertest.CancelledLater{Context: context.Background(), N: 1}, ops)
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Contains(t, r.Message, "ran out of time after 256 of 302 holds")
	r = Checker{}.Check(&checkertest.CancelledLater{Context: context.Background(), N: 0}, ops)
	assert.Equal(t, checker.Unknown, r.Verdict, r.Message)
	assert.Contains(t, r.Message, "no overlap was found before")
}

// lsFuzzFs and lsFuzzEvents are the operation names and session events of
// the histories that checkertest.LockSessionOps makes for the lock fuzz target.
var (
	lsFuzzFs     = []string{Acquire, Release, session.F, session.Create, session.Exists, session.Exists, history.FRoles, "kill"}
	lsFuzzEvents = []string{session.Established, session.Disconnected, session.Expired, session.Closed}
)

// FuzzLock feeds arbitrary histories to the lock checker: it must never
// panic, and its verdict must agree with its evidence.
func FuzzLock(f *testing.F) {
	checkertest.LockSessionSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ops := checkertest.LockSessionOps(data, lsFuzzFs, lsFuzzEvents)
		r := Checker{}.Check(context.Background(), ops)
		d, ok := r.Details.(Details)
		if !ok {
			t.Fatalf("details are %T", r.Details)
		}
		switch r.Verdict {
		case checker.Invalid:
			if d.Violations == 0 {
				t.Fatalf("invalid without a violation: %s", r.Message)
			}
		case checker.Valid:
			if d.Violations > 0 || d.Proven == 0 {
				t.Fatalf("valid with %d violations and %d proven holds: %s", d.Violations, d.Proven, r.Message)
			}
		case checker.Unknown:
		default:
			t.Fatalf("verdict %q", r.Verdict)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatal(err)
		}
	})
}
