package checker

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/history"
)

// Sequential checks what ZooKeeper promises for every read, including the
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
type Sequential struct{}

// The rules of the Sequential checker, as they appear in its details.
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

// scRules lists the rules in the order messages name them.
var scRules = []string{RuleSessionMonotonic, RuleSessionView, RuleNoPhantom, RuleVersionAgreement, RuleWriteRealTime}

// Limits on the evidence kept in the details.
const (
	scExamplesPerRule = 5
	scExamples        = 20
	scMalformedShown  = 10
)

// SequentialDetails is the evidence of the Sequential checker.
type SequentialDetails struct {
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
	Examples []SequentialViolation `json:"examples,omitempty"`
	// Malformed counts ok records that could not be judged (a read without
	// value or version, a write without value).
	Malformed int `json:"malformed,omitempty"`
	// MalformedExamples are the first of them.
	MalformedExamples []string `json:"malformed_examples,omitempty"`
}

// SequentialViolation is one broken rule, with the operations involved.
type SequentialViolation struct {
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
func (Sequential) Name() string { return "sequential" }

// scOp is one register operation, prepared for the sequential rules.
type scOp struct {
	call     history.Call
	f        string
	key      string
	typ      history.Type // ok, fail or info (a missing completion is info)
	value    int64
	hasValue bool
	version  int32
	hasVer   bool // an ok operation that reported its version
	expect   int32
	hasExp   bool
	zxid     int64  // 0 when not recorded
	session  string // "" when ambiguous
	inv, ret int64
}

func (o *scOp) isWrite() bool { return o.f == history.Write || o.f == history.CAS }

// observation reports whether o is an ok operation whose version is known:
// evidence of the key's state.
func (o *scOp) observation() bool { return o.typ == history.OK && o.hasVer }

// describe renders o for explanations, e.g.
// "read -> 3@v2 (zxid 0x10000000a) by process 4 on n1, 120-125 ms".
func (o *scOp) describe() string {
	var b strings.Builder
	switch o.f {
	case history.Read:
		b.WriteString("read")
		if o.typ == history.OK {
			fmt.Fprintf(&b, " -> %d@v%d", o.value, o.version)
		}
	case history.CAS:
		fmt.Fprintf(&b, "cas(%s", scValueText(o))
		if o.hasExp {
			fmt.Fprintf(&b, " if v%d", o.expect)
		}
		b.WriteString(")")
	default:
		fmt.Fprintf(&b, "write(%s)", scValueText(o))
	}
	if o.isWrite() {
		switch {
		case o.typ == history.OK && o.hasVer:
			fmt.Fprintf(&b, " -> ok v%d", o.version)
		default:
			b.WriteString(" -> " + string(o.typ))
		}
	}
	if o.typ == history.OK && o.zxid != 0 {
		fmt.Fprintf(&b, " (zxid 0x%x)", o.zxid)
	}
	fmt.Fprintf(&b, " by process %s", o.call.Invoke.Process)
	if n := o.call.Invoke.Node; n != "" {
		b.WriteString(" on " + n)
	}
	if s := o.call.Complete.Session; s != 0 {
		fmt.Fprintf(&b, " session 0x%x", s)
	}
	fmt.Fprintf(&b, ", %s-%s ms", ms(o.inv), ms(o.ret))
	return b.String()
}

func scValueText(o *scOp) string {
	if !o.hasValue {
		return "?"
	}
	return strconv.FormatInt(o.value, 10)
}

func (o *scOp) involved(role string) InvolvedOp {
	return InvolvedOp{Role: role, Invoke: *o.call.Invoke, Complete: *o.call.Complete}
}

// scState collects the findings of one check.
type scState struct {
	ctx     context.Context
	d       SequentialDetails
	first   string // explanation of the first violation
	steps   int
	stopped bool
}

// tick reports whether the check must stop: it polls the context every few
// thousand steps, so a cancelled check ends quickly.
func (s *scState) tick() bool {
	if s.stopped {
		return true
	}
	s.steps++
	if s.steps%4096 == 0 && s.ctx.Err() != nil {
		s.stopped = true
	}
	return s.stopped
}

func (s *scState) violation(v SequentialViolation) {
	s.d.Violations++
	if s.d.ByRule == nil {
		s.d.ByRule = map[string]int{}
	}
	s.d.ByRule[v.Rule]++
	if s.first == "" {
		s.first = fmt.Sprintf("%s on key %s: %s", v.Rule, v.Key, v.Explanation)
	}
	if s.d.ByRule[v.Rule] <= scExamplesPerRule && len(s.d.Examples) < scExamples {
		s.d.Examples = append(s.d.Examples, v)
	}
}

func (s *scState) malformed(what string) {
	s.d.Malformed++
	if len(s.d.MalformedExamples) < scMalformedShown {
		s.d.MalformedExamples = append(s.d.MalformedExamples, what)
	}
}

// Check judges the register operations of ops; Details is a
// SequentialDetails.
func (q Sequential) Check(ctx context.Context, ops []history.Op) Result {
	start := time.Now()
	s := &scState{ctx: ctx}
	byKey, keys := s.prepare(ops)
	var all []*scOp
	for _, k := range keys {
		all = append(all, byKey[k]...)
	}
	zxids := newSCBefore(all, func(o *scOp) int64 { return o.zxid })
	s.oneKeyPerZxid(zxids.obs)
	for _, k := range keys {
		kops := byKey[k]
		if s.stopped {
			break
		}
		s.versionAgreement(k, kops)
		s.noPhantoms(k, kops)
		s.writeRealTime(k, kops, zxids)
	}
	if !s.stopped {
		s.sessions(byKey)
	}
	if ctx.Err() != nil {
		s.stopped = true
	}

	r := Result{Checker: q.Name(), Details: s.d}
	switch {
	case s.d.Violations > 0:
		r.Verdict = Invalid
		r.Message = fmt.Sprintf("%s of sequential consistency (%s); first: %s.",
			plural(s.d.Violations, "violation", "violations"), scRuleCounts(s.d.ByRule), s.first)
		if s.stopped {
			r.Message += " The check was cancelled before it finished."
		}
	case s.stopped:
		r.Verdict = Unknown
		r.Message = "the check was cancelled before it finished"
		if cause := context.Cause(ctx); cause != nil {
			r.Message += " (" + cause.Error() + ")"
		}
		r.Message += "; no violation was found in what was checked."
	case s.d.ReadsChecked == 0:
		r.Verdict = Unknown
		r.Message = "no evidence: no read completed ok, so no session's view was checked."
	case s.d.Malformed > 0:
		r.Verdict = Unknown
		r.Message = fmt.Sprintf("%s could not be judged, e.g. %s; no violation was found in the others.",
			plural(s.d.Malformed, "ok record", "ok records"), s.d.MalformedExamples[0])
	default:
		r.Verdict = Valid
		r.Message = fmt.Sprintf("All %s by %s are sequentially consistent: per-session monotonic (read-your-writes included), "+
			"no phantom values, and the writes agree with real-time order (%s).",
			plural(s.d.ReadsChecked, "ok read", "ok reads"), plural(s.d.Sessions, "session", "sessions"),
			plural(s.d.OKWrites, "acknowledged write", "acknowledged writes"))
	}
	r.Duration = time.Since(start)
	return r
}

func scRuleCounts(by map[string]int) string {
	var parts []string
	for _, rule := range scRules {
		if n := by[rule]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", rule, n))
		}
	}
	return strings.Join(parts, ", ")
}

