// Package sequential judges what ZooKeeper promises for every read, plain
// and sync reads included: each session sees the data move forward only and
// reads only what was written, and writes agree with real time (Checker). It
// also measures how stale reads were (StaleReads), which ZooKeeper allows.
package sequential

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// Checker checks what ZooKeeper promises for every read, including the
// plain and sync reads that are not linearizable: each session
// sees the data move forward only, sees its own writes, and reads only values
// that were written; and the writes, which are linearizable, agree with the
// real-time order. It judges the register workload's reads, writes and cas
// with ZooKeeper's own ordering, the data version and the modification zxid
// of the Stat each operation returned.
//
// A session is what ZooKeeper orders, so operations are grouped by their
// session id; an operation recorded without one is grouped by its process
// (zkchaos gives every new session a new process), and one whose invocation
// and completion name different sessions is left out of the per-session
// rules, since either session may have served it.
type Checker struct{}

// The rules of the sequential Checker, as they appear in its details.
const (
	// RuleSessionMonotonic: a session's read of a key returns a version and
	// a zxid at least as high as every version and zxid the session already
	// observed on that key, its own acknowledged writes included
	// (monotonic reads and read-your-writes).
	RuleSessionMonotonic = "session-monotonic"
	// RuleSessionView: a session never sees an older view of the data than
	// it already saw on any key: once it observed zxid Z, a read of any key
	// reflects every write with a zxid up to Z (ZooKeeper's single system
	// image).
	RuleSessionView = "session-view"
	// RuleNoPhantom: every value read was written by some operation that
	// may have happened (ok or info, invoked before the read returned),
	// with the version read, or is the initial 0 at version 0.
	RuleNoPhantom = "no-phantom"
	// RuleVersionAgreement: every observation of a version of a key names
	// the same value and zxid, no two acknowledged writes share a version,
	// a higher version has a higher zxid, and no zxid changed two keys (the
	// workload changes data with setData only, one znode per transaction).
	RuleVersionAgreement = "version-agreement"
	// RuleWriteRealTime: an acknowledged write's version exceeds that of
	// every operation on its key, and its zxid that of every operation on
	// any key, that completed before the write was invoked (writes are
	// linearizable, and zxids order the writes of all keys).
	RuleWriteRealTime = "write-real-time"
)

// rules lists the rules in the order messages name them.
var rules = []string{RuleSessionMonotonic, RuleSessionView, RuleNoPhantom, RuleVersionAgreement, RuleWriteRealTime}

// Limits on the evidence kept in the details.
const (
	examplesPerRule = 5
	examples        = 20
	malformedShown  = 10
)

// Details is the evidence of the sequential Checker.
type Details struct {
	// ReadsChecked is the number of ok reads judged.
	ReadsChecked int `json:"reads_checked"`
	// OKWrites is the number of writes and cas that completed ok.
	OKWrites int `json:"ok_writes"`
	// Sessions is the number of sessions (or processes without a session)
	// whose reads were judged against their own history.
	Sessions int `json:"sessions"`
	// AmbiguousSession counts ok operations left out of the per-session
	// rules because their invocation and completion name different sessions.
	AmbiguousSession int `json:"ambiguous_session,omitempty"`
	// Violations is the number of violations found, over all rules.
	Violations int `json:"violations"`
	// ByRule counts the violations per rule.
	ByRule map[string]int `json:"by_rule,omitempty"`
	// Examples are some of the violations, at most five per rule and twenty
	// in all, in the order found.
	Examples []Violation `json:"examples,omitempty"`
	// Malformed counts ok records that could not be judged (a read without
	// value or version, a write without value).
	Malformed int `json:"malformed,omitempty"`
	// MalformedExamples are the first of them.
	MalformedExamples []string `json:"malformed_examples,omitempty"`
}

// Violation is one broken rule, with the operations involved.
type Violation struct {
	// Rule is one of the Rule constants.
	Rule string `json:"rule"`
	// Key is the register involved.
	Key string `json:"key"`
	// Session is the session whose view went wrong, for the session rules.
	Session string `json:"session,omitempty"`
	// Explanation says in words what went wrong.
	Explanation string `json:"explanation"`
	// Ops are the operations involved, the offending one first.
	Ops []InvolvedOp `json:"ops"`
}

// InvolvedOp is one operation named as evidence, with both its records.
type InvolvedOp struct {
	// Role says what the operation shows, e.g. "read" or "observed before".
	Role string `json:"role"`
	// Invoke is the invocation record.
	Invoke history.Op `json:"invoke"`
	// Complete is the completion record.
	Complete history.Op `json:"complete"`
}

