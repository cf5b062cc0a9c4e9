package session

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/checkertest"
)

// create is process p creating the ephemeral node path on session s.
func create(p int, s int64, path string, typ history.Type, call, ret int64) []history.Op {
	inv := history.Op{Type: history.Invoke, F: Create, Process: history.Process(p), Session: s, Path: path, Time: call * checkertest.Msec}
	c := inv
	c.Type, c.Time = typ, ret*checkertest.Msec
	if typ == history.Info {
		c.Error = "zk: connection closed"
	}
	return []history.Op{inv, c}
}

// exists is process p, on session s, finding path present (with owner, 0
// for not seen) or absent.
func exists(p int, s int64, path string, present bool, owner int64, call, ret int64) []history.Op {
	inv := history.Op{Type: history.Invoke, F: Exists, Process: history.Process(p), Session: s, Path: path, Time: call * checkertest.Msec}
	c := inv
	c.Type, c.Time = history.OK, ret*checkertest.Msec
	c.Value = history.Int64(0)
	if present {
		c.Value = history.Int64(1)
		if owner != 0 {
			c.Values = []int64{owner}
		}
	}
	return []history.Op{inv, c}
}

// existsInfo is a check whose outcome is unknown.
func existsInfo(p int, s int64, path string, call, ret int64) []history.Op {
	inv := history.Op{Type: history.Invoke, F: Exists, Process: history.Process(p), Session: s, Path: path, Time: call * checkertest.Msec}
	c := inv
	c.Type, c.Time, c.Error = history.Info, ret*checkertest.Msec, "zk: session has been expired by the server"
	return []history.Op{inv, c}
}

// event is a session event of session s at a millisecond.
func event(s int64, event string, at int64) []history.Op {
	return checkertest.One(history.Op{Type: history.Info, F: F, Process: history.Process(100 + s), Session: s, Event: event, Time: at * checkertest.Msec})
}

// roles is a role observation at a millisecond.
func roles(at int64, roles map[string]string) []history.Op {
	return checkertest.One(history.Op{Type: history.Info, F: history.FRoles, Process: history.NemesisProcess, Roles: roles, Time: at * checkertest.Msec})
}

var (
	withLeader    = map[string]string{"n1": "leader", "n2": "follower", "n3": "follower"}
	withoutLeader = map[string]string{"n1": "down", "n2": "looking", "n3": "looking"}
)

// seconds is s seconds in the milliseconds the builders take.
func seconds(s float64) int64 { return int64(s * 1000) }

func check(t *testing.T, c Checker, ops []history.Op) (checker.Result, Details) {
	t.Helper()
	r := c.Check(context.Background(), ops)
	d, ok := r.Details.(Details)
	require.True(t, ok, "details are SessionsDetails")
	_, err := json.Marshal(r)
	require.NoError(t, err)
	return r, d
}

// 4 s sessions and a 1 s margin: the bound is 5 s.
var shortTimeouts = Checker{SessionTimeout: 4 * time.Second, Margin: time.Second}

// The life of a node owned by session 1: seen by session 2 while session 1
// provably lives, gone after session 1 was closed.
func life() []history.Op {
	return checkertest.Hist(
		create(0, 1, "/s/0-0", history.OK, 0, 10),
		exists(0, 1, "/s/0-0", true, 1, 20, 30),
		exists(1, 2, "/s/0-0", true, 1, 40, 50),
		exists(0, 1, "/s/0-0", true, 1, 60, 70), // session 1 lives after process 1's check
		event(1, Closed, 1000),
		exists(1, 2, "/s/0-0", false, 0, 1100, 1110),
		exists(1, 2, "/s/0-0", false, 0, 7000, 7010),
	)
}

func TestSessionsEphemeralLivesAndDiesWithItsSession(t *testing.T) {
	r, d := check(t, shortTimeouts, life())
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, 1, d.Nodes)
	assert.Equal(t, 1, d.SessionsEnded)
	assert.Equal(t, 2, d.ProvenAlive, "the two checks before session 1's last operation")
	assert.Equal(t, 2, d.AfterEnd)
	assert.Equal(t, 2, d.AbsentAfterEnd)
	assert.Equal(t, 1, d.AfterBound)
}

