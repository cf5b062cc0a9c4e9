package session

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	sessioncheck "github.com/zkchaos/zkchaos/checker/session"
	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/local"
	"github.com/zkchaos/zkchaos/cluster/local/localtest"
	"github.com/zkchaos/zkchaos/history"
)

// TestNewLeaderGrantsEverySessionAFullTimeout is the known answer behind
// the Sessions checker's deadline across a leaderless gap, on real servers.
// A session on the leader is closed while the leader is cut off from its
// followers (links hang), so the closeSession is never committed, and the
// client has seen its session end. The followers notice only after
// syncLimit*tickTime (5 s, most of the 4 s session timeout later) and elect
// a new leader, whose session tracker adds every session of its data tree
// with its whole timeout. So the ephemeral node must outlive the new
// leader's start by most of a session timeout, which a deadline that spent
// the time before the gap would call a violation, and must be gone a session
// timeout and a margin after the new leader appeared. The checker, given
// the history the test records (the workload's own existence checks and the
// harness's role observations), must find it valid and must have judged
// checks on both sides of that deadline.
func TestNewLeaderGrantsEverySessionAFullTimeout(t *testing.T) {
	localtest.RequireZooKeeper(t)
	const timeout, margin = 4 * time.Second, 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e, err := local.Start(ctx, local.Config{Dir: t.TempDir(), Nodes: 3, Partitions: true})
	require.NoError(t, err)
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		assert.NoError(t, e.Close(cctx))
	}()

	start := time.Now()
	rec := &timeline{start: start}
	roles := e.Roles(ctx)
	leaderName := cluster.LeaderOf(roles)
	require.NotEmpty(t, leaderName, "roles %v", roles)
	var leader cluster.Node
	var followers []string
	var followerAddrs []string
	for _, n := range e.Nodes() {
		if n.Name == leaderName {
			leader = n
			continue
		}
		followers = append(followers, n.Name)
		followerAddrs = append(followerAddrs, n.ClientAddr)
	}

	// The owner: a session on the leader, with its ephemeral node.
	owner, events, err := zk.Connect([]string{leader.ClientAddr}, timeout, zk.WithLogInfo(false))
	require.NoError(t, err)
	waitSession(ctx, t, events)
	ownerID := owner.SessionID()
	rec.add(history.Op{Type: history.Info, F: sessioncheck.F, Process: 0, Event: sessioncheck.Established,
		Session: ownerID, Value: history.Int64(timeout.Milliseconds())})
	path := "/deadline"
	create := history.Op{Type: history.Invoke, F: sessioncheck.Create, Process: 0, Path: path, Session: ownerID}
	rec.add(create)
	done := rec.add(createEphemeral(owner, create))
	require.Equal(t, history.OK, done.Type, done.Error)

	// The checker: a session on the followers that outlives the gap.
	observer, oevents, err := zk.Connect(followerAddrs, 10*time.Second, zk.WithLogInfo(false))
	require.NoError(t, err)
	defer observer.Close()
	waitSession(ctx, t, oevents)

	// Roles are observed as the harness does, every quarter second.
	rolesDone := make(chan struct{})
	rctx, stopRoles := context.WithCancel(ctx)
	go func() {
		defer close(rolesDone)
		observeRoles(rctx, e, rec)
	}()
	defer func() { stopRoles(); <-rolesDone }()

	// Cut the leader off, then close the owner's session on it.
	grudge := cluster.Grudge{leader.Name: followers}
	for _, f := range followers {
		grudge[f] = []string{leader.Name}
	}
	require.NoError(t, e.Partition(ctx, grudge, cluster.LinkHang))
	owner.Close() // the closeSession waits for a quorum that never answers; Close gives up after 1 s
	rec.add(history.Op{Type: history.Info, F: sessioncheck.F, Process: 0, Event: sessioncheck.Closed, Session: ownerID})

	// Check the node until it has been gone for a while after a new leader
	// appeared, then heal.
	var newLeaderAt time.Duration
	goneSince := time.Duration(-1)
	for ctx.Err() == nil {
		inv := history.Op{Type: history.Invoke, F: sessioncheck.Exists, Process: 1, Path: path, Session: observer.SessionID()}
		rec.add(inv)
		res := exists(observer, inv)
		res.Session = observer.SessionID()
		res = rec.add(res)
		now := time.Duration(res.Time)
		if newLeaderAt == 0 {
			newLeaderAt = rec.newLeaderSince(leader.Name)
		}
		if res.Type == history.OK && *res.Value == 0 && goneSince < 0 {
			goneSince = now
		}
		if newLeaderAt > 0 && goneSince > 0 && now > newLeaderAt+timeout+margin+time.Second {
			break
		}
		require.Less(t, now, time.Minute, "no new leader, or the node never went")
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, e.HealLinks(ctx))
	stopRoles()
	<-rolesDone

	ops := rec.ops()
	for _, op := range ops {
		if op.F == history.FRoles {
			t.Logf("%v roles %v", time.Duration(op.Time), op.Roles)
		}
	}
	gap := rec.gap()
	closedAt := rec.closedAt()
	t.Logf("closed at %v; no leader from %v to %v (new leader seen at %v); node gone by the check completed at %v",
		closedAt, gap.from, gap.to, newLeaderAt, goneSince)
	require.Positive(t, gap.to, "a leaderless gap was observed and ended")
	require.Greater(t, gap.from, closedAt, "the session was seen to end before the gap began")

	// The server: the node outlived the new leader's start by most of a
	// timeout, far past what was left of the timeout when the gap began.
	lastPresent := rec.lastPresentInvoked()
	assert.Greater(t, lastPresent, gap.to+timeout/2,
		"the new leader granted the session a full timeout from when it started leading")
	spent := gap.from - closedAt
	budgetDeadline := gap.to + timeout + margin - spent
	assert.Greater(t, lastPresent, budgetDeadline,
		"a deadline that spends the time before the gap (%v of it) would have called this node late", spent)
	assert.Less(t, goneSince, gap.to+timeout+margin, "the node went within a timeout and the margin of the new leader")

	// The checker agrees with the servers.
	res := sessioncheck.Checker{SessionTimeout: timeout, Margin: margin}.Check(ctx, ops)
	assert.Equal(t, checker.Valid, res.Verdict, res.Message)
	d, ok := res.Details.(sessioncheck.Details)
	require.True(t, ok)
	assert.Positive(t, d.AfterBound, "checks after the deadline were judged: %s", res.Message)
	assert.Positive(t, d.AfterEnd-d.AfterBound, "checks between the end and the deadline were judged: %s", res.Message)
	t.Log(res.Message)
}

