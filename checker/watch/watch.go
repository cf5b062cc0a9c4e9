// Package watch judges the watch workload against what ZooKeeper promises
// about data watches: the event comes before the data it announces, and
// after it only data as new; a watch fires once, and only on a change; reads
// return written values.
package watch

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// Record names of the watch workload. Writes are history.Write and plain
// reads of a watched key are history.Read.
const (
	// F is a read that also sets a data watch (getData with watch set):
	// an ok completion is a registration at the version it read.
	F = "watch"
	// FEvent is a watch event as the client library delivered it, with
	// Event naming its type; it is written as an invocation and an ok
	// completion that follow each other.
	FEvent = "event"
	// FSession marks the end of a watcher session's single connection
	// (reconnected, expired, closed; Event says which): nothing the session
	// recorded after it, nor the operation just before it, is evidence.
	FSession = "session"
)

// Watch event names as go-zookeeper spells them.
const (
	// EventDataChanged is the event of a data watch whose znode changed.
	EventDataChanged = "EventNodeDataChanged"
	// EventNotWatching is what the client library delivers when it
	// drops a watch (session expired or closed): the registration ended
	// without an answer.
	EventNotWatching = "EventNotWatching"
)

// Checker judges the watch workload against what ZooKeeper promises about
// data watches, per watcher session and key, over one connection:
//
//   - event before data: a client never sees a change for which it set a
//     watch before it sees the watch event. While a registration made at
//     version v is pending, a read on the same connection that returns a
//     version above v must find the event already delivered (the workload
//     marks such a read with Event); if it does not, the change was seen
//     first, or the event was missed.
//   - data after event: events and replies are ordered, so a read issued
//     after the event of a registration at version v returns version v+1
//     or later (the change the event announced, never an older one: the
//     next event is then for a later change, so events of a key come in
//     zxid order).
//   - one shot, only on a change: every event ends exactly one pending
//     registration (a second event would be a one-shot watch firing twice),
//     a data watch on a znode that is never deleted fires only
//     NodeDataChanged, and only when a write could have made version v+1
//     (an ok write that returned a version above v, or an indeterminate
//     write, invoked before the event).
//   - reads are of written values: every value read was written, at the
//     version its write returned.
//
// A watcher session is evidence only up to its first FSession record:
// after a reconnection the library restores watches asynchronously, and a
// lost session drops them, so outcomes there are unknown, not violations.
// Events on different keys arrive on separate channels in go-zookeeper, so
// their relative order is not observable and not checked.
type Checker struct{}

// Name returns "watches".
func (Checker) Name() string { return "watches" }

// Details is the evidence of the watch checker.
type Details struct {
	// Sessions is the number of watcher sessions that registered a watch.
	Sessions int `json:"sessions"`
	// LostSessions counts sessions that ended with an FSession record.
	LostSessions int `json:"lost_sessions"`
	// Registrations counts ok watch registrations.
	Registrations int `json:"registrations"`
	// Events counts delivered events, recorded or marked on a read.
	Events int `json:"events"`
	// EventsWithReply counts events found delivered the moment a read's
	// reply came in (marked on the read): the races the order rule is about.
	EventsWithReply int `json:"events_with_reply"`
	// EventsChecked counts events on a clean connection checked against the
	// writes (one shot, only on a change).
	EventsChecked int `json:"events_checked"`
	// ReadsWhileArmed counts reads on a clean connection checked for the
	// event-before-data order.
	ReadsWhileArmed int `json:"reads_while_armed"`
	// ReadsAfterEvent counts reads checked to return at least the version
	// an earlier event announced.
	ReadsAfterEvent int `json:"reads_after_event"`
	// Unresolved counts registrations whose outcome is unknown: lost with
	// the connection or session, or still pending at the end.
	Unresolved int `json:"unresolved"`
	// ValuesChecked counts reads checked against the writes.
	ValuesChecked int `json:"values_checked"`
	// Malformed counts ok registrations and reads without the value or
	// version the check needs.
	Malformed int `json:"malformed,omitempty"`
	// ViolationCount is the number of violations; Violations lists the
	// first of them.
	ViolationCount int         `json:"violation_count"`
	Violations     []Violation `json:"violations,omitempty"`
}

