package oracle

import (
	"fmt"
	"strings"

	"github.com/zkchaos/zkchaos/history"
)

// Answer is an oracle's verdict on one history.
type Answer struct {
	// Judged is false when the history holds records the claim cannot use,
	// or too little evidence, and no violation.
	Judged bool
	// Valid is the verdict when Judged.
	Valid bool
	// Why says which violation was found first, or why there is no
	// verdict.
	Why string
}

// String renders the answer as the checkers' verdicts read.
func (a Answer) String() string {
	switch {
	case !a.Judged:
		return "unknown"
	case a.Valid:
		return "valid"
	}
	return "invalid"
}

func violated(why string) Answer    { return Answer{Judged: true, Why: why} }
func cannotJudge(why string) Answer { return Answer{Why: why} }
func holds() Answer                 { return Answer{Judged: true, Valid: true} }

// settledCall is a client call as the oracle pairs it: an invocation and the
// completion its process recorded next, or none.
type settledCall struct {
	inv  history.Op
	done history.Op // Type Info with Time of the last record when missing
}

// settleCalls pairs every client invocation with the next completion of its
// process. An invocation left open when its process invokes again, or when
// the history ends, completes as info at the time of the last record.
func settleCalls(ops []history.Op) []settledCall {
	var calls []settledCall
	var last int64
	open := map[history.Process]int{}
	for _, op := range ops {
		last = max(last, op.Time)
		if op.Process == history.NemesisProcess {
			continue
		}
		if op.Type == history.Invoke {
			calls = append(calls, settledCall{inv: op})
			open[op.Process] = len(calls) - 1
			continue
		}
		if i, ok := open[op.Process]; ok {
			calls[i].done = op
			delete(open, op.Process)
		}
	}
	for i := range calls {
		if calls[i].done.Type == "" {
			calls[i].done = history.Op{Type: history.Info, Time: last}
		}
	}
	return calls
}

// mtTxn is a transaction as the oracle sees it.
type mtTxn struct {
	keys   []string
	values []int64
	typ    history.Type
	inv    int64 // invocation time
	ret    int64 // completion time
	zxids  map[int64]bool
}

// mtSnapshot is a confirmed snapshot: key -> value and modification zxid.
type mtSnapshot struct {
	keys         []string
	values       []int64
	zxids        []int64
	inv, ret     int64
	value, mzxid map[string]int64
}

