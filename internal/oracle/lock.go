package oracle

import "github.com/zkchaos/zkchaos/history"

// Record names of the lock and session workloads, spelled out so the oracle
// depends on no constant of the production path.
const (
	fAcquire         = "acquire"
	fRelease         = "release"
	fSession         = "session"
	fCreate          = "create"
	fExists          = "exists"
	eventExpired     = "StateExpired"
	eventClosed      = "closed"
	eventEstablished = "StateHasSession"
)

// pairedCall is one client invocation and what completed it: the next
// record of the same process, if that record is a completion; otherwise the
// call never completed (done is nil).
type pairedCall struct {
	inv  history.Op
	done *history.Op
	at   int // position of the invocation in the history
}

// ok reports whether the call certainly happened.
func (c pairedCall) ok() bool { return c.done != nil && c.done.Type == history.OK }

// session is the session the call ran on from invocation to completion, 0
// when it is unknown or changed (ids are never reused).
func (c pairedCall) session() int64 {
	if c.done != nil && c.inv.Session != 0 && c.inv.Session == c.done.Session {
		return c.inv.Session
	}
	return 0
}

// pairCalls walks the history once per invocation, looking ahead for the
// process's next record, and returns the calls in invocation order.
func pairCalls(ops []history.Op) []pairedCall {
	var calls []pairedCall
	for i, op := range ops {
		if op.Process == history.NemesisProcess || op.Type != history.Invoke {
			continue
		}
		c := pairedCall{inv: op, at: i}
		for j := i + 1; j < len(ops); j++ {
			if ops[j].Process != op.Process {
				continue
			}
			if ops[j].Type != history.Invoke {
				c.done = &ops[j]
			}
			break
		}
		calls = append(calls, c)
	}
	return calls
}

// sessionEnds returns, per session, every time a session record said it
// expired or was closed.
func sessionEnds(ops []history.Op) map[int64][]int64 {
	ends := map[int64][]int64{}
	for _, op := range ops {
		if op.Process == history.NemesisProcess || op.F != fSession || op.Type == history.Invoke || op.Session == 0 {
			continue
		}
		if op.Event == eventExpired || op.Event == eventClosed {
			ends[op.Session] = append(ends[op.Session], op.Time)
		}
	}
	return ends
}

// lockInterval is the time over which one holder's lock node certainly
// existed while the holder believed it held the lock: [from, to).
type lockInterval struct{ from, to int64 }

// Lock judges mutual exclusion of the ZooKeeper lock recipe as
// lock.Checker claims it, from first principles: an ok acquire's node
// exists from the acquire's completion; it certainly exists as long as it
// was later deleted by the holder's own ok release (a delete succeeds only
// on an existing node), or as long as its owner session later ran an ok
// write (a session never comes back, and its ephemeral node lives with it;
// only the holder deletes its node, and not before its next call). That
// certainty counts only while the holder still believed it held the lock:
// until its next invocation, the first record of its session's end after the
// acquire, or the end of the history. Two holds whose certain intervals
// share an instant break mutual exclusion. known is false, and valid
// meaningless, when no acquire succeeded or no hold has a certain part;
// every pair of holds is compared.
func Lock(ops []history.Op) (valid, known bool) {
	var last int64
	for _, op := range ops {
		last = max(last, op.Time)
	}
	ends := sessionEnds(ops)
	calls := pairCalls(ops)

	// Each ok write proves its session alive when it was invoked.
	aliveAt := map[int64][]int64{}
	for _, c := range calls {
		if !c.ok() {
			continue
		}
		var s int64
		switch c.inv.F {
		case fAcquire:
			s = lockNodeOwner(c)
		case fRelease:
			s = c.session()
		}
		if s != 0 {
			aliveAt[s] = append(aliveAt[s], c.inv.Time)
		}
	}

	var holds []lockInterval
	held := 0
	for n, c := range calls {
		if c.inv.F != fAcquire || !c.ok() {
			continue
		}
		held++
		from, believed := c.done.Time, last
		var next *pairedCall
		for m := n + 1; m < len(calls); m++ {
			if calls[m].inv.Process == c.inv.Process {
				next = &calls[m]
				break
			}
		}
		if next != nil {
			believed = next.inv.Time
		}
		owner := lockNodeOwner(c)
		var certain int64
		if owner != 0 {
			for _, t := range ends[owner] {
				if t >= from && t < believed {
					believed = t
				}
			}
			for _, t := range aliveAt[owner] {
				certain = max(certain, t)
			}
		}
		if next != nil && next.inv.F == fRelease && next.ok() && (next.inv.Path == "" || next.inv.Path == c.done.Path) {
			certain = max(certain, next.inv.Time)
		}
		if to := min(certain, believed); to > from {
			holds = append(holds, lockInterval{from, to})
		}
	}
	if held == 0 || len(holds) == 0 {
		return false, false
	}
	for i := range holds {
		for j := range i {
			if max(holds[i].from, holds[j].from) < min(holds[i].to, holds[j].to) {
				return false, true
			}
		}
	}
	return true, true
}

// lockNodeOwner is the session an ok acquire's node belongs to: the
// ephemeral owner the acquire recorded, else the session it ran on
// throughout, else 0.
func lockNodeOwner(c pairedCall) int64 {
	if v := c.done.Values; len(v) > 0 && v[0] != 0 {
		return v[0]
	}
	return c.session()
}