// waitSession waits until a new connection has its session.
func waitSession(ctx context.Context, t *testing.T, events <-chan zk.Event) {
	t.Helper()
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return
			}
		case <-ctx.Done():
			require.FailNow(t, "no session", ctx.Err())
		}
	}
}

// createEphemeral completes create, the node being the owner's ephemeral.
func createEphemeral(conn *zk.Conn, op history.Op) history.Op {
	c := create(conn, op)
	c.Session = conn.SessionID()
	return c
}

// timeline records a test's history with times since its start.
type timeline struct {
	start time.Time
	mu    sync.Mutex
	list  []history.Op
}

// add stamps op with the time and appends it.
func (tl *timeline) add(op history.Op) history.Op {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	op.Time = int64(time.Since(tl.start))
	op.Index = int64(len(tl.list))
	tl.list = append(tl.list, op)
	return op
}

// ops returns what was recorded.
func (tl *timeline) ops() []history.Op {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return append([]history.Op(nil), tl.list...)
}

// observeRoles records every change of roles until ctx ends.
func observeRoles(ctx context.Context, e *local.Ensemble, tl *timeline) {
	var last string
	for ctx.Err() == nil {
		roles := map[string]string{}
		for n, r := range e.Roles(ctx) {
			roles[n] = string(r)
		}
		if ctx.Err() != nil {
			return
		}
		if key := fmt.Sprint(roles); key != last {
			last = key
			tl.add(history.Op{Type: history.Info, F: history.FRoles, Process: history.NemesisProcess, Roles: roles})
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// leaderGap is a time without a leader able to commit.
type leaderGap struct{ from, to time.Duration }

// committing returns the single leader of roles if it and its followers are
// a majority, or "".
func committing(roles map[string]string) string {
	leader, voters := "", 0
	for n, r := range roles {
		switch r {
		case string(cluster.Leader):
			if leader != "" {
				return ""
			}
			leader = n
			voters++
		case string(cluster.Follower):
			voters++
		}
	}
	if 2*voters <= len(roles) {
		return ""
	}
	return leader
}

// newLeaderSince returns when a leader other than old was first observed
// able to commit, or 0.
func (tl *timeline) newLeaderSince(old string) time.Duration {
	for _, op := range tl.ops() {
		if op.F == history.FRoles {
			if l := committing(op.Roles); l != "" && l != old {
				return time.Duration(op.Time)
			}
		}
	}
	return 0
}

// gap returns the first time without a leader able to commit, and its end.
func (tl *timeline) gap() leaderGap {
	var g leaderGap
	seen := false
	for _, op := range tl.ops() {
		if op.F != history.FRoles {
			continue
		}
		leaderless := committing(op.Roles) == ""
		switch {
		case leaderless && !seen:
			g.from, seen = time.Duration(op.Time), true
		case !leaderless && seen:
			g.to = time.Duration(op.Time)
			return g
		}
	}
	return g
}

// closedAt returns when the owner's session was seen to end.
func (tl *timeline) closedAt() time.Duration {
	for _, op := range tl.ops() {
		if op.Event == sessioncheck.Closed {
			return time.Duration(op.Time)
		}
	}
	return 0
}

// lastPresentInvoked returns the invocation time of the last check that
// found the node present.
func (tl *timeline) lastPresentInvoked() time.Duration {
	var last time.Duration
	ops := tl.ops()
	invoked := map[history.Process]int64{}
	for _, op := range ops {
		if op.F != sessioncheck.Exists {
			continue
		}
		if op.Type == history.Invoke {
			invoked[op.Process] = op.Time
			continue
		}
		if op.Type == history.OK && op.Value != nil && *op.Value == 1 {
			last = time.Duration(invoked[op.Process])
		}
	}
	return last
}
