// Package session judges ZooKeeper's promise about ephemeral nodes: one
// exists while its session lives and disappears after the session ends, and
// only then. It also names the session records the lock and session
// workloads write.
package session

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/recovery"
	"github.com/zkchaos/zkchaos/history"
)

// Records of sessions and ephemeral nodes (the session workload; the lock
// workload records session events too).
const (
	// F names a session event record: an info record with Event
	// set, Session the session it concerns and Node the server. It is
	// written by a process of its own that never invokes anything, so it can
	// never be taken for the completion of an operation.
	F = "session"
	// Create creates the ephemeral node Path on the caller's session.
	Create = "create"
	// Exists asks whether the ephemeral node Path exists, confirmed
	// through the quorum: Value is 1 (present) or 0 (absent), and Values[0]
	// the node's ephemeral owner when the read saw it.
	Exists = "exists"
)

// Events of session records.
const (
	// Established is a new session; Value is the session timeout the
	// client asked for, in milliseconds.
	Established = "StateHasSession"
	// Disconnected is a lost connection (the session may survive).
	Disconnected = "StateDisconnected"
	// Expired is the server's word that the session has expired.
	Expired = "StateExpired"
	// Closed is the client closing the session itself.
	Closed = "closed"
)

// DefaultMargin is the default Checker.Margin.
const DefaultMargin = 5 * time.Second

// fallbackTimeout is the session timeout assumed when neither the
// checker nor the history gives one: the harness's maxSessionTimeout, the
// longest a server would grant.
const fallbackTimeout = 60 * time.Second

// Checker judges ZooKeeper's promise about ephemeral nodes: an ephemeral
// node exists while its session lives, disappears after the session ends,
// and only then. It reads the existence checks of the session workload, each
// confirmed by a check-only multi that the leader orders with every write,
// so that present and absent are linearizable facts, not a follower's stale
// view. A node's session is its recorded ephemeral owner (Stat), else the
// session its create ran on. Three rules:
//
//   - present too late: a check invoked after the owner's session was seen to
//     end (expired or closed) plus the bound found the node. The bound is
//     the session timeout plus Margin, extended by any time the ensemble had
//     no leader able to commit (from the harness's role observations: no
//     single leader, a leader without a quorum of followers, or a change of
//     leader between two observations): a session whose closeSession the
//     old leader did not commit is expired again by the next leader, a whole
//     session timeout after it starts leading. A leader's loss may go unseen
//     for a while (an isolated leader leads on, and its followers follow,
//     until they give up on each other after syncLimit*tickTime), so a gap
//     first seen up to Margin after the deadline still extends it;
//   - absent too early: a check found the node absent after it was known to
//     exist, yet an operation on the owner's session, invoked after the check
//     completed, succeeded. Sessions never come back, so the session was
//     alive when the node was gone;
//   - wrong owner: a check saw the node owned by a session other than the
//     one its create certainly ran on.
//
// The verdict is unknown when no check could be judged by either of the
// first two rules.
type Checker struct {
	// SessionTimeout is the clients' session timeout. The checker uses the
	// larger of it and the timeouts the history records; when neither gives
	// one it assumes 60s.
	SessionTimeout time.Duration
	// Margin is added to the bound (default DefaultMargin, 5s). It
	// covers what lies between a client learning that its session ended and
	// the server deleting its nodes: sessions expire in buckets of one tick,
	// the closeSession transaction still has to be committed by a quorum, the
	// role observations that extend the bound are a quarter second apart,
	// and a loaded two-core machine stalls a JVM for a second or two. It is
	// also how long the loss of a leader may go unseen by the role
	// observations (syncLimit*tickTime, 5 s in the harness's ensembles).
	Margin time.Duration
}

// Name returns "sessions".
func (Checker) Name() string { return "sessions" }

// Kinds of Violation.
const (
	PresentAfterEnd = "present after its session ended"
	AbsentWhileLive = "absent while its session was alive"
	WrongOwner      = "owned by another session"
)

// exampleLimit bounds the violations listed; all are counted.
const exampleLimit = 20

