package checker

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/zkchaos/zkchaos/history"
)

// Records of sessions and ephemeral nodes (the session workload; the lock
// workload records session events too).
const (
	// SessionF names a session event record: an info record with Event
	// set, Session the session it concerns and Node the server. It is
	// written by a process of its own that never invokes anything, so it can
	// never be taken for the completion of an operation.
	SessionF = "session"
	// SessionCreate creates the ephemeral node Path on the caller's session.
	SessionCreate = "create"
	// SessionExists asks whether the ephemeral node Path exists, confirmed
	// through the quorum: Value is 1 (present) or 0 (absent), and Values[0]
	// the node's ephemeral owner when the read saw it.
	SessionExists = "exists"
)

// Events of session records.
const (
	// SessionEstablished is a new session; Value is the session timeout the
	// client asked for, in milliseconds.
	SessionEstablished = "StateHasSession"
	// SessionDisconnected is a lost connection (the session may survive).
	SessionDisconnected = "StateDisconnected"
	// SessionExpired is the server's word that the session has expired.
	SessionExpired = "StateExpired"
	// SessionClosed is the client closing the session itself.
	SessionClosed = "closed"
)

// DefaultSessionMargin is the default Sessions.Margin.
const DefaultSessionMargin = 5 * time.Second

// sessionFallbackTimeout is the session timeout assumed when neither the
// checker nor the history gives one: the harness's maxSessionTimeout, the
// longest a server would grant.
const sessionFallbackTimeout = 60 * time.Second

