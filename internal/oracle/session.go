package oracle

import (
	"math"
	"sort"
	"time"

	"github.com/zkchaos/zkchaos/history"
)

// Sessions judges ZooKeeper's promise about ephemeral nodes as
// session.Checker claims it: a node exists while its session lives and is
// gone once the session has ended, within a bound. For every ok existence
// check it works out from the raw records which answers ZooKeeper may give,
// and the history is invalid when a check gave one it may not:
//
//   - present is allowed unless the check was invoked after the deadline of
//     the node's session: its first recorded end (expired or closed) plus
//     the bound (session timeout + margin), where a leader lost before the
//     deadline, or seen lost up to margin after it, restarts the bound when
//     the next leader starts leading;
//   - absent is allowed unless the node certainly existed before the check
//     was invoked and an ok call on its session was invoked after the check
//     completed (a session never comes back, so it was alive throughout);
//   - an owner is allowed unless the node's create certainly ran on another
//     session.
//
// A node's session is the first owner a check recorded (checks in
// invocation order), else the session its create ran on throughout. timeout
// is the clients' session timeout (the larger of it and those the history
// records is used; 60 s when neither gives one) and margin is added to it (5
// s when not positive). known is false, and valid meaningless, when no
// check of a node with a session fell under either of the first two rules.
func Sessions(ops []history.Op, timeout, margin time.Duration) (valid, known bool) {
	if margin <= 0 {
		margin = 5 * time.Second
	}
	for _, op := range ops {
		if op.Process != history.NemesisProcess && op.F == fSession && op.Type != history.Invoke && op.Session != 0 &&
			op.Event == eventEstablished && op.Value != nil && *op.Value > 0 && *op.Value < math.MaxInt64/int64(time.Millisecond) {
			timeout = max(timeout, time.Duration(*op.Value)*time.Millisecond)
		}
	}
	if timeout <= 0 {
		timeout = time.Minute
	}
	bound := saturatingAdd(int64(timeout), int64(margin))
	ends := sessionEnds(ops)
	leaderless := leaderlessSpans(ops)
	calls := pairCalls(ops)

	type node struct {
		creator, seenOwner int64
		existedBy          int64
		existed            bool
	}
	nodes := map[string]*node{}
	get := func(p string) *node {
		if nodes[p] == nil {
			nodes[p] = &node{}
		}
		return nodes[p]
	}
	existed := func(n *node, t int64) {
		if !n.existed || t < n.existedBy {
			n.existedBy, n.existed = t, true
		}
	}
	lastAlive := map[int64]int64{}
	var checks []pairedCall
	for _, c := range calls {
		if !c.ok() {
			continue
		}
		switch c.inv.F {
		case fCreate:
			p := c.done.Path
			if p == "" {
				p = c.inv.Path
			}
			if p == "" {
				continue
			}
			n := get(p)
			existed(n, c.done.Time)
			if n.creator == 0 {
				n.creator = c.session()
			}
		case fExists:
			if c.inv.Path == "" || c.done.Value == nil {
				continue
			}
			n := get(c.inv.Path)
			if *c.done.Value == 1 {
				existed(n, c.done.Time)
				if v := c.done.Values; n.seenOwner == 0 && len(v) > 0 && v[0] != 0 {
					n.seenOwner = v[0]
				}
			}
			checks = append(checks, c)
		default:
			continue
		}
		if s := c.session(); s != 0 {
			lastAlive[s] = max(lastAlive[s], c.inv.Time)
		}
	}

	valid = true
	for _, c := range checks {
		n := nodes[c.inv.Path]
		present := *c.done.Value == 1
		if v := c.done.Values; present && len(v) > 0 && v[0] != 0 && n.creator != 0 && v[0] != n.creator {
			valid = false
		}
		owner := n.seenOwner
		if owner == 0 {
			owner = n.creator
		}
		if owner == 0 {
			continue
		}
		mayBePresent, mayBeAbsent := true, true
		if ts, ended := ends[owner]; ended {
			end := ts[0]
			for _, t := range ts {
				end = min(end, t)
			}
			if c.inv.Time > end && c.inv.Time > goneBy(end, bound, int64(margin), leaderless) {
				mayBePresent = false
			}
		}
		if n.existed && c.inv.Time > n.existedBy && lastAlive[owner] > c.done.Time {
			mayBeAbsent = false
		}
		if !mayBePresent || !mayBeAbsent {
			known = true
		}
		if (present && !mayBePresent) || (!present && !mayBeAbsent) {
			valid = false
		}
	}
	if !valid {
		return false, true
	}
	return true, known
}

// span is a time when no leader could commit, [from, to); to is MaxInt64
// when no role observation followed.
type span struct{ from, to int64 }

// leaderlessSpans returns the times the role observations showed no leader
// that could commit (none, several, or one that, with the nodes following
// it, is no majority of the nodes observed): from each such observation to
// the next; and, from one observation to the next, every change of the
// leader that could commit. In time order (observations at one time in the
// order recorded); times are clamped at 0.
func leaderlessSpans(ops []history.Op) []span {
	var obs []history.Op
	for _, op := range ops {
		if op.Process == history.NemesisProcess && op.F == history.FRoles && op.Type != history.Invoke {
			op.Time = max(op.Time, 0)
			obs = append(obs, op)
		}
	}
	sort.SliceStable(obs, func(i, j int) bool { return obs[i].Time < obs[j].Time })
	var spans []span
	previous := ""
	for i, o := range obs {
		var leaders []string
		voting := 0
		for name, r := range o.Roles {
			switch r {
			case "leader":
				leaders = append(leaders, name)
				voting++
			case "follower":
				voting++
			}
		}
		if len(leaders) == 1 && 2*voting > len(o.Roles) {
			if previous != "" && previous != leaders[0] {
				spans = append(spans, span{obs[i-1].Time, o.Time})
			}
			previous = leaders[0]
			continue
		}
		previous = ""
		s := span{o.Time, math.MaxInt64}
		if i+1 < len(obs) {
			s.to = obs[i+1].Time
		}
		spans = append(spans, s)
	}
	return spans
}

// goneBy is when the nodes of a session that ended at end must be gone: the
// bound after the end, and, whenever the ensemble lost its leader before that
// time came (or was seen to have lost it up to slack after: a lost leader
// goes unnoticed for a while), the bound after the leader came back (a new
// leader starts every session's timeout again). It repeats until no lost
// leader moves the time.
func goneBy(end, bound, slack int64, leaderless []span) int64 {
	end = max(end, 0)
	by := saturatingAdd(end, bound)
	for moved := true; moved; {
		moved = false
		for _, s := range leaderless {
			if s.to <= end || s.from >= saturatingAdd(by, slack) {
				continue
			}
			if t := saturatingAdd(s.to, bound); t > by {
				by, moved = t, true
			}
		}
	}
	return by
}

// saturatingAdd is a+b for non-negative b, at most MaxInt64.
func saturatingAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