// Name returns "sequential".
func (Checker) Name() string { return "sequential" }

// state collects the findings of one check.
type state struct {
	ctx     context.Context
	d       Details
	first   string // explanation of the first violation
	steps   int
	stopped bool
	// malformedAt are the invocation indexes of the malformed examples.
	malformedAt []int64
	// part, when not nil, keeps the violations found in one key of a
	// history judged key by key, instead of choosing the examples.
	part *part
	// views, when not nil, gives the view of the session of each read,
	// which a key judged alone cannot see.
	views func(r *operation) *operation
	// zxidBefore returns the observation with the highest zxid of any
	// key completed before w was invoked, when that zxid is not below w's.
	zxidBefore func(w *operation) *operation
}

// tick reports whether the check must stop: it polls the context every few
// thousand steps, so a cancelled check ends quickly.
func (s *state) tick() bool {
	if s.stopped {
		return true
	}
	s.steps++
	if s.steps%4096 == 0 && s.ctx.Err() != nil {
		s.stopped = true
	}
	return s.stopped
}

func (s *state) violation(v Violation) {
	s.count(v.Rule, 1)
	if s.part != nil {
		s.part.keep(v, nil)
		return
	}
	if s.first == "" {
		s.first = fmt.Sprintf("%s on key %s: %s", v.Rule, v.Key, v.Explanation)
	}
	if s.d.ByRule[v.Rule] <= examplesPerRule && len(s.d.Examples) < examples {
		s.d.Examples = append(s.d.Examples, v)
	}
}

// count counts n violations of rule.
func (s *state) count(rule string, n int) {
	s.d.Violations += n
	if s.d.ByRule == nil {
		s.d.ByRule = map[string]int{}
	}
	s.d.ByRule[rule] += n
}

func (s *state) malformed(at int64, what string) {
	s.d.Malformed++
	if len(s.d.MalformedExamples) < malformedShown {
		s.d.MalformedExamples = append(s.d.MalformedExamples, what)
		s.malformedAt = append(s.malformedAt, at)
	}
}

// Check judges the register operations of ops; the result's Details is a
// Details.
func (q Checker) Check(ctx context.Context, ops []history.Op) checker.Result {
	start := time.Now()
	s := &state{ctx: ctx}
	byKey, keys := s.prepare(ops)
	var all []*operation
	for _, k := range keys {
		all = append(all, byKey[k]...)
	}
	zxids := newTimeline(all, func(o *operation) int64 { return o.zxid })
	s.zxidBefore = func(w *operation) *operation {
		if p := zxids.before(w.inv); p != nil && w.zxid != 0 && p.zxid >= w.zxid {
			return p
		}
		return nil
	}
	s.oneKeyPerZxid(zxids.obs)
	for _, k := range keys {
		if s.stopped {
			break
		}
		s.keyRules(k, byKey[k])
	}
	if !s.stopped {
		s.sessions(byKey)
	}
	return q.result(ctx, s, start)
}

// keyRules checks the rules of one key's operations that need no other
// key's, but for the zxids before each write.
func (s *state) keyRules(key string, ops []*operation) {
	s.versionAgreement(key, ops)
	s.noPhantoms(key, ops)
	s.writeRealTime(key, ops)
}

// result words what s found.
func (q Checker) result(ctx context.Context, s *state, start time.Time) checker.Result {
	if ctx.Err() != nil {
		s.stopped = true
	}
	r := checker.Result{Checker: q.Name(), Details: s.d}
	switch {
	case s.d.Violations > 0:
		r.Verdict = checker.Invalid
		r.Message = fmt.Sprintf("%s of sequential consistency (%s); first: %s.",
			checker.Plural(s.d.Violations, "violation", "violations"), ruleCounts(s.d.ByRule), s.first)
		if s.stopped {
			r.Message += " The check was cancelled before it finished."
		}
	case s.stopped:
		r.Verdict = checker.Unknown
		r.Message = "the check was cancelled before it finished"
		if cause := context.Cause(ctx); cause != nil {
			r.Message += " (" + cause.Error() + ")"
		}
		r.Message += "; no violation was found in what was checked."
	case s.d.ReadsChecked == 0:
		r.Verdict = checker.Unknown
		r.Message = "no evidence: no read completed ok, so no session's view was checked."
	case s.d.Malformed > 0:
		r.Verdict = checker.Unknown
		r.Message = fmt.Sprintf("%s could not be judged, e.g. %s; no violation was found in the others.",
			checker.Plural(s.d.Malformed, "ok record", "ok records"), s.d.MalformedExamples[0])
	default:
		r.Verdict = checker.Valid
		r.Message = fmt.Sprintf("All %s by %s are sequentially consistent: per-session monotonic (read-your-writes included), "+
			"no phantom values, and the writes agree with real-time order (%s).",
			checker.Plural(s.d.ReadsChecked, "ok read", "ok reads"), checker.Plural(s.d.Sessions, "session", "sessions"),
			checker.Plural(s.d.OKWrites, "acknowledged write", "acknowledged writes"))
	}
	r.Duration = time.Since(start)
	return r
}