func TestSessionsEphemeralPresentAfterTheBoundIsInvalid(t *testing.T) {
	ops := checkertest.Hist(
		create(0, 1, "/s/0-0", history.OK, 0, 10),
		event(1, Expired, 1000),
		exists(1, 2, "/s/0-0", true, 1, 3000, 3010),  // within the bound: allowed
		exists(1, 2, "/s/0-0", true, 1, 6001, 6010),  // 5 s after the expiry
		exists(1, 2, "/s/0-0", false, 0, 6100, 6110), // gone at last
	)
	r, d := check(t, shortTimeouts, ops)
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	require.Equal(t, 1, d.Violations)
	v := d.Examples[0]
	assert.Equal(t, PresentAfterEnd, v.Kind)
	assert.Equal(t, int64(1), v.Owner)
	assert.Equal(t, 6001*checkertest.Msec, v.Invoked)
	assert.Contains(t, r.Message, "/s/0-0")
}

// A session the old leader expired may be expired again by the next leader,
// a session timeout after it took over: time without a leader does not count
// against the bound.
func TestSessionsTimeWithoutALeaderExtendsTheBound(t *testing.T) {
	base := checkertest.Hist(
		roles(0, withLeader),
		create(0, 1, "/s/0-0", history.OK, 0, 10),
		event(1, Expired, 1000),
		exists(1, 2, "/s/0-0", true, 1, 6500, 6510),
		exists(1, 2, "/s/0-0", false, 0, 9000, 9010),
	)
	r, _ := check(t, shortTimeouts, checkertest.Hist(base, roles(2000, withLeader)))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)

	r, d := check(t, shortTimeouts, checkertest.Hist(base, roles(2000, withoutLeader), roles(3000, withLeader)))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, 1, d.AfterBound, "the new leader granted 5 s from 3 s: the bound moved to 8 s, only the last check is after it")

	// Two leaders at once is no single leader either; and a check after
	// the extended bound is judged again.
	twoLeaders := map[string]string{"n1": "leader", "n2": "leader", "n3": "follower"}
	late := exists(1, 2, "/s/0-0", true, 1, 8100, 8110)
	r, _ = check(t, shortTimeouts, checkertest.Hist(base, late, roles(2000, twoLeaders), roles(3000, withLeader)))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)

	// A history that ends without a leader never reaches the bound.
	r, d = check(t, shortTimeouts, checkertest.Hist(base, late, roles(2000, withoutLeader)))
	assert.Equal(t, checker.Unknown, r.Verdict, r.Message)
	assert.Zero(t, d.AfterBound)
}

func TestSessionsEphemeralAbsentWhileItsSessionLivesIsInvalid(t *testing.T) {
	ops := checkertest.Hist(
		create(0, 1, "/s/0-0", history.OK, 0, 10),
		exists(1, 2, "/s/0-0", false, 0, 100, 110),
		exists(0, 1, "/s/0-1", false, 0, 200, 210), // session 1 still works
	)
	r, d := check(t, shortTimeouts, ops)
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	require.Equal(t, 1, d.Violations)
	assert.Equal(t, AbsentWhileLive, d.Examples[0].Kind)
	assert.Equal(t, history.Process(1), d.Examples[0].Process)
}

// The owner's own check finding its node gone, followed by any success on
// its session, is the same violation.
func TestSessionsOwnerFindingItsNodeGoneIsInvalid(t *testing.T) {
	ops := checkertest.Hist(
		create(0, 1, "/s/0-0", history.OK, 0, 10),
		exists(0, 1, "/s/0-0", false, 0, 100, 110),
		exists(0, 1, "/s/0-0", false, 0, 200, 210),
	)
	r, d := check(t, shortTimeouts, ops)
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Equal(t, 1, d.Violations, "the last check has no later proof")
}