// prepare pairs the records and keeps the register operations, per key, in
// invocation order; keys are returned sorted.
func (s *scState) prepare(ops []history.Op) (map[string][]*scOp, []string) {
	byKey := map[string][]*scOp{}
	for _, c := range history.Calls(ops) {
		if s.tick() {
			break
		}
		f := c.Invoke.F
		if f != history.Read && f != history.Write && f != history.CAS {
			continue
		}
		o := &scOp{call: c, f: f, key: c.Invoke.Key, typ: c.Complete.Type, inv: c.Invoke.Time, ret: c.Complete.Time}
		if o.typ != history.OK && o.typ != history.Fail {
			o.typ = history.Info
		}
		if o.typ == history.Fail || (f == history.Read && o.typ != history.OK) {
			continue // certainly did not happen, or a read that returned nothing
		}
		if f == history.Read {
			v, ver := c.Complete.Value, c.Complete.Version
			if v == nil || ver == nil {
				s.malformed("ok read without value or version: " + c.Complete.String())
				continue
			}
			o.value, o.hasValue, o.version, o.hasVer = *v, true, *ver, true
			s.d.ReadsChecked++
		} else {
			if v := firstNonNil(c.Invoke.Value, c.Complete.Value); v != nil {
				o.value, o.hasValue = *v, true
			} else if o.typ == history.OK {
				s.malformed(f + " without value: " + c.Invoke.String())
			}
			if e := firstNonNil(c.Invoke.Expect, c.Complete.Expect); e != nil && f == history.CAS {
				o.expect, o.hasExp = *e, true
			}
			if o.typ == history.OK {
				s.d.OKWrites++
				if c.Complete.Version != nil {
					o.version, o.hasVer = *c.Complete.Version, true
				}
			}
		}
		if o.typ == history.OK {
			o.zxid = c.Complete.Zxid
		}
		o.session = scSessionOf(c)
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

// scSessionOf names the session that served c: its session id, or its process
// when no session was recorded; "" when the invocation and the completion
// name different sessions.
func scSessionOf(c history.Call) string {
	in, out := c.Invoke.Session, c.Complete.Session
	switch {
	case in != 0 && out != 0 && in != out:
		return ""
	case in != 0:
		return "0x" + strconv.FormatInt(in, 16)
	case out != 0:
		return "0x" + strconv.FormatInt(out, 16)
	default:
		return "process " + c.Invoke.Process.String()
	}
}

// versionAgreement checks that every observation of a version names the same
// state, that no two acknowledged writes share a version, and that zxids grow
// with versions.
func (s *scState) versionAgreement(key string, ops []*scOp) {
	type known struct {
		value, zxid *scOp // first observation with a value, with a zxid
		write       *scOp // first acknowledged write at this version
	}
	at := map[int32]*known{}
	for _, o := range scByReturn(ops) {
		if s.tick() {
			return
		}
		if !o.observation() {
			continue
		}
		k := at[o.version]
		if k == nil {
			k = &known{}
			at[o.version] = k
		}
		if o.isWrite() {
			if k.write != nil {
				s.violation(SequentialViolation{Rule: RuleVersionAgreement, Key: key,
					Explanation: fmt.Sprintf("two acknowledged writes produced version %d: %s, and %s",
						o.version, k.write.describe(), o.describe()),
					Ops: []InvolvedOp{o.involved("write"), k.write.involved("earlier write at the same version")}})
				continue
			}
			k.write = o
		}
		if o.hasValue {
			if k.value != nil && k.value.value != o.value {
				s.violation(SequentialViolation{Rule: RuleVersionAgreement, Key: key,
					Explanation: fmt.Sprintf("version %d holds two values: %d (%s) and %d (%s)",
						o.version, k.value.value, k.value.describe(), o.value, o.describe()),
					Ops: []InvolvedOp{o.involved(o.f), k.value.involved("earlier observation of the version")}})
				continue
			}
			if k.value == nil {
				k.value = o
			}
		}
		if o.zxid != 0 {
			if k.zxid != nil && k.zxid.zxid != o.zxid {
				s.violation(SequentialViolation{Rule: RuleVersionAgreement, Key: key,
					Explanation: fmt.Sprintf("version %d was made by two transactions: zxid 0x%x (%s) and 0x%x (%s)",
						o.version, k.zxid.zxid, k.zxid.describe(), o.zxid, o.describe()),
					Ops: []InvolvedOp{o.involved(o.f), k.zxid.involved("earlier observation of the version")}})
				continue
			}
			if k.zxid == nil {
				k.zxid = o
			}
		}
	}
	// Versions and zxids of one znode grow together.
	var withZxid []*scOp
	for _, k := range at {
		if k.zxid != nil {
			withZxid = append(withZxid, k.zxid)
		}
	}
	sort.Slice(withZxid, func(i, j int) bool { return withZxid[i].version < withZxid[j].version })
	for i := 1; i < len(withZxid); i++ {
		lo, hi := withZxid[i-1], withZxid[i]
		if hi.zxid <= lo.zxid {
			s.violation(SequentialViolation{Rule: RuleVersionAgreement, Key: key,
				Explanation: fmt.Sprintf("version %d has zxid 0x%x, not above version %d's 0x%x: %s; %s",
					hi.version, hi.zxid, lo.version, lo.zxid, hi.describe(), lo.describe()),
				Ops: []InvolvedOp{hi.involved("higher version"), lo.involved("lower version")}})
		}
	}
}

// oneKeyPerZxid checks that no zxid is seen as the modification of two keys.
func (s *scState) oneKeyPerZxid(obs []*scOp) {
	first := map[int64]*scOp{}
	for _, o := range obs {
		if s.tick() {
			return
		}
		if o.zxid == 0 {
			continue
		}
		p := first[o.zxid]
		if p == nil {
			first[o.zxid] = o
			continue
		}
		if p.key != o.key {
			s.violation(SequentialViolation{Rule: RuleVersionAgreement, Key: o.key,
				Explanation: fmt.Sprintf("zxid 0x%x changed both %s and %s: %s; %s", o.zxid, p.key, o.key, o.describe(), p.describe()),
				Ops:         []InvolvedOp{o.involved(o.f), p.involved("earlier observation of the zxid")}})
		}
	}
}

// noPhantoms checks that every value read was written, with that version, by
// an operation that may have happened before the read returned.
func (s *scState) noPhantoms(key string, ops []*scOp) {
	writersAt := map[int32]bool{} // versions an acknowledged write reported
	byValue := map[int64][]*scOp{}
	for _, o := range ops {
		if !o.isWrite() || !o.hasValue {
			continue
		}
		if o.observation() {
			writersAt[o.version] = true
		}
		byValue[o.value] = append(byValue[o.value], o)
	}
	for _, r := range ops {
		if s.tick() {
			return
		}
		if r.f != history.Read {
			continue
		}
		if r.version == 0 && r.value == 0 {
			continue // the initial value the workload created the key with
		}
		explained := false
		for _, w := range byValue[r.value] {
			if w.inv >= r.ret {
				continue // invoked after the read returned
			}
			if scMayHaveMade(w, r.version) {
				explained = true
				break
			}
		}
		if explained {
			continue
		}
		why := fmt.Sprintf("%s returned %d at version %d, which no write that may have happened before the read returned wrote",
			r.describe(), r.value, r.version)
		if writersAt[r.version] {
			// Version agreement names the write that made this version.
			why = fmt.Sprintf("%s returned %d at version %d, but the acknowledged write of version %d wrote another value",
				r.describe(), r.value, r.version, r.version)
		}
		s.violation(SequentialViolation{Rule: RuleNoPhantom, Key: key, Session: r.session, Explanation: why,
			Ops: []InvolvedOp{r.involved("read")}})
	}
}

// scMayHaveMade reports whether write w may have produced version v.
func scMayHaveMade(w *scOp, v int32) bool {
	switch {
	case w.typ == history.OK && w.hasVer:
		return w.version == v
	case w.f == history.CAS && w.hasExp:
		return int64(w.expect)+1 == int64(v) // a cas makes the version after the one it expects
	default:
		return v >= 1 // a write of unknown outcome or version
	}
}

// scBefore answers which observation completed before a given time has the
// highest version, or zxid.
type scBefore struct {
	obs  []*scOp // observations, by completion
	best []*scOp // best[i]: the highest among obs[:i+1]
}

// newSCBefore indexes the observations among ops by what by returns.
func newSCBefore(ops []*scOp, by func(*scOp) int64) *scBefore {
	b := &scBefore{}
	for _, o := range scByReturn(ops) {
		if !o.observation() {
			continue
		}
		best := o
		if n := len(b.best); n > 0 && by(b.best[n-1]) >= by(o) {
			best = b.best[n-1]
		}
		b.obs, b.best = append(b.obs, o), append(b.best, best)
	}
	return b
}

// before returns the highest observation that completed before t, or nil.
func (b *scBefore) before(t int64) *scOp {
	n := sort.Search(len(b.obs), func(i int) bool { return b.obs[i].ret >= t })
	if n == 0 {
		return nil
	}
	return b.best[n-1]
}

// writeRealTime checks every acknowledged write of key against the
// operations that completed before it was invoked: their versions, and the
// zxids of all keys' operations (zxids), must be lower.
func (s *scState) writeRealTime(key string, ops []*scOp, zxids *scBefore) {
	versions := newSCBefore(ops, func(o *scOp) int64 { return int64(o.version) })
	for _, w := range versions.obs {
		if s.tick() {
			return
		}
		if !w.isWrite() {
			continue
		}
		if p := versions.before(w.inv); p != nil && p.version >= w.version {
			s.violation(SequentialViolation{Rule: RuleWriteRealTime, Key: key,
				Explanation: fmt.Sprintf("%s made version %d, but version %d was already observed before it was invoked: %s",
					w.describe(), w.version, p.version, p.describe()),
				Ops: []InvolvedOp{w.involved("write"), p.involved("completed before the write was invoked")}})
			continue
		}
		if p := zxids.before(w.inv); p != nil && w.zxid != 0 && p.zxid >= w.zxid {
			s.violation(SequentialViolation{Rule: RuleWriteRealTime, Key: key,
				Explanation: fmt.Sprintf("%s has zxid 0x%x, but zxid 0x%x was already observed before it was invoked, on key %s: %s",
					w.describe(), w.zxid, p.zxid, p.key, p.describe()),
				Ops: []InvolvedOp{w.involved("write"), p.involved("completed before the write was invoked")}})
		}
	}
}

// scKeyZxids answers, for one key, which version is the highest that any
// observation shows committed at or before a zxid.
type scKeyZxids struct {
	obs    []*scOp // observations with a zxid, by zxid
	maxVer []*scOp // maxVer[i]: the highest version among obs[:i+1]
}

func newSCKeyZxids(ops []*scOp) *scKeyZxids {
	kz := &scKeyZxids{}
	for _, o := range ops {
		if o.observation() && o.zxid != 0 {
			kz.obs = append(kz.obs, o)
		}
	}
	sort.SliceStable(kz.obs, func(i, j int) bool { return kz.obs[i].zxid < kz.obs[j].zxid })
	kz.maxVer = make([]*scOp, len(kz.obs))
	for i, o := range kz.obs {
		kz.maxVer[i] = o
		if i > 0 && kz.maxVer[i-1].version >= o.version {
			kz.maxVer[i] = kz.maxVer[i-1]
		}
	}
	return kz
}

// committedBy returns the observation with the highest version whose zxid is
// at most z, or nil.
func (kz *scKeyZxids) committedBy(z int64) *scOp {
	n := sort.Search(len(kz.obs), func(i int) bool { return kz.obs[i].zxid > z })
	if n == 0 {
		return nil
	}
	return kz.maxVer[n-1]
}

// sessions checks each session's reads against what the session observed
// before: on the same key (monotonic, read-your-writes) and on any key (the
// session's view of the whole tree never goes back).
func (s *scState) sessions(byKey map[string][]*scOp) {
	zxids := map[string]*scKeyZxids{}
	bySession := map[string][]*scOp{}
	for k, ops := range byKey {
		zxids[k] = newSCKeyZxids(ops)
		for _, o := range ops {
			if o.session != "" && o.observation() {
				bySession[o.session] = append(bySession[o.session], o)
			}
		}
	}
	names := make([]string, 0, len(bySession))
	for name, ops := range bySession {
		for _, o := range ops {
			if o.f == history.Read {
				names = append(names, name)
				break
			}
		}
	}
	sort.Strings(names)
	s.d.Sessions = len(names)
	for _, name := range names {
		if s.stopped {
			return
		}
		s.session(name, bySession[name], zxids)
	}
}

func (s *scState) session(name string, ops []*scOp, zxids map[string]*scKeyZxids) {
	done := scByReturn(ops)
	reads := make([]*scOp, 0, len(ops))
	for _, o := range ops {
		if o.f == history.Read {
			reads = append(reads, o)
		}
	}
	sort.SliceStable(reads, func(i, j int) bool { return reads[i].inv < reads[j].inv })

	type seen struct{ version, zxid *scOp }
	perKey := map[string]*seen{}
	var view *scOp // the observation with the highest zxid so far
	next := 0
	for _, r := range reads {
		if s.tick() {
			return
		}
		for ; next < len(done) && done[next].ret < r.inv; next++ {
			o := done[next]
			k := perKey[o.key]
			if k == nil {
				k = &seen{}
				perKey[o.key] = k
			}
			if k.version == nil || o.version > k.version.version {
				k.version = o
			}
			if o.zxid != 0 && (k.zxid == nil || o.zxid > k.zxid.zxid) {
				k.zxid = o
			}
			if o.zxid != 0 && (view == nil || o.zxid > view.zxid) {
				view = o
			}
		}
		role := func(p *scOp) string {
			if p.isWrite() {
				return "the session's own earlier write"
			}
			return "the session's earlier read"
		}
		if k := perKey[r.key]; k != nil {
			if p := k.version; p.version > r.version {
				s.violation(SequentialViolation{Rule: RuleSessionMonotonic, Key: r.key, Session: name,
					Explanation: fmt.Sprintf("%s went back to version %d after the session had seen version %d: %s",
						r.describe(), r.version, p.version, p.describe()),
					Ops: []InvolvedOp{r.involved("read"), p.involved(role(p))}})
				continue
			}
			if p := k.zxid; r.zxid != 0 && p != nil && p.zxid > r.zxid {
				s.violation(SequentialViolation{Rule: RuleSessionMonotonic, Key: r.key, Session: name,
					Explanation: fmt.Sprintf("%s went back to zxid 0x%x after the session had seen zxid 0x%x: %s",
						r.describe(), r.zxid, p.zxid, p.describe()),
					Ops: []InvolvedOp{r.involved("read"), p.involved(role(p))}})
				continue
			}
		}
		if view == nil {
			continue
		}
		if w := zxids[r.key].committedBy(view.zxid); w != nil && w.version > r.version {
			s.violation(SequentialViolation{Rule: RuleSessionView, Key: r.key, Session: name,
				Explanation: fmt.Sprintf("%s returned version %d, older than the session's view: it had already seen zxid 0x%x (%s), "+
					"and version %d of %s was committed at zxid 0x%x (%s)",
					r.describe(), r.version, view.zxid, view.describe(), w.version, r.key, w.zxid, w.describe()),
				Ops: []InvolvedOp{r.involved("read"), view.involved(role(view)), w.involved("committed within the session's view")}})
		}
	}
}

// scByReturn returns ops sorted by completion time.
func scByReturn(ops []*scOp) []*scOp {
	out := append([]*scOp(nil), ops...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].ret < out[j].ret })
	return out
}