func ruleCounts(by map[string]int) string {
	var parts []string
	for _, rule := range rules {
		if n := by[rule]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", rule, n))
		}
	}
	return strings.Join(parts, ", ")
}

// prepare pairs the records and keeps the register operations, per key, in
// invocation order; keys are returned sorted.
func (s *state) prepare(ops []history.Op) (map[string][]*operation, []string) {
	byKey := map[string][]*operation{}
	for _, c := range history.Calls(ops) {
		if s.tick() {
			break
		}
		o, malformed := newOperation(c)
		if malformed != "" {
			s.malformed(c.Invoke.Index, malformed)
		}
		if o == nil {
			continue
		}
		switch {
		case o.f == history.Read:
			s.d.ReadsChecked++
		case o.typ == history.OK:
			s.d.OKWrites++
		}
		if o.session == "" && o.typ == history.OK {
			s.d.AmbiguousSession++
		}
		byKey[o.key] = append(byKey[o.key], o)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return byKey, keys
}

// newOperation prepares a call for the rules: nil for a call they do not
// judge (not a register operation, failed, a read that returned nothing or
// that cannot be judged). malformed describes an ok record that cannot be
// judged.
func newOperation(c history.Call) (o *operation, malformed string) {
	f := c.Invoke.F
	if f != history.Read && f != history.Write && f != history.CAS {
		return nil, ""
	}
	o = &operation{call: c, f: f, key: c.Invoke.Key, typ: c.Complete.Type, inv: c.Invoke.Time, ret: c.Complete.Time}
	if o.typ != history.OK && o.typ != history.Fail {
		o.typ = history.Info
	}
	if o.typ == history.Fail || (f == history.Read && o.typ != history.OK) {
		return nil, "" // certainly did not happen, or a read that returned nothing
	}
	if f == history.Read {
		v, ver := c.Complete.Value, c.Complete.Version
		if v == nil || ver == nil {
			return nil, "ok read without value or version: " + c.Complete.String()
		}
		o.value, o.hasValue, o.version, o.hasVer = *v, true, *ver, true
	} else {
		if v := checker.FirstNonNil(c.Invoke.Value, c.Complete.Value); v != nil {
			o.value, o.hasValue = *v, true
		} else if o.typ == history.OK {
			malformed = f + " without value: " + c.Invoke.String()
		}
		if e := checker.FirstNonNil(c.Invoke.Expect, c.Complete.Expect); e != nil && f == history.CAS {
			o.expect, o.hasExp = *e, true
		}
		if o.typ == history.OK && c.Complete.Version != nil {
			o.version, o.hasVer = *c.Complete.Version, true
		}
	}
	if o.typ == history.OK {
		o.zxid = c.Complete.Zxid
	}
	o.session = sessionOf(c)
	return o, malformed
}

// sessionOf names the session that served c: its session id, or its process
// when no session was recorded; "" when the invocation and the completion
// name different sessions.
func sessionOf(c history.Call) string {
	if id, ok := sessionIDOf(c); ok {
		return id.String()
	}
	return ""
}

// sessionID is a session: its id, or when that is 0 the process whose
// records named none.
type sessionID struct {
	id      int64
	process history.Process
}

// sessionIDOf is the session that served c, as sessionOf names it; false
// when the invocation and the completion name different sessions.
func sessionIDOf(c history.Call) (sessionID, bool) {
	in, out := c.Invoke.Session, c.Complete.Session
	switch {
	case in != 0 && out != 0 && in != out:
		return sessionID{}, false
	case in != 0:
		return sessionID{id: in}, true
	case out != 0:
		return sessionID{id: out}, true
	default:
		return sessionID{process: c.Invoke.Process}, true
	}
}

func (s sessionID) String() string {
	if s.id != 0 {
		return "0x" + strconv.FormatInt(s.id, 16)
	}
	return "process " + s.process.String()
}