// Cut off from the ensemble, a client does not know that its session has
// expired: the node vanishes while the owner still believes it lives. No
// later success on the session, so that is expiry, not a violation.
func TestSessionsAbsentBeforeTheOwnerHearsOfTheExpiryIsAllowed(t *testing.T) {
	ops := checkertest.Hist(
		create(0, 1, "/s/0-0", history.OK, 0, 10),
		exists(0, 1, "/s/0-0", true, 1, 20, 30),
		exists(1, 2, "/s/0-0", true, 1, 40, 50),
		exists(0, 1, "/s/0-0", true, 1, 60, 70),
		existsInfo(0, 1, "/s/0-0", 100, 5100), // isolated
		exists(1, 2, "/s/0-0", false, 0, 5000, 5010),
		event(1, Expired, 9000),
		create(2, 3, "/s/2-1", history.OK, 9010, 9020),
	)
	r, d := check(t, shortTimeouts, ops)
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, 2, d.ProvenAlive)
	assert.Zero(t, d.AfterEnd, "the absence was seen before the expiry was heard of")
}

// A check that began before the create finished may well miss the node.
func TestSessionsAbsentDuringTheCreateIsAllowed(t *testing.T) {
	ops := checkertest.Hist(
		create(0, 1, "/s/0-0", history.OK, 0, 100),
		exists(1, 2, "/s/0-0", false, 0, 50, 60),
		exists(0, 1, "/s/0-0", true, 1, 200, 210),
		exists(0, 1, "/s/0-0", true, 1, 300, 310),
	)
	r, d := check(t, shortTimeouts, ops)
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, 1, d.ProvenAlive, "only the check at 200 ms, which began after the create")
}

func TestSessionsEphemeralOwnedByAnotherSessionIsInvalid(t *testing.T) {
	ops := checkertest.Hist(
		create(0, 1, "/s/0-0", history.OK, 0, 10),
		exists(1, 2, "/s/0-0", true, 9, 40, 50),
		exists(0, 1, "/s/0-0", true, 9, 60, 70),
	)
	r, d := check(t, shortTimeouts, ops)
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Equal(t, WrongOwner, d.Examples[0].Kind)
}

// A create whose outcome is unknown, or that changed sessions midway, names
// no owner; a check that saw the node does.
func TestSessionsOwnerComesFromTheChecksWhenTheCreateIsUncertain(t *testing.T) {
	unattributed := checkertest.Hist(
		create(0, 1, "/s/0-0", history.Info, 0, 10),
		exists(1, 2, "/s/0-0", false, 0, 100, 110),
		exists(0, 1, "/s/0-1", false, 0, 200, 210),
	)
	r, d := check(t, shortTimeouts, unattributed)
	assert.Equal(t, checker.Unknown, r.Verdict, r.Message)
	assert.Equal(t, 2, d.Unattributed)

	switched := checkertest.Hist(
		create(0, 1, "/s/0-0", history.OK, 0, 10),
		exists(1, 2, "/s/0-0", true, 5, 100, 110),
		exists(1, 2, "/s/0-0", false, 0, 200, 210),
		exists(0, 5, "/s/0-1", false, 0, 300, 310), // session 5 lives on
	)
	for i := range switched {
		if switched[i].F == Create && switched[i].Type == history.OK {
			switched[i].Session = 5 // the session changed during the create
		}
	}
	r, d = check(t, shortTimeouts, switched)
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Equal(t, AbsentWhileLive, d.Examples[0].Kind)
	assert.Equal(t, int64(5), d.Examples[0].Owner)
}

func TestSessionsWithoutJudgeableChecksIsUnknown(t *testing.T) {
	r, _ := check(t, shortTimeouts, nil)
	assert.Equal(t, checker.Unknown, r.Verdict, r.Message)

	// Checks of a live node without later proof of its session, and
	// indeterminate checks, judge nothing.
	r, d := check(t, shortTimeouts, checkertest.Hist(
		create(0, 1, "/s/0-0", history.OK, 0, 10),
		exists(1, 2, "/s/0-0", true, 1, 40, 50),
		existsInfo(1, 2, "/s/0-0", 60, 70),
	))
	assert.Equal(t, checker.Unknown, r.Verdict, r.Message)
	assert.Equal(t, 1, d.Checks)
}