// Multi decides the claim of the transactions checker for the multi
// workload (transactions "txn" setting the keys in Key, comma-separated, to
// Values; reads "read" of several keys confirmed as one snapshot). From
// ZooKeeper's promises that a multi is atomic, its writes linearizable and
// its commit one zxid, and that a confirmed snapshot is the state at one
// moment within its call:
//
//   - a transaction commits at one zxid, its own: all the zxids it is seen
//     at (its completion's, every snapshot's where it shows) are one, and
//     no two transactions are seen at one zxid;
//   - a snapshot value other than the initial 0 is written by exactly one
//     transaction at that key; it did not fail and was invoked before the
//     snapshot ended;
//   - a snapshot showing transaction T at a key modified at zxid z shows
//     every other key of T modified after z, or at z with T's value;
//   - a snapshot that began after transaction T was acknowledged shows
//     every key of T modified at T's zxid or later.
//
// It is not a full linearizability check: snapshots are not ordered
// against each other, and a transaction acknowledged and then overwritten
// before any snapshot began leaves no evidence. Records it cannot use make
// the answer unknown when no violation was found; so does a history with
// no acknowledged transaction, no snapshot, or no snapshot showing a
// transaction at one of its keys and reading another of them.
func Multi(ops []history.Op) Answer {
	var txns []*mtTxn
	var snaps []*mtSnapshot
	unusable, okTxns := 0, 0
	for _, c := range settleCalls(ops) {
		keys := strings.Split(c.inv.Key, ",")
		if c.inv.Key == "" {
			keys = nil
		}
		switch c.inv.F {
		case "txn":
			if len(keys) == 0 || len(keys) != len(c.inv.Values) {
				unusable++
				continue
			}
			t := &mtTxn{keys: keys, values: c.inv.Values, typ: c.done.Type, inv: c.inv.Time, ret: c.done.Time, zxids: map[int64]bool{}}
			if t.typ == history.OK {
				okTxns++
				for _, z := range c.done.Zxids {
					if z != 0 {
						t.zxids[z] = true
					}
				}
			}
			txns = append(txns, t)
		case history.Read:
			if c.done.Type != history.OK {
				continue
			}
			if len(keys) == 0 || len(keys) != len(c.done.Values) || len(keys) != len(c.done.Zxids) {
				unusable++
				continue
			}
			s := &mtSnapshot{keys: keys, values: c.done.Values, zxids: c.done.Zxids, inv: c.inv.Time, ret: c.done.Time,
				value: map[string]int64{}, mzxid: map[string]int64{}}
			for p, k := range keys {
				s.value[k], s.mzxid[k] = c.done.Values[p], c.done.Zxids[p]
			}
			snaps = append(snaps, s)
		}
	}

	// writerOf names the one transaction that wrote v at k, if exactly one
	// did: with the workload's unique values, the one the snapshot saw.
	writerOf := func(k string, v int64) (*mtTxn, bool) {
		var found *mtTxn
		n := 0
		for _, t := range txns {
			for p := range t.keys {
				if t.keys[p] == k && t.values[p] == v {
					found, n = t, n+1
				}
			}
		}
		return found, n == 1
	}
	for _, s := range snaps {
		for p, k := range s.keys {
			if t, ok := writerOf(k, s.values[p]); ok && s.zxids[p] != 0 {
				t.zxids[s.zxids[p]] = true
			}
		}
	}
	owner := map[int64]*mtTxn{}
	for _, t := range txns {
		if len(t.zxids) > 1 {
			return violated(fmt.Sprintf("transaction on %v seen at %d zxids", t.keys, len(t.zxids)))
		}
		for z := range t.zxids {
			if o, ok := owner[z]; ok {
				return violated(fmt.Sprintf("transactions on %v and %v both seen at zxid %#x", o.keys, t.keys, z))
			}
			owner[z] = t
		}
	}

	atomicity := 0
	for _, s := range snaps {
		for p, k := range s.keys {
			v, z := s.values[p], s.zxids[p]
			for _, t := range txns {
				if t.typ != history.OK || t.ret >= s.inv || len(t.zxids) == 0 || !contains(t.keys, k) {
					continue
				}
				for tz := range t.zxids {
					if z < tz {
						return violated(fmt.Sprintf("a snapshot read %s modified at %#x, older than transaction %v at %#x acknowledged before it began", k, z, t.values, tz))
					}
				}
			}
			if v == 0 {
				continue
			}
			t, ok := writerOf(k, v)
			switch {
			case !ok:
				return violated(fmt.Sprintf("a snapshot read %s=%d, which not exactly one transaction wrote there", k, v))
			case t.typ == history.Fail:
				return violated(fmt.Sprintf("a snapshot read %s=%d, written by a failed transaction", k, v))
			case t.inv > s.ret:
				return violated(fmt.Sprintf("a snapshot read %s=%d, written by a transaction invoked after it ended", k, v))
			}
			for q, other := range t.keys {
				vo, present := s.value[other]
				if other == k || !present {
					continue
				}
				atomicity++
				if zo := s.mzxid[other]; zo < z || (zo == z && vo != t.values[q]) {
					return violated(fmt.Sprintf("a snapshot shows transaction %v at %s (zxid %#x) but %s=%d at zxid %#x", t.values, k, z, other, vo, zo))
				}
			}
		}
	}
	switch {
	case unusable > 0:
		return cannotJudge(fmt.Sprintf("%d records without aligned keys and values", unusable))
	case okTxns == 0 || len(snaps) == 0 || atomicity == 0:
		return cannotJudge("no snapshot showed an acknowledged transaction of several keys")
	}
	return holds()
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