// Violation is one check that broke a rule.
type Violation struct {
	// Kind is one of the Session* kinds.
	Kind string `json:"kind"`
	// Path is the ephemeral node.
	Path string `json:"path"`
	// Owner is the node's session.
	Owner int64 `json:"owner"`
	// Process, Invoked, Completed and Index identify the check.
	Process   history.Process `json:"process"`
	Invoked   int64           `json:"invoked_ns"`
	Completed int64           `json:"completed_ns"`
	Index     int64           `json:"index"`
	// invoked is the index of the check's invocation record.
	invoked int64
	// Evidence says what the check contradicts.
	Evidence string `json:"evidence"`
}

// Details is the evidence of the sessions checker.
type Details struct {
	// SessionTimeout and Margin are what the bound was made of.
	SessionTimeout time.Duration `json:"session_timeout_ns"`
	Margin         time.Duration `json:"margin_ns"`
	// Nodes is the number of ephemeral nodes created or seen.
	Nodes int `json:"nodes"`
	// SessionsEnded is the number of sessions seen to end.
	SessionsEnded int `json:"sessions_ended"`
	// Checks is the number of ok checks of nodes whose owner is known;
	// Unattributed the ok checks of nodes whose owner is not.
	Checks       int `json:"checks"`
	Unattributed int `json:"unattributed"`
	// AfterEnd counts checks invoked after the owner's session was seen to
	// end, AbsentAfterEnd those of them that found the node gone, and
	// AfterBound those invoked after the bound (which must find it gone).
	AfterEnd       int `json:"after_end"`
	AbsentAfterEnd int `json:"absent_after_end"`
	AfterBound     int `json:"after_bound"`
	// ProvenAlive counts checks made while the owner's session was proven
	// alive (which must find the node).
	ProvenAlive int `json:"proven_alive"`
	// Violations counts broken rules; Examples lists the first.
	Violations int         `json:"violations"`
	Examples   []Violation `json:"examples,omitempty"`
}

// ephemeral is what the history says about one ephemeral node.
type ephemeral struct {
	creator   int64 // session the create certainly ran on, 0 if unknown
	owner     int64 // first ephemeral owner a check saw
	createdBy int64 // earliest time it certainly existed
	known     bool  // createdBy is set
}

// Check applies the three rules to every ok existence check.
func (s Checker) Check(ctx context.Context, ops []history.Op) checker.Result {
	start := time.Now()
	r := s.check(ctx, ops)
	r.Checker = s.Name()
	r.Duration = time.Since(start)
	return r
}

