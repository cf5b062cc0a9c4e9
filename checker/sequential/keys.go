package sequential

import (
	"fmt"
	"sort"

	"github.com/zkchaos/zkchaos/history"
)

// versionAgreement checks that every observation of a version names the same
// state, that no two acknowledged writes share a version, and that zxids grow
// with versions.
func (s *state) versionAgreement(key string, ops []*operation) {
	type known struct {
		value, zxid *operation // first observation with a value, with a zxid
		write       *operation // first acknowledged write at this version
	}
	at := map[int32]*known{}
	for _, o := range byReturn(ops) {
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
				s.violation(Violation{Rule: RuleVersionAgreement, Key: key,
					Explanation: fmt.Sprintf("two acknowledged writes produced version %d: %s, and %s",
						o.version, k.write.describe(), o.describe()),
					Ops: []InvolvedOp{o.involved("write"), k.write.involved("earlier write at the same version")}})
				continue
			}
			k.write = o
		}
		if o.hasValue {
			if k.value != nil && k.value.value != o.value {
				s.violation(Violation{Rule: RuleVersionAgreement, Key: key,
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
				s.violation(Violation{Rule: RuleVersionAgreement, Key: key,
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
	var withZxid []*operation
	for _, k := range at {
		if k.zxid != nil {
			withZxid = append(withZxid, k.zxid)
		}
	}
	sort.Slice(withZxid, func(i, j int) bool { return withZxid[i].version < withZxid[j].version })
	for i := 1; i < len(withZxid); i++ {
		lo, hi := withZxid[i-1], withZxid[i]
		if hi.zxid <= lo.zxid {
			s.violation(Violation{Rule: RuleVersionAgreement, Key: key,
				Explanation: fmt.Sprintf("version %d has zxid 0x%x, not above version %d's 0x%x: %s; %s",
					hi.version, hi.zxid, lo.version, lo.zxid, hi.describe(), lo.describe()),
				Ops: []InvolvedOp{hi.involved("higher version"), lo.involved("lower version")}})
		}
	}
}

// oneKeyPerZxid checks that no zxid is seen as the modification of two keys.
func (s *state) oneKeyPerZxid(obs []*operation) {
	first := map[int64]*operation{}
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
			s.violation(zxidOfTwoKeys(o, p))
		}
	}
}

// zxidOfTwoKeys is the violation of o, which observed a zxid that p had
// already observed on another key.
func zxidOfTwoKeys(o, p *operation) Violation {
	return Violation{Rule: RuleVersionAgreement, Key: o.key,
		Explanation: fmt.Sprintf("zxid 0x%x changed both %s and %s: %s; %s", o.zxid, p.key, o.key, o.describe(), p.describe()),
		Ops:         []InvolvedOp{o.involved(o.f), p.involved("earlier observation of the zxid")}}
}

// noPhantoms checks that every value read was written, with that version, by
// an operation that may have happened before the read returned.
func (s *state) noPhantoms(key string, ops []*operation) {
	writersAt := map[int32]bool{} // versions an acknowledged write reported
	byValue := map[int64][]*operation{}
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
			if mayHaveMade(w, r.version) {
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
		s.violation(Violation{Rule: RuleNoPhantom, Key: key, Session: r.session, Explanation: why,
			Ops: []InvolvedOp{r.involved("read")}})
	}
}

// mayHaveMade reports whether write w may have produced version v.
func mayHaveMade(w *operation, v int32) bool {
	switch {
	case w.typ == history.OK && w.hasVer:
		return w.version == v
	case w.f == history.CAS && w.hasExp:
		return int64(w.expect)+1 == int64(v) // a cas makes the version after the one it expects
	default:
		return v >= 1 // a write of unknown outcome or version
	}
}

// timeline answers which observation completed before a given time has the
// highest version, or zxid.
type timeline struct {
	obs  []*operation // observations, by completion
	best []*operation // best[i]: the highest among obs[:i+1]
}

// newTimeline indexes the observations among ops by what by returns.
func newTimeline(ops []*operation, by func(*operation) int64) *timeline {
	b := &timeline{}
	for _, o := range byReturn(ops) {
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
func (b *timeline) before(t int64) *operation {
	n := sort.Search(len(b.obs), func(i int) bool { return b.obs[i].ret >= t })
	if n == 0 {
		return nil
	}
	return b.best[n-1]
}

// writeRealTime checks every acknowledged write of key against the
// operations that completed before it was invoked: their versions, and the
// zxids of all keys' operations (s.zxidBefore), must be lower.
func (s *state) writeRealTime(key string, ops []*operation) {
	versions := newTimeline(ops, func(o *operation) int64 { return int64(o.version) })
	for _, w := range versions.obs {
		if s.tick() {
			return
		}
		if !w.isWrite() {
			continue
		}
		if p := versions.before(w.inv); p != nil && p.version >= w.version {
			s.violation(Violation{Rule: RuleWriteRealTime, Key: key,
				Explanation: fmt.Sprintf("%s made version %d, but version %d was already observed before it was invoked: %s",
					w.describe(), w.version, p.version, p.describe()),
				Ops: []InvolvedOp{w.involved("write"), p.involved("completed before the write was invoked")}})
			continue
		}
		if p := s.zxidBefore(w); p != nil {
			s.violation(Violation{Rule: RuleWriteRealTime, Key: key,
				Explanation: fmt.Sprintf("%s has zxid 0x%x, but zxid 0x%x was already observed before it was invoked, on key %s: %s",
					w.describe(), w.zxid, p.zxid, p.key, p.describe()),
				Ops: []InvolvedOp{w.involved("write"), p.involved("completed before the write was invoked")}})
		}
	}
}
