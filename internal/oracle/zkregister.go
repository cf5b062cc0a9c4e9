package oracle

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/zkchaos/zkchaos/history"
)

// Verdicts of ZKRegister, spelled as the checkers spell theirs.
const (
	zkValid   = "valid"
	zkInvalid = "invalid"
	zkUnknown = "unknown"
)

// ZKResult is ZKRegister's judgement: the history's verdict and each key's.
type ZKResult struct {
	// Verdict is "valid", "invalid" or "unknown".
	Verdict string
	// Keys maps every key with a register operation to its own verdict:
	// "unknown" only for a key with a record the model cannot read and no
	// violation without it.
	Keys map[string]string
	// OKWrites and OKReads count the evidence: writes and cas that
	// completed ok, and ok reads held to linearizability.
	OKWrites, OKReads int
}

// zkOp is one register operation on a znode, as ZooKeeper saw it.
type zkOp struct {
	f      string
	value  int64 // written by a write or cas; returned by a read
	expect int32 // the version a cas requires
	// version is what an ok read returned, or the version an ok write or
	// cas reported making (when hasVersion).
	version    int32
	hasVersion bool
	// optional: indeterminate, it may have taken effect or not.
	optional bool
	// conflict: a cas refused with ErrBadVersion: it changed nothing, and
	// the version differed from the one it expected when it was refused.
	conflict  bool
	call, ret int64 // ret is math.MaxInt64 for an indeterminate operation
}

// zkNode is a register's state: its data and its data version.
type zkNode struct {
	value   int64
	version int32
}

// ZKRegister judges a history of the register workload: are the operations
// on each znode linearizable? A znode starts at 0 with version 0 (the
// workload creates it so). A write is setData: it sets the value and adds
// one to the version. A cas is setData with an expected version: it applies
// only when the znode is at that version. An ok read returned the value and
// version current at some moment of its call; reads count only when
// quorumReads (reads confirmed through the quorum), since plain and sync
// reads are not linearizable in ZooKeeper.
//
// Completions: ok happened, with its results; fail did not happen (a cas
// refused with "version conflict" also proves the version differed); info,
// and an invocation never completed, may have happened at any moment after
// its invocation, or never. Failed and indeterminate reads say nothing.
//
// A key with a write the model cannot read (without value, or a cas without
// expected version) cannot be judged: its effect is unknown. A key with an
// ok read the model cannot read (without value or version) is judged
// without it, since a read changes nothing: not linearizable without it is
// not linearizable with it; linearizable without it is unknown. The verdict is invalid when some key is not linearizable;
// otherwise unknown when some key cannot be judged or there is too little
// evidence (no write completed ok, or, with quorumReads, no read did);
// otherwise valid.
//
// It tries every order of each key's operations that respects real time,
// with every choice of the indeterminate ones, so keep keys to about a dozen
// operations.
func ZKRegister(ops []history.Op, quorumReads bool) (ZKResult, error) {
	res := ZKResult{Keys: map[string]string{}}
	byKey := map[string][]zkOp{}
	malformed := map[string]bool{}  // unreadable writes
	unreadable := map[string]bool{} // unreadable reads
	take := func(inv, done history.Op) {
		if inv.F != history.Read && inv.F != history.Write && inv.F != history.CAS {
			return
		}
		o, ok, err := toZKOp(inv, done, quorumReads)
		switch {
		case err != nil && inv.F == history.Read:
			unreadable[inv.Key] = true
		case err != nil:
			malformed[inv.Key] = true
		case !ok:
		default:
			byKey[inv.Key] = append(byKey[inv.Key], o)
			if done.Type == history.OK && o.f == history.Read {
				res.OKReads++
			}
			if done.Type == history.OK && o.f != history.Read {
				res.OKWrites++
			}
		}
		if _, seen := res.Keys[inv.Key]; !seen && (err != nil || ok) {
			res.Keys[inv.Key] = zkValid
		}
	}

	// Pairing: a completion ends the open invocation of its process; an
	// invocation its process abandoned by invoking again, or that never
	// completed, is indeterminate.
	open := map[history.Process]history.Op{}
	for _, op := range ops {
		if op.Process == history.NemesisProcess {
			continue
		}
		if op.Type == history.Invoke {
			if prev, ok := open[op.Process]; ok {
				take(prev, history.Op{Type: history.Info})
			}
			open[op.Process] = op
			continue
		}
		if inv, ok := open[op.Process]; ok {
			delete(open, op.Process)
			take(inv, op)
		}
	}
	for _, inv := range open {
		take(inv, history.Op{Type: history.Info})
	}

	verdict := zkValid
	for k := range res.Keys {
		switch {
		case malformed[k]:
			res.Keys[k] = zkUnknown
		case len(byKey[k]) > 20:
			return res, fmt.Errorf("key %s has %d operations, too many for brute force", k, len(byKey[k]))
		case !zkLinearizable(byKey[k]):
			res.Keys[k] = zkInvalid
			verdict = zkInvalid
		case unreadable[k]:
			res.Keys[k] = zkUnknown
		}
	}
	if verdict != zkInvalid && (len(malformed) > 0 || len(unreadable) > 0 || res.OKWrites == 0 || (quorumReads && res.OKReads == 0)) {
		verdict = zkUnknown
	}
	res.Verdict = verdict
	return res, nil
}