// Sessions judges ZooKeeper's promise about ephemeral nodes: an ephemeral
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
type Sessions struct {
	// SessionTimeout is the clients' session timeout. The checker uses the
	// larger of it and the timeouts the history records; when neither gives
	// one it assumes 60s.
	SessionTimeout time.Duration
	// Margin is added to the bound (default DefaultSessionMargin, 5s). It
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
func (Sessions) Name() string { return "sessions" }

// Kinds of SessionViolation.
const (
	SessionPresentAfterEnd = "present after its session ended"
	SessionAbsentWhileLive = "absent while its session was alive"
	SessionWrongOwner      = "owned by another session"
)

// sessionExampleLimit bounds the violations listed; all are counted.
const sessionExampleLimit = 20

// SessionViolation is one check that broke a rule.
type SessionViolation struct {
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
	// Evidence says what the check contradicts.
	Evidence string `json:"evidence"`
}

// SessionsDetails is the evidence of the sessions checker.
type SessionsDetails struct {
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
	Violations int                `json:"violations"`
	Examples   []SessionViolation `json:"examples,omitempty"`
}

// sessNode is what the history says about one ephemeral node.
type sessNode struct {
	creator   int64 // session the create certainly ran on, 0 if unknown
	owner     int64 // first ephemeral owner a check saw
	createdBy int64 // earliest time it certainly existed
	known     bool  // createdBy is set
}

// Check applies the three rules to every ok existence check.
func (s Sessions) Check(ctx context.Context, ops []history.Op) Result {
	start := time.Now()
	r := s.check(ctx, ops)
	r.Checker = s.Name()
	r.Duration = time.Since(start)
	return r
}

func (s Sessions) check(ctx context.Context, ops []history.Op) Result {
	d := SessionsDetails{Margin: s.Margin, SessionTimeout: s.SessionTimeout}
	if d.Margin <= 0 {
		d.Margin = DefaultSessionMargin
	}
	ended := map[int64]int64{} // session -> first time seen to end
	for _, op := range ops {
		if op.IsNemesis() || op.F != SessionF || op.Type == history.Invoke || op.Session == 0 {
			continue
		}
		switch op.Event {
		case SessionEstablished:
			if op.Value != nil && *op.Value > 0 && *op.Value < math.MaxInt64/int64(time.Millisecond) {
				d.SessionTimeout = max(d.SessionTimeout, time.Duration(*op.Value)*time.Millisecond)
			}
		case SessionExpired, SessionClosed:
			if t, ok := ended[op.Session]; !ok || op.Time < t {
				ended[op.Session] = op.Time
			}
		}
	}
	if d.SessionTimeout <= 0 {
		d.SessionTimeout = sessionFallbackTimeout
	}
	d.SessionsEnded = len(ended)
	bound := int64(d.SessionTimeout) + int64(d.Margin)
	if bound < 0 { // overflow of absurd settings
		bound = math.MaxInt64
	}
	gaps := sessLeaderless(ops)

	calls := history.Calls(ops)
	nodes := map[string]*sessNode{}
	node := func(p string) *sessNode {
		n := nodes[p]
		if n == nil {
			n = &sessNode{}
			nodes[p] = n
		}
		return n
	}
	seen := func(n *sessNode, t int64) {
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
		case SessionCreate:
			path := sessPath(c.Complete.Path, c.Invoke.Path)
			if path == "" {
				continue
			}
			n := node(path)
			seen(n, c.Complete.Time)
			if s := sessionThroughout(c); s != 0 && n.creator == 0 {
				n.creator = s
			}
		case SessionExists:
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
		if s := sessionThroughout(c); s != 0 {
			alive[s] = max(alive[s], c.Invoke.Time)
		}
	}
	d.Nodes = len(nodes)

	violate := func(v SessionViolation) {
		d.Violations++
		if len(d.Examples) < sessionExampleLimit {
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
		v := SessionViolation{Path: path, Process: c.Invoke.Process, Invoked: c.Invoke.Time,
			Completed: c.Complete.Time, Index: c.Complete.Index}
		var readOwner int64
		if vs := c.Complete.Values; present && len(vs) > 0 {
			readOwner = vs[0]
		}
		if readOwner != 0 && n.creator != 0 && readOwner != n.creator {
			v.Kind, v.Owner = SessionWrongOwner, readOwner
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
			if deadline := sessDeadline(end, bound, int64(d.Margin), gaps); c.Invoke.Time > deadline {
				d.AfterBound++
				if present {
					v.Kind = SessionPresentAfterEnd
					v.Evidence = fmt.Sprintf("session %#x was seen to end at %s; the node should have been gone by %s (session timeout %s + margin %s + time without a leader)",
						owner, sessMS(end), sessMS(deadline), d.SessionTimeout, d.Margin)
					violate(v)
				}
			}
		}
		if last, ok := alive[owner]; ok && last > c.Complete.Time && n.known && c.Invoke.Time > n.createdBy {
			d.ProvenAlive++
			if !present {
				v.Kind = SessionAbsentWhileLive
				v.Evidence = fmt.Sprintf("the node existed by %s, and an operation on session %#x invoked at %s, after this check, succeeded",
					sessMS(n.createdBy), owner, sessMS(last))
				violate(v)
			}
		}
	}

	r := Result{Details: d}
	summary := fmt.Sprintf("%d checks of %d ephemeral nodes: %d while the owner's session was proven alive, %d after it ended (%d found the node gone), %d after the bound of %s",
		d.Checks, d.Nodes, d.ProvenAlive, d.AfterEnd, d.AbsentAfterEnd, d.AfterBound, time.Duration(bound))
	switch {
	case d.Violations > 0:
		first := d.Examples[0]
		r.Verdict = Invalid
		r.Message = fmt.Sprintf("%d checks contradict the ephemeral nodes' sessions; first: %s %s (check by process %s at %s): %s. %s.",
			d.Violations, first.Path, first.Kind, first.Process, sessMS(first.Invoked), first.Evidence, summary)
		if cut != "" {
			r.Message += " The check " + cut + "."
		}
	case cut != "":
		r.Verdict, r.Message = Unknown, "The check "+cut+"; no contradiction was found before. "+summary+"."
	case d.ProvenAlive == 0 && d.AfterBound == 0:
		r.Verdict = Unknown
		r.Message = "no evidence: no check was made while its node's session was proven alive or after the session had certainly ended. " + summary + "."
	default:
		r.Verdict = Valid
		r.Message = "every ephemeral node existed while its session lived and was gone after it ended. " + summary + "."
	}
	return r
}

func sessPath(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// sessGap is a time without a leader able to commit; to is MaxInt64 when
// it never ended.
type sessGap struct{ from, to int64 }

// sessLeaderless returns, in time order, the times when the harness's role
// observations showed no leader able to commit: no single leader, or one
// without a quorum of followers; and, as a gap between the two
// observations, every change from one leader to another.
func sessLeaderless(ops []history.Op) []sessGap {
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
	var gaps []sessGap
	add := func(from, to int64) {
		if n := len(gaps); n > 0 && gaps[n-1].to >= from {
			gaps[n-1].to = max(gaps[n-1].to, to)
			return
		}
		gaps = append(gaps, sessGap{from, to})
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
	leader := leaderOf(roles)
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

// sessDeadline is when a session that ended at t must be gone from the
// servers: t plus bound, unless the ensemble lost its leader before then. A
// new leader starts every session's timeout again, in full, when it starts
// leading (its session tracker adds each session with its whole timeout), so
// each gap first seen before the deadline plus slack (how long a leader's
// loss may go unseen) moves it to the end of that gap plus bound. Times are
// never negative (gaps are clamped likewise), so no sum overflows unchecked.
func sessDeadline(t, bound, slack int64, gaps []sessGap) int64 {
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

// sessionThroughout is the session a call ran on from invocation to completion, or
// 0 when it changed or is unknown. Session ids are never reused, so equal ids
// at both ends mean one session throughout.
func sessionThroughout(c history.Call) int64 {
	if c.Invoke.Session != 0 && c.Invoke.Session == c.Complete.Session {
		return c.Invoke.Session
	}
	return 0
}
