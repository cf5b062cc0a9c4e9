package oracle

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/zkchaos/zkchaos/history"
)

// SequentialResult is the oracle's answer on a register history.
type SequentialResult struct {
	// Judged is false when the history holds too little evidence: no read
	// completed ok, or some ok record lacks the value or version to judge it
	// (and nothing else is wrong).
	Judged bool
	// Valid is the answer when Judged.
	Valid bool
	// Reason says why the history is invalid or not judged.
	Reason string
}

// Sequential decides, from ZooKeeper's own evidence, whether a register
// workload history (reads, writes and cas with the Stat's data version and
// modification zxid) is sequentially consistent as ZooKeeper promises:
//
//   - the committed states form one log ordered by zxid: each observed
//     version of a key is one state with one value and one zxid, made by at
//     most one acknowledged write, one zxid is one state, and a key's
//     versions grow along the log;
//   - every state read was made by a write call of its value that was
//     invoked before the read returned and could have made that version (the
//     acknowledged write that reported it, an indeterminate cas from the
//     version before, an indeterminate write), or is the initial 0 at
//     version 0;
//   - writes are linearizable: what any operation saw before an
//     acknowledged write was invoked lies before that write in the log;
//   - each session sees a prefix of the log that never shrinks: there is a
//     choice of prefix per operation, in session order, non-decreasing, such
//     that every read's state is the latest of its key in its prefix and
//     every acknowledged write of the session ends its own prefix.
//
// Sessions are named by their ZooKeeper session id, or by the process when
// none was recorded; an operation whose invocation and completion name
// different sessions belongs to none. The log holds the observed states
// only: indeterminate writes are candidates to explain a state, not events
// the log must place, so the oracle decides nothing about versions no one
// observed. It searches the session prefixes exhaustively (with a memo), so
// keep histories to a few dozen calls. An error means the history is outside
// the record format the register workload writes (an ok record without its
// zxid, an ok write without its version, calls of one session that
// overlap).
func Sequential(ops []history.Op) (SequentialResult, error) {
	calls, malformed, reads, err := scCalls(ops)
	if err != nil {
		return SequentialResult{}, err
	}
	if why, err := scViolation(calls); err != nil {
		return SequentialResult{}, err
	} else if why != "" {
		return SequentialResult{Judged: true, Reason: why}, nil
	}
	switch {
	case reads == 0:
		return SequentialResult{Reason: "no read completed ok"}, nil
	case malformed != "":
		return SequentialResult{Reason: malformed}, nil
	}
	return SequentialResult{Judged: true, Valid: true}, nil
}

// scCall is one register call with what its two records say.
type scCall struct {
	f, key   string
	ok       bool // else indeterminate
	value    int64
	hasValue bool
	version  int32
	expect   int32
	hasExp   bool
	zxid     int64
	session  string // "" when the invocation and completion disagree
	inv, ret int64
}