// Violation is one broken promise.
type Violation struct {
	// Rule names the promise: event-before-data, data-after-event,
	// event-without-watch, event-without-change, unexpected-event or
	// phantom-value.
	Rule string `json:"rule"`
	// Session is the watcher session, when the rule is per session.
	Session int64 `json:"session,omitempty"`
	// Key is the znode.
	Key string `json:"key"`
	// Message explains the violation for a person.
	Message string `json:"message"`
	// Ops are the indexes of the records involved.
	Ops []int64 `json:"ops"`
	// invoked are the invocation records of the calls involved.
	invoked []int64
}

// violationLimit bounds the violations listed in the details.
const violationLimit = 20

// keyWrites answers, for one key, whether some write invoked before a time
// could have produced a version above v.
type keyWrites struct {
	times      []int64 // invocation times, ascending
	maxVersion []int32 // highest version of an ok write among the first i+1
	anyUnknown []bool  // some indeterminate write among the first i+1
}

// couldChange reports whether a write invoked before t could have made the
// znode's version exceed v.
func (w *keyWrites) couldChange(v int32, t int64) bool {
	if w == nil {
		return false
	}
	n := sort.Search(len(w.times), func(i int) bool { return w.times[i] >= t })
	if n == 0 {
		return false
	}
	return w.anyUnknown[n-1] || w.maxVersion[n-1] > v
}

// written is what the writes of one value say about it.
type written struct {
	call    int
	typ     history.Type
	version *int32
}

type register struct {
	version int32
	call    int
	clean   bool
}

type keyState struct {
	pending []register
	// ambiguous is set while more than one registration was pending at
	// once, until none is: which event answers which is then unknown.
	ambiguous bool
	floor     int32 // reads on the connection must return at least this
	hasFloor  bool
	floorBy   int // call whose event set the floor
}

// pop ends the oldest pending registration.
func (st *keyState) pop() register {
	r := st.pending[0]
	st.pending = st.pending[1:]
	if len(st.pending) == 0 {
		st.ambiguous = false
	}
	return r
}

type state struct {
	d     Details
	calls []history.Call
}

func (s *state) violate(rule string, session int64, key, msg string, calls ...int) {
	s.d.ViolationCount++
	if len(s.d.Violations) >= violationLimit {
		return
	}
	var idx, invoked []int64
	for _, c := range calls {
		invoked = append(invoked, s.calls[c].Invoke.Index)
		idx = append(idx, s.calls[c].Records()...)
	}
	s.d.Violations = append(s.d.Violations, Violation{Rule: rule, Session: session, Key: key, Message: msg, Ops: idx, invoked: invoked})
}

// Check judges ops; the result's Details is a Details.
func (Checker) Check(ctx context.Context, ops []history.Op) checker.Result {
	start := time.Now()
	s := &state{calls: history.Calls(ops)}
	writes, values := s.indexWrites()

	sessions := map[int64][]int{}
	var order []int64
	for i, c := range s.calls {
		switch c.Invoke.F {
		case F, history.Read, FEvent, FSession:
		default:
			continue
		}
		if c.Type() == history.OK && (c.Invoke.F == F || c.Invoke.F == history.Read) {
			s.checkValue(i, values)
		}
		id := c.Invoke.Session
		if id == 0 {
			continue // no session: cannot be related to any registration
		}
		if _, ok := sessions[id]; !ok {
			order = append(order, id)
		}
		sessions[id] = append(sessions[id], i)
	}
	var cut string // why the check stopped early
	for n, id := range order {
		if n%64 == 0 && ctx.Err() != nil {
			cut = "ran out of time before every watcher session was checked: " + ctx.Err().Error()
			break
		}
		s.session(id, sessions[id], writes)
	}
	if cut != "" && s.d.ViolationCount == 0 {
		return checker.Result{Checker: "watches", Verdict: checker.Unknown, Details: s.d, Duration: time.Since(start),
			Message: "The check " + cut + "; no violation was found before."}
	}

	r := checker.Result{Checker: "watches", Details: s.d}
	d := s.d
	summary := fmt.Sprintf("%d registrations in %d sessions (%d lost), %d events (%d checked against the writes, %d found with a read's reply), %d reads while armed, %d reads after an event, %d values checked",
		d.Registrations, d.Sessions, d.LostSessions, d.Events, d.EventsChecked, d.EventsWithReply, d.ReadsWhileArmed, d.ReadsAfterEvent, d.ValuesChecked)
	switch {
	case d.ViolationCount > 0:
		r.Verdict = checker.Invalid
		rules := map[string]bool{}
		var names []string
		for _, v := range d.Violations {
			if !rules[v.Rule] {
				rules[v.Rule] = true
				names = append(names, v.Rule)
			}
		}
		r.Message = fmt.Sprintf("%d watch violations (%s); first: %s. %s.", d.ViolationCount, strings.Join(names, ", "), d.Violations[0].Message, summary)
		if cut != "" {
			r.Message += " The check " + cut + "."
		}
	case d.Malformed > 0:
		r.Verdict = checker.Unknown
		r.Message = fmt.Sprintf("%s had no value or version, so what they saw is unknown; no violation was found in the rest. %s.",
			checker.Plural(d.Malformed, "ok registration or read", "ok registrations or reads"), summary)
	case d.EventsChecked == 0 || d.ReadsWhileArmed == 0:
		r.Verdict = checker.Unknown
		r.Message = "too little evidence: no event or no read while a watch was set, on a connection that stayed up. " + summary + "."
	default:
		r.Verdict = checker.Valid
		r.Message = "every watch fired once, only on a change, before its new data was read. " + summary + "."
	}
	r.Duration = time.Since(start)
	return r
}