// toZKOp reads one invocation and its completion. ok is false for an
// operation that certainly changed nothing and showed nothing (a failed
// write, a read that did not complete ok, a read not held to
// linearizability); err is set for records the model cannot read.
func toZKOp(inv, done history.Op, quorumReads bool) (o zkOp, ok bool, err error) {
	o = zkOp{f: inv.F, call: inv.Time, ret: max(inv.Time, done.Time)}
	if done.Type != history.OK && done.Type != history.Fail {
		o.optional, o.ret = true, math.MaxInt64
	}
	if inv.F == history.Read {
		if done.Type != history.OK || !quorumReads {
			return o, false, nil
		}
		if done.Value == nil || done.Version == nil {
			return o, false, fmt.Errorf("ok read without value or version")
		}
		o.value, o.version, o.hasVersion = *done.Value, *done.Version, true
		return o, true, nil
	}
	if done.Type == history.Fail {
		if inv.F == history.Write || !strings.Contains(done.Error, "version conflict") {
			return o, false, nil
		}
		o.conflict = true
	}
	var found bool
	if o.value, found = zkEither(inv.Value, done.Value); !found {
		return o, false, fmt.Errorf("%s without value", inv.F)
	}
	if o.expect, found = zkEither(inv.Expect, done.Expect); inv.F == history.CAS && !found {
		return o, false, fmt.Errorf("cas without expected version")
	}
	if done.Type == history.OK && done.Version != nil {
		o.version, o.hasVersion = *done.Version, true
	}
	return o, true, nil
}

// zkEither returns *a, or else *b; ok is false when both are nil.
func zkEither[T any](a, b *T) (v T, ok bool) {
	switch {
	case a != nil:
		return *a, true
	case b != nil:
		return *b, true
	}
	return v, false
}

// zkLinearizable reports whether some order of ops, with some of the
// indeterminate ones left out, is a legal run of the znode that respects
// real time: an operation that returned before another was invoked comes
// first.
func zkLinearizable(ops []zkOp) bool {
	// Sorted by call, so that the search tries the natural order first.
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].call < ops[j].call })
	left := 0 // the definite operations, which every order must place
	for _, o := range ops {
		if !o.optional {
			left++
		}
	}
	failed := map[zkPoint]bool{}
	var try func(placed uint64, z zkNode, left int) bool
	try = func(placed uint64, z zkNode, left int) bool {
		if left == 0 {
			return true
		}
		s := zkPoint{placed, z}
		if failed[s] {
			return false
		}
		for i, o := range ops {
			if placed&(1<<i) != 0 || !zkMayComeNext(ops, placed, i) {
				continue
			}
			rest := left
			if !o.optional {
				rest--
			}
			if next, ok := zkApply(z, o); ok && try(placed|1<<i, next, rest) {
				return true
			}
		}
		failed[s] = true
		return false
	}
	return try(0, zkNode{}, left)
}

// zkPoint is a point of the search: the operations placed so far and
// the znode they left. What can follow depends on nothing else.
type zkPoint struct {
	placed uint64
	z      zkNode
}

// zkMayComeNext reports whether ops[i] may be placed after those in placed:
// no other unplaced operation returned before it was invoked.
func zkMayComeNext(ops []zkOp, placed uint64, i int) bool {
	for j, p := range ops {
		if j != i && placed&(1<<j) == 0 && p.ret < ops[i].call {
			return false
		}
	}
	return true
}

// apply runs o on z as ZooKeeper would; ok is false when o's recorded
// outcome cannot have come from z. An indeterminate cas placed where the
// version differs would change nothing, the same as leaving it out, so it
// is placed only where it applies.
func zkApply(z zkNode, o zkOp) (zkNode, bool) {
	switch o.f {
	case history.Read:
		return z, z.value == o.value && z.version == o.version
	case history.CAS:
		if o.conflict {
			return z, z.version != o.expect
		}
		if z.version != o.expect {
			return z, false
		}
	}
	next := zkNode{value: o.value, version: z.version + 1}
	if o.hasVersion && o.version != next.version {
		return z, false
	}
	return next, true
}