// scCalls pairs every invocation with the next completion of its process and
// keeps the read, write and cas calls that may have happened. It returns the
// first malformed record's description, and the number of ok reads judged.
func scCalls(ops []history.Op) ([]scCall, string, int, error) {
	open := map[history.Process]history.Op{}
	var pairs [][2]history.Op
	var last int64
	for _, op := range ops {
		last = max(last, op.Time)
		if op.Process == history.NemesisProcess {
			continue
		}
		if op.Type == history.Invoke {
			if prev, ok := open[op.Process]; ok {
				pairs = append(pairs, [2]history.Op{prev, {}})
			}
			open[op.Process] = op
			continue
		}
		if inv, ok := open[op.Process]; ok {
			pairs = append(pairs, [2]history.Op{inv, op})
			delete(open, op.Process)
		}
	}
	for _, inv := range open {
		pairs = append(pairs, [2]history.Op{inv, {}})
	}
	var calls []scCall
	malformed, reads := "", 0
	for _, p := range pairs {
		inv, done := p[0], p[1]
		if inv.F != history.Read && inv.F != history.Write && inv.F != history.CAS {
			continue
		}
		if done.Type == "" { // never completed
			done = history.Op{Type: history.Info, Time: last, Session: inv.Session}
		}
		if done.Type == history.Fail || (inv.F == history.Read && done.Type != history.OK) {
			continue
		}
		c := scCall{f: inv.F, key: inv.Key, ok: done.Type == history.OK, inv: inv.Time, ret: done.Time,
			session: scSession(inv, done)}
		if inv.F == history.Read {
			if done.Value == nil || done.Version == nil {
				if malformed == "" {
					malformed = "an ok read without value or version: " + done.String()
				}
				continue
			}
			reads++
			c.value, c.hasValue, c.version = *done.Value, true, *done.Version
		} else {
			switch {
			case inv.Value != nil:
				c.value, c.hasValue = *inv.Value, true
			case done.Value != nil:
				c.value, c.hasValue = *done.Value, true
			case c.ok && malformed == "":
				malformed = "an ok " + inv.F + " without value: " + inv.String()
			}
			switch {
			case inv.F != history.CAS:
			case inv.Expect != nil:
				c.expect, c.hasExp = *inv.Expect, true
			case done.Expect != nil:
				c.expect, c.hasExp = *done.Expect, true
			}
			if c.ok {
				if done.Version == nil {
					return nil, "", 0, fmt.Errorf("an ok %s without version (record %d): outside the register record format", inv.F, done.Index)
				}
				c.version = *done.Version
			}
		}
		if c.ok {
			if done.Zxid == 0 {
				return nil, "", 0, fmt.Errorf("an ok %s without zxid (record %d): outside the register record format", inv.F, done.Index)
			}
			c.zxid = done.Zxid
		}
		calls = append(calls, c)
	}
	return calls, malformed, reads, nil
}

// scSession names the session that served a call.
func scSession(inv, done history.Op) string {
	a, b := inv.Session, done.Session
	switch {
	case a != 0 && b != 0 && a != b:
		return ""
	case a == 0 && b == 0:
		return "process " + strconv.Itoa(int(inv.Process))
	}
	if a == 0 {
		a = b
	}
	return "session " + strconv.FormatInt(a, 16)
}

// scState is one committed state of a key.
type scState struct {
	key      string
	version  int32
	value    int64
	hasValue bool
	zxid     int64
	writer   bool // an acknowledged write reported it
	pos      int  // place in the log
	next     int  // place of the key's next state in the log, or the log's length
}

// scViolation returns why no log and no session prefixes explain the
// calls, or "" when they do.
func scViolation(calls []scCall) (string, error) {
	states, why := scStates(calls)
	if why != "" {
		return why, nil
	}
	if why := scMakers(calls); why != "" {
		return why, nil
	}
	at := func(c scCall) *scState { return states[scStateKey{c.key, c.version}] }
	// Writes are linearizable: all an operation saw before a write began
	// precedes the write.
	for _, w := range calls {
		if !w.ok || w.f == history.Read {
			continue
		}
		for _, o := range calls {
			if o.ok && o.ret < w.inv && at(o).pos >= at(w).pos {
				return fmt.Sprintf("%s saw %s v%d (zxid 0x%x) before %s was invoked, which made v%d at zxid 0x%x",
					o.f, o.key, o.version, o.zxid, w.f, w.version, w.zxid), nil
			}
		}
	}
	bySession := map[string][]scCall{}
	for _, c := range calls {
		if c.ok && c.session != "" {
			bySession[c.session] = append(bySession[c.session], c)
		}
	}
	names := make([]string, 0, len(bySession))
	for name := range bySession {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := bySession[name]
		sort.SliceStable(s, func(i, j int) bool { return s[i].inv < s[j].inv })
		for i := 1; i < len(s); i++ {
			if s[i-1].ret >= s[i].inv {
				return "", fmt.Errorf("%s has overlapping calls: outside the register record format", name)
			}
		}
		if !scPrefixes(s, at, 0, -1, map[[2]int]bool{}) {
			return fmt.Sprintf("%s: no non-decreasing prefixes of the log explain its %d operations", name, len(s)), nil
		}
	}
	return "", nil
}