func (s Checker) check(ctx context.Context, ops []history.Op) checker.Result {
	d := Details{Margin: s.Margin, SessionTimeout: s.SessionTimeout}
	if d.Margin <= 0 {
		d.Margin = DefaultMargin
	}
	ended := map[int64]int64{} // session -> first time seen to end
	for _, op := range ops {
		if op.IsNemesis() || op.F != F || op.Type == history.Invoke || op.Session == 0 {
			continue
		}
		switch op.Event {
		case Established:
			if op.Value != nil && *op.Value > 0 && *op.Value < math.MaxInt64/int64(time.Millisecond) {
				d.SessionTimeout = max(d.SessionTimeout, time.Duration(*op.Value)*time.Millisecond)
			}
		case Expired, Closed:
			if t, ok := ended[op.Session]; !ok || op.Time < t {
				ended[op.Session] = op.Time
			}
		}
	}
	if d.SessionTimeout <= 0 {
		d.SessionTimeout = fallbackTimeout
	}
	d.SessionsEnded = len(ended)
	bound := int64(d.SessionTimeout) + int64(d.Margin)
	if bound < 0 { // overflow of absurd settings
		bound = math.MaxInt64
	}
	gaps := leaderless(ops)

	calls := history.Calls(ops)
	nodes := map[string]*ephemeral{}
	node := func(p string) *ephemeral {
		n := nodes[p]
		if n == nil {
			n = &ephemeral{}
			nodes[p] = n
		}
		return n
	}
	seen := func(n *ephemeral, t int64) {
		if !n.known || t < n.createdBy {
			n.createdBy, n.known = t, true
		}
	}
	alive := map[int64]int64{} // session -> latest invocation of an ok op on it
	var checks []history.Call
	for _, c := range calls {
		if c.Type() != history.OK {
			continue
		}
		switch c.Invoke.F {
		case Create:
			path := pathOf(c.Complete.Path, c.Invoke.Path)
			if path == "" {
				continue
			}
			n := node(path)
			seen(n, c.Complete.Time)
			if s := Throughout(c); s != 0 && n.creator == 0 {
				n.creator = s
			}
		case Exists:
			if c.Invoke.Path == "" || c.Complete.Value == nil {
				continue
			}
			n := node(c.Invoke.Path)
			if *c.Complete.Value == 1 {
				seen(n, c.Complete.Time)
				if v := c.Complete.Values; len(v) > 0 && v[0] != 0 && n.owner == 0 {
					n.owner = v[0]
				}
			}
			checks = append(checks, c)
		default:
			continue
		}
		if s := Throughout(c); s != 0 {
			alive[s] = max(alive[s], c.Invoke.Time)
		}
	}
	d.Nodes = len(nodes)

	violate := func(v Violation) {
		d.Violations++
		if len(d.Examples) < exampleLimit {
			d.Examples = append(d.Examples, v)
		}
	}
	var cut string // why the check stopped early
	for i, c := range checks {
		if i%1024 == 0 && ctx.Err() != nil {
			cut = fmt.Sprintf("ran out of time after %d of %d checks: %v", i, len(checks), ctx.Err())
			break
		}
		path := c.Invoke.Path
		n := nodes[path]
		present := *c.Complete.Value == 1
		v := Violation{Path: path, Process: c.Invoke.Process, Invoked: c.Invoke.Time,
			Completed: c.Complete.Time, Index: c.Complete.Index, invoked: c.Invoke.Index}
		var readOwner int64
		if vs := c.Complete.Values; present && len(vs) > 0 {
			readOwner = vs[0]
		}
		if readOwner != 0 && n.creator != 0 && readOwner != n.creator {
			v.Kind, v.Owner = WrongOwner, readOwner
			v.Evidence = fmt.Sprintf("its create ran on session %#x throughout", n.creator)
			violate(v)
		}
		owner := n.owner
		if owner == 0 {
			owner = n.creator
		}
		if owner == 0 {
			d.Unattributed++
			continue
		}
		v.Owner = owner
		d.Checks++
		if end, ok := ended[owner]; ok && c.Invoke.Time > end {
			d.AfterEnd++
			if !present {
				d.AbsentAfterEnd++
			}
			if deadline := deadlineOf(end, bound, int64(d.Margin), gaps); c.Invoke.Time > deadline {
				d.AfterBound++
				if present {
					v.Kind = PresentAfterEnd
					v.Evidence = fmt.Sprintf("session %#x was seen to end at %s; the node should have been gone by %s (session timeout %s + margin %s + time without a leader)",
						owner, checker.MillisWithUnit(end), checker.MillisWithUnit(deadline), d.SessionTimeout, d.Margin)
					violate(v)
				}
			}
		}
		if last, ok := alive[owner]; ok && last > c.Complete.Time && n.known && c.Invoke.Time > n.createdBy {
			d.ProvenAlive++
			if !present {
				v.Kind = AbsentWhileLive
				v.Evidence = fmt.Sprintf("the node existed by %s, and an operation on session %#x invoked at %s, after this check, succeeded",
					checker.MillisWithUnit(n.createdBy), owner, checker.MillisWithUnit(last))
				violate(v)
			}
		}
	}

	r := checker.Result{Details: d}
	summary := fmt.Sprintf("%d checks of %d ephemeral nodes: %d while the owner's session was proven alive, %d after it ended (%d found the node gone), %d after the bound of %s",
		d.Checks, d.Nodes, d.ProvenAlive, d.AfterEnd, d.AbsentAfterEnd, d.AfterBound, time.Duration(bound))
	switch {
	case d.Violations > 0:
		first := d.Examples[0]
		r.Verdict = checker.Invalid
		r.Message = fmt.Sprintf("%d checks contradict the ephemeral nodes' sessions; first: %s %s (check by process %s at %s): %s. %s.",
			d.Violations, first.Path, first.Kind, first.Process, checker.MillisWithUnit(first.Invoked), first.Evidence, summary)
		if cut != "" {
			r.Message += " The check " + cut + "."
		}
	case cut != "":
		r.Verdict, r.Message = checker.Unknown, "The check "+cut+"; no contradiction was found before. "+summary+"."
	case d.ProvenAlive == 0 && d.AfterBound == 0:
		r.Verdict = checker.Unknown
		r.Message = "no evidence: no check was made while its node's session was proven alive or after the session had certainly ended. " + summary + "."
	default:
		r.Verdict = checker.Valid
		r.Message = "every ephemeral node existed while its session lived and was gone after it ended. " + summary + "."
	}
	return r
}

func pathOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// gap is a time without a leader able to commit; to is MaxInt64 when
// it never ended.
type gap struct{ from, to int64 }

// leaderless returns, in time order, the times when the harness's role
// observations showed no leader able to commit: no single leader, or one
// without a quorum of followers; and, as a gap between the two
// observations, every change from one leader to another.
func leaderless(ops []history.Op) []gap {
	type obs struct {
		t      int64
		leader string // "" when no leader can commit
	}
	var points []obs
	for _, op := range ops {
		if op.IsNemesis() && op.F == history.FRoles && op.Type != history.Invoke {
			points = append(points, obs{max(op.Time, 0), committingLeader(op.Roles)})
		}
	}
	sort.SliceStable(points, func(i, j int) bool { return points[i].t < points[j].t })
	var gaps []gap
	add := func(from, to int64) {
		if n := len(gaps); n > 0 && gaps[n-1].to >= from {
			gaps[n-1].to = max(gaps[n-1].to, to)
			return
		}
		gaps = append(gaps, gap{from, to})
	}
	for i, o := range points {
		switch {
		case o.leader == "":
			to := int64(math.MaxInt64)
			if i+1 < len(points) {
				to = points[i+1].t
			}
			add(o.t, to)
		case i > 0 && points[i-1].leader != "" && points[i-1].leader != o.leader:
			add(points[i-1].t, o.t)
		}
	}
	return gaps
}

// committingLeader returns the single leader of roles when it and the
// nodes that follow it are a majority of the nodes observed, else "".
func committingLeader(roles map[string]string) string {
	leader := recovery.LeaderOf(roles)
	if leader == "" {
		return ""
	}
	voters := 0
	for _, r := range roles {
		if r == "leader" || r == "follower" {
			voters++
		}
	}
	if 2*voters <= len(roles) {
		return ""
	}
	return leader
}

// deadlineOf is when a session that ended at t must be gone from the
// servers: t plus bound, unless the ensemble lost its leader before then. A
// new leader starts every session's timeout again, in full, when it starts
// leading (its session tracker adds each session with its whole timeout), so
// each gap first seen before the deadline plus slack (how long a leader's
// loss may go unseen) moves it to the end of that gap plus bound. Times are
// never negative (gaps are clamped likewise), so no sum overflows unchecked.
func deadlineOf(t, bound, slack int64, gaps []gap) int64 {
	t, bound, slack = max(t, 0), max(bound, 0), max(slack, 0)
	plus := func(a, b int64) int64 {
		if a > math.MaxInt64-b {
			return math.MaxInt64
		}
		return a + b
	}
	deadline := plus(t, bound)
	for _, g := range gaps {
		switch {
		case g.to <= t:
			continue // over before the session ended
		case g.from >= plus(deadline, slack):
			return deadline // expired before the leader was lost
		case g.to == math.MaxInt64:
			return math.MaxInt64 // no leader ever again
		}
		deadline = max(deadline, plus(g.to, bound))
	}
	return deadline
}

// Throughout is the session a call ran on from invocation to completion, or
// 0 when it changed or is unknown. Session ids are never reused, so equal ids
// at both ends mean one session throughout.
func Throughout(c history.Call) int64 {
	if c.Invoke.Session != 0 && c.Invoke.Session == c.Complete.Session {
		return c.Invoke.Session
	}
	return 0
}