// indexWrites gathers, per key, what the writes could have changed and
// which write wrote each value.
func (s *state) indexWrites() (map[string]*keyWrites, map[string]map[int64][]written) {
	writes := map[string]*keyWrites{}
	values := map[string]map[int64][]written{}
	for i, c := range s.calls {
		if c.Invoke.F != history.Write {
			continue
		}
		k := c.Invoke.Key
		if c.Invoke.Value != nil {
			if values[k] == nil {
				values[k] = map[int64][]written{}
			}
			values[k][*c.Invoke.Value] = append(values[k][*c.Invoke.Value], written{call: i, typ: c.Type(), version: c.Complete.Version})
		}
		if c.Type() == history.Fail {
			continue
		}
		w := writes[k]
		if w == nil {
			w = &keyWrites{}
			writes[k] = w
		}
		maxV, unknown := int32(-1), false
		if n := len(w.times); n > 0 {
			maxV, unknown = w.maxVersion[n-1], w.anyUnknown[n-1]
		}
		if c.Type() == history.OK && c.Complete.Version != nil {
			maxV = max(maxV, *c.Complete.Version)
		} else {
			unknown = true
		}
		// Calls come in invocation order, but keep the times sorted even
		// for a history whose records are out of order.
		t := c.Invoke.Time
		if n := len(w.times); n > 0 && t < w.times[n-1] {
			t = w.times[n-1]
		}
		w.times = append(w.times, t)
		w.maxVersion = append(w.maxVersion, maxV)
		w.anyUnknown = append(w.anyUnknown, unknown)
	}
	return writes, values
}

// checkValue checks that an ok read returned a value that was written, at
// the version its write returned.
func (s *state) checkValue(i int, values map[string]map[int64][]written) {
	c := s.calls[i].Complete
	if c.Value == nil || c.Version == nil {
		s.d.Malformed++
		return
	}
	k, v, ver := s.calls[i].Invoke.Key, *c.Value, *c.Version
	s.d.ValuesChecked++
	if v == 0 {
		if ver != 0 {
			s.violate("phantom-value", 0, k, fmt.Sprintf("%s read the initial value 0 at version %d: no write wrote 0", k, ver), i)
		}
		return
	}
	ws := values[k][v]
	if len(ws) == 0 {
		s.violate("phantom-value", 0, k, fmt.Sprintf("%s read value %d, which no write of %s wrote", k, v, k), i)
		return
	}
	possible := false
	for _, w := range ws {
		switch {
		case w.typ == history.Fail:
		case w.typ == history.OK && w.version != nil && *w.version != ver:
		default:
			possible = true
		}
	}
	if !possible {
		w := ws[0]
		msg := fmt.Sprintf("%s read value %d, whose write failed", k, v)
		if w.typ == history.OK {
			msg = fmt.Sprintf("%s read value %d at version %d, but its write created version %d", k, v, ver, *w.version)
		}
		s.violate("phantom-value", 0, k, msg, w.call, i)
	}
}