// The timeout a history records widens a smaller configured one.
func TestSessionsTimeoutRecordedInTheHistoryWidensTheBound(t *testing.T) {
	established := event(1, Established, 0)
	established[0].Value = history.Int64(10_000)
	ops := checkertest.Hist(
		established,
		create(0, 1, "/s/0-0", history.OK, 0, 10),
		event(1, Expired, 1000),
		exists(1, 2, "/s/0-0", true, 1, 7000, 7010),
		exists(1, 2, "/s/0-0", false, 0, 12500, 12510),
	)
	r, d := check(t, shortTimeouts, ops)
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, 10*time.Second, d.SessionTimeout)

	// Nothing known: the longest a server grants, so no check is after
	// the bound.
	r, d = check(t, Checker{}, ops[1:])
	assert.Equal(t, checker.Unknown, r.Verdict, r.Message)
	assert.Equal(t, fallbackTimeout, d.SessionTimeout)
	assert.Equal(t, DefaultMargin, d.Margin)
}

func TestSessionsCancelledCheckIsUnknown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := shortTimeouts.Check(ctx, life())
	assert.Equal(t, checker.Unknown, r.Verdict, r.Message)
}

// A new leader grants every session its whole timeout again from when it
// starts leading: time spent before the leader was lost does not count.
func TestSessDeadlineRestartsWithANewLeader(t *testing.T) {
	gaps := []gap{{10, 20}, {30, 35}, {50, math.MaxInt64}}
	assert.Equal(t, int64(5), deadlineOf(0, 5, 0, gaps), "expired before the leader was lost")
	assert.Equal(t, int64(35), deadlineOf(0, 15, 0, gaps[:1]), "the leader after the gap grants 15 from 20")
	assert.Equal(t, int64(50), deadlineOf(0, 15, 0, gaps), "and the one after the second gap 15 from 35")
	assert.Equal(t, int64(25), deadlineOf(12, 5, 0, gaps), "ends inside a gap: 5 from its end")
	assert.Equal(t, int64(math.MaxInt64), deadlineOf(0, 30, 0, gaps), "the last gap begins before the deadline and never ends")
	assert.Equal(t, int64(math.MaxInt64), deadlineOf(0, 100, 0, gaps), "the last gap never ends")
	assert.Equal(t, int64(math.MaxInt64), deadlineOf(math.MaxInt64-1, 10, 0, nil))
	assert.Equal(t, int64(5), deadlineOf(-100, 5, 0, nil), "negative times are clamped")
	assert.Equal(t, int64(25), deadlineOf(0, 5, 6, gaps[:1]), "a gap first seen within the slack after the deadline extends it")
	assert.Equal(t, int64(5), deadlineOf(0, 5, 5, gaps[:1]), "one first seen later does not")
}

// A leader that lost its quorum, or gave way to another between two
// observations, could not commit the closeSession either.
func TestSessLeaderlessSeesLeadersThatCannotCommit(t *testing.T) {
	isolated := map[string]string{"n1": "down", "n2": "down", "n3": "leader"}
	other := map[string]string{"n1": "follower", "n2": "leader", "n3": "down"}
	gaps := leaderless(checkertest.Hist(roles(0, withLeader), roles(5000, isolated), roles(6000, other), roles(9000, other)))
	assert.Equal(t, []gap{{5000 * checkertest.Msec, 6000 * checkertest.Msec}}, gaps, "a leader without a quorum")
	gaps = leaderless(checkertest.Hist(roles(0, withLeader), roles(5000, other)))
	assert.Equal(t, []gap{{0, 5000 * checkertest.Msec}}, gaps, "a change of leader between two observations")
	assert.Empty(t, leaderless(checkertest.Hist(roles(0, withLeader), roles(5000, withLeader))))
}