// scStateKey names a state: a key at a version.
type scStateKey struct {
	key     string
	version int32
}

// scStates gathers the observed states and lays them out as one log by
// zxid, or says why they make no log.
func scStates(calls []scCall) (map[scStateKey]*scState, string) {
	states := map[scStateKey]*scState{}
	for _, c := range calls {
		if !c.ok {
			continue
		}
		k := scStateKey{c.key, c.version}
		s := states[k]
		if s == nil {
			s = &scState{key: c.key, version: c.version, zxid: c.zxid}
			states[k] = s
		}
		if c.zxid != s.zxid {
			return nil, fmt.Sprintf("%s v%d is seen at zxids 0x%x and 0x%x", c.key, c.version, s.zxid, c.zxid)
		}
		if c.hasValue {
			if s.hasValue && s.value != c.value {
				return nil, fmt.Sprintf("%s v%d is seen holding %d and %d", c.key, c.version, s.value, c.value)
			}
			s.value, s.hasValue = c.value, true
		}
		if c.f != history.Read {
			if s.writer {
				return nil, fmt.Sprintf("two acknowledged writes made %s v%d", c.key, c.version)
			}
			s.writer = true
		}
	}
	log := make([]*scState, 0, len(states))
	for _, s := range states {
		log = append(log, s)
	}
	sort.Slice(log, func(i, j int) bool { return log[i].zxid < log[j].zxid })
	latest := map[string]*scState{}
	for i, s := range log {
		s.pos, s.next = i, len(log)
		if i > 0 && log[i-1].zxid == s.zxid {
			return nil, fmt.Sprintf("zxid 0x%x made both %s v%d and %s v%d", s.zxid, log[i-1].key, log[i-1].version, s.key, s.version)
		}
		if p := latest[s.key]; p != nil {
			if p.version >= s.version {
				return nil, fmt.Sprintf("%s v%d has zxid 0x%x, after v%d's 0x%x", s.key, p.version, p.zxid, s.version, s.zxid)
			}
			p.next = i
		}
		latest[s.key] = s
	}
	return states, ""
}

// scMakers checks that a write call may have made every state read, before
// the read returned.
func scMakers(calls []scCall) string {
	for _, r := range calls {
		if r.f != history.Read || (r.version == 0 && r.value == 0) {
			continue // the initial state was made by the workload's setup
		}
		made := false
		for _, w := range calls {
			if w.f == history.Read || w.key != r.key || !w.hasValue || w.value != r.value || w.inv >= r.ret {
				continue
			}
			switch {
			case w.ok:
				made = w.version == r.version
			case w.f == history.CAS && w.hasExp:
				made = int64(w.expect)+1 == int64(r.version)
			default:
				made = r.version >= 1
			}
			if made {
				break
			}
		}
		if !made {
			return fmt.Sprintf("no write that may have happened before the read returned made %d at %s v%d", r.value, r.key, r.version)
		}
	}
	return ""
}

// scPrefixes tries every prefix for session operation i on, given the
// prefix prev of the operation before: a read's prefix ends between its
// state and the key's next state, a write's prefix ends at its state.
// seen memoizes the (i, prev) already known to fail.
func scPrefixes(s []scCall, at func(scCall) *scState, i, prev int, seen map[[2]int]bool) bool {
	if i == len(s) {
		return true
	}
	if seen[[2]int{i, prev}] {
		return false
	}
	st := at(s[i])
	lo, hi := st.pos, st.next
	if s[i].f != history.Read {
		hi = st.pos + 1
	}
	for p := max(lo, prev); p < hi; p++ {
		if scPrefixes(s, at, i+1, p, seen) {
			return true
		}
	}
	seen[[2]int{i, prev}] = true
	return false
}