// session walks one watcher session's records in order.
func (s *state) session(id int64, idx []int, writes map[string]*keyWrites) {
	lost := len(idx)
	for n, i := range idx {
		if s.calls[i].Invoke.F == FSession {
			lost = n
			s.d.LostSessions++
			break
		}
	}
	keys := map[string]*keyState{}
	registered := false
	for n, i := range idx {
		c := s.calls[i]
		// The operation just before the end of the connection may have
		// straddled it.
		clean := n < lost-1 || (n == lost-1 && lost == len(idx))
		k := c.Invoke.Key
		st := keys[k]
		if st == nil {
			st = &keyState{}
			keys[k] = st
		}
		switch c.Invoke.F {
		case F:
			if c.Type() != history.OK || c.Complete.Version == nil {
				continue // a bare ok one is counted by checkValue
			}
			registered = true
			s.d.Registrations++
			s.checkFloor(id, st, i, clean)
			st.ambiguous = st.ambiguous || len(st.pending) > 0
			st.pending = append(st.pending, register{version: *c.Complete.Version, call: i, clean: clean})
		case history.Read:
			if c.Type() != history.OK || c.Complete.Version == nil {
				continue // a bare ok one is counted by checkValue
			}
			s.checkFloor(id, st, i, clean)
			if c.Complete.Event != "" {
				// The event had been delivered when the reply came, or
				// just after: not evidence of the order either way.
				s.d.EventsWithReply++
				s.event(id, k, st, c.Complete.Event, c.Complete.Time, i, clean, writes)
				continue
			}
			if len(st.pending) != 1 || st.ambiguous || !clean || !st.pending[0].clean {
				continue
			}
			r := st.pending[0]
			s.d.ReadsWhileArmed++
			if v := *c.Complete.Version; v > r.version {
				s.violate("event-before-data", id, k, fmt.Sprintf(
					"session %#x read %s at version %d while its watch set at version %d had not fired: the change was seen before its event",
					id, k, v, r.version), r.call, i)
			}
		case FEvent:
			if c.Type() != history.OK {
				continue
			}
			s.event(id, k, st, c.Complete.Event, c.Invoke.Time, i, clean, writes)
		}
	}
	if registered {
		s.d.Sessions++
	}
	for _, st := range keys {
		s.d.Unresolved += len(st.pending)
	}
}

// checkFloor checks that a read after an event returned at least the
// version the event announced.
func (s *state) checkFloor(id int64, st *keyState, i int, clean bool) {
	if !st.hasFloor || !clean {
		return
	}
	s.d.ReadsAfterEvent++
	if v := *s.calls[i].Complete.Version; v < st.floor {
		s.violate("data-after-event", id, s.calls[i].Invoke.Key, fmt.Sprintf(
			"session %#x read %s at version %d after the watch event that announced version %d",
			id, s.calls[i].Invoke.Key, v, st.floor), st.floorBy, i)
	}
}

// event applies a delivered event of type typ, delivered no later than t,
// to the key's pending registrations.
func (s *state) event(id int64, k string, st *keyState, typ string, t int64, i int, clean bool, writes map[string]*keyWrites) {
	s.d.Events++
	if typ == EventNotWatching {
		// The library dropped the watch: its outcome is unknown.
		if len(st.pending) > 0 {
			s.d.Unresolved++
			st.pop()
		}
		return
	}
	if len(st.pending) == 0 {
		if clean {
			s.violate("event-without-watch", id, k, fmt.Sprintf(
				"session %#x got %s on %s with no watch pending: a one-shot watch fired twice", id, typ, k), i)
		}
		return
	}
	alone := !st.ambiguous
	r := st.pop()
	if !clean || !r.clean {
		return
	}
	if typ != EventDataChanged {
		s.violate("unexpected-event", id, k, fmt.Sprintf(
			"session %#x got %s on %s, whose data watch can only report a data change (the znode is never deleted)", id, typ, k), r.call, i)
		return
	}
	if !alone {
		return // which registration it answered is ambiguous
	}
	s.d.EventsChecked++
	if !writes[k].couldChange(r.version, t) {
		s.violate("event-without-change", id, k, fmt.Sprintf(
			"session %#x got %s on %s for its watch set at version %d, but no write invoked before the event could have made version %d",
			id, typ, k, r.version, r.version+1), r.call, i)
	}
	if !st.hasFloor || r.version+1 > st.floor {
		st.floor, st.hasFloor, st.floorBy = r.version+1, true, i
	}
}
