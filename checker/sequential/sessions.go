package sequential

import (
	"fmt"
	"sort"

	"github.com/zkchaos/zkchaos/history"
)

// keyZxids answers, for one key, which version is the highest that any
// observation shows committed at or before a zxid.
type keyZxids struct {
	obs    []*operation // observations with a zxid, by zxid
	maxVer []*operation // maxVer[i]: the highest version among obs[:i+1]
}

func newKeyZxids(ops []*operation) *keyZxids {
	kz := &keyZxids{}
	for _, o := range ops {
		if o.observation() && o.zxid != 0 {
			kz.obs = append(kz.obs, o)
		}
	}
	sort.SliceStable(kz.obs, func(i, j int) bool { return kz.obs[i].zxid < kz.obs[j].zxid })
	kz.maxVer = make([]*operation, len(kz.obs))
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
func (kz *keyZxids) committedBy(z int64) *operation {
	n := sort.Search(len(kz.obs), func(i int) bool { return kz.obs[i].zxid > z })
	if n == 0 {
		return nil
	}
	return kz.maxVer[n-1]
}

// sessions checks each session's reads against what the session observed
// before: on the same key (monotonic, read-your-writes) and on any key (the
// session's view of the whole tree never goes back).
func (s *state) sessions(byKey map[string][]*operation) {
	zxids := map[string]*keyZxids{}
	bySession := map[string][]*operation{}
	for k, ops := range byKey {
		zxids[k] = newKeyZxids(ops)
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

func (s *state) session(name string, ops []*operation, zxids map[string]*keyZxids) {
	done := byReturn(ops)
	reads := make([]*operation, 0, len(ops))
	for _, o := range ops {
		if o.f == history.Read {
			reads = append(reads, o)
		}
	}
	sort.SliceStable(reads, func(i, j int) bool { return reads[i].inv < reads[j].inv })

	type seen struct{ version, zxid *operation }
	perKey := map[string]*seen{}
	var view *operation // the observation with the highest zxid so far
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
		if k := perKey[r.key]; k != nil {
			if p := k.version; p.version > r.version {
				s.violation(Violation{Rule: RuleSessionMonotonic, Key: r.key, Session: name,
					Explanation: fmt.Sprintf("%s went back to version %d after the session had seen version %d: %s",
						r.describe(), r.version, p.version, p.describe()),
					Ops: []InvolvedOp{r.involved("read"), p.involved(sessionRole(p))}})
				continue
			}
			if p := k.zxid; r.zxid != 0 && p != nil && p.zxid > r.zxid {
				s.violation(Violation{Rule: RuleSessionMonotonic, Key: r.key, Session: name,
					Explanation: fmt.Sprintf("%s went back to zxid 0x%x after the session had seen zxid 0x%x: %s",
						r.describe(), r.zxid, p.zxid, p.describe()),
					Ops: []InvolvedOp{r.involved("read"), p.involved(sessionRole(p))}})
				continue
			}
		}
		if s.views != nil {
			view = s.views(r)
		}
		if view == nil {
			continue
		}
		if w := zxids[r.key].committedBy(view.zxid); w != nil && w.version > r.version {
			if s.part != nil && view.call.Invoke == nil {
				// The view is another key's operation: it is read
				// back if the violation is among the examples.
				s.count(RuleSessionView, 1)
				s.part.keep(Violation{Rule: RuleSessionView, Key: r.key, Session: name}, &unresolved{name: name, r: r, view: view, w: w})
				continue
			}
			s.violation(sessionView(name, r, view, w))
		}
	}
}

// sessionView is the violation of a read r of session name that returned an
// older version than w, committed within the session's view.
func sessionView(name string, r, view, w *operation) Violation {
	return Violation{Rule: RuleSessionView, Key: r.key, Session: name,
		Explanation: fmt.Sprintf("%s returned version %d, older than the session's view: it had already seen zxid 0x%x (%s), "+
			"and version %d of %s was committed at zxid 0x%x (%s)",
			r.describe(), r.version, view.zxid, view.describe(), w.version, r.key, w.zxid, w.describe()),
		Ops: []InvolvedOp{r.involved("read"), view.involved(sessionRole(view)), w.involved("committed within the session's view")}}
}

// sessionRole says what an earlier operation of a session is to it.
func sessionRole(p *operation) string {
	if p.isWrite() {
		return "the session's own earlier write"
	}
	return "the session's earlier read"
}

// byReturn returns ops sorted by completion time.
func byReturn(ops []*operation) []*operation {
	out := append([]*operation(nil), ops...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].ret < out[j].ret })
	return out
}
