// Package transactions judges the multi workload: ZooKeeper's multi is
// atomic, its writes are linearizable, and a snapshot confirmed by a
// check-only multi is the state at that multi's commit.
package transactions

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// FTxn is the multi workload's transaction: a multi that sets each of the
// keys named in Key (see JoinKeys) to the matching value of Values, possibly
// guarded by version checks. An ok completion carries in Zxids the zxid each
// set returned. The workload's reads (history.Read) name several keys the
// same way and carry the values and modification zxids read in Values and
// Zxids, confirmed as one snapshot by a check-only multi.
const FTxn = "txn"

// JoinKeys encodes the keys of a multi-key operation in Op.Key.
func JoinKeys(keys []string) string { return strings.Join(keys, ",") }

// SplitKeys decodes what JoinKeys encoded.
func SplitKeys(key string) []string {
	if key == "" {
		return nil
	}
	return strings.Split(key, ",")
}

// Checker judges the multi workload: ZooKeeper's multi is atomic and its
// writes are linearizable, and a snapshot confirmed by a check-only multi is
// the state at that multi's commit. The rules, each a consequence of those
// promises:
//
//   - no phantom values: every value a snapshot shows at a key was written
//     there by a transaction that did not fail (failed multis leave no
//     trace), or is the initial 0.
//   - one zxid per transaction: all the writes of a transaction carry the
//     same zxid, wherever they are seen, and no two transactions share one.
//   - all or nothing: when a snapshot shows a transaction's value at one
//     key (modified at zxid z), every other key of that transaction was
//     modified at z or later in the same snapshot.
//   - real time: a snapshot shows, at every key, a modification no older
//     than any transaction acknowledged before the snapshot began (no lost
//     writes), and no value of a transaction invoked after it ended.
type Checker struct{}

// Name returns "transactions".
func (Checker) Name() string { return "transactions" }

// Details is the evidence of the multi checker.
type Details struct {
	// Transactions counts ok, failed and indeterminate transactions.
	TxnOK   int `json:"txn_ok"`
	TxnFail int `json:"txn_fail"`
	TxnInfo int `json:"txn_info"`
	// Snapshots counts confirmed snapshots checked.
	Snapshots int `json:"snapshots"`
	// Malformed counts records that could not be used (keys and values not
	// aligned).
	Malformed int `json:"malformed,omitempty"`
	// AtomicityChecks counts (snapshot, transaction, other key) triples
	// checked for all-or-nothing visibility.
	AtomicityChecks int `json:"atomicity_checks"`
	// RealTimeChecks counts (snapshot, key) pairs checked against the
	// transactions acknowledged before the snapshot began.
	RealTimeChecks int `json:"real_time_checks"`
	// ViolationCount is the number of violations; Violations lists the
	// first of them.
	ViolationCount int         `json:"violation_count"`
	Violations     []Violation `json:"violations,omitempty"`
}

// Violation is one broken promise.
type Violation struct {
	// Rule names the promise: phantom-value, failed-visible, split-zxid,
	// shared-zxid, fractured, lost-write or future-read.
	Rule string `json:"rule"`
	// Message explains the violation for a person.
	Message string `json:"message"`
	// Ops are the indexes of the records involved.
	Ops []int64 `json:"ops"`
	// invoked are the invocation records of the calls involved.
	invoked []int64
}

const violationLimit = 20

type txn struct {
	call   int
	keys   []string
	values []int64
	typ    history.Type
	zxid   int64 // 0 when unknown
	zxidBy int   // call that told the zxid
}

type txnWriter struct {
	txn int // index into txns
	pos int // position of the key in the transaction
}

type snap struct {
	call   int
	keys   []string
	values []int64
	zxids  []int64
	at     map[string]int // key -> position
}

type state struct {
	d     Details
	calls []history.Call
	txns  []txn
	// writers maps a value to the transactions that wrote it, anywhere.
	writers map[int64][]txnWriter
	byZxid  map[int64]int // zxid -> txn
}

func (s *state) violate(rule, msg string, calls ...int) {
	s.d.ViolationCount++
	if len(s.d.Violations) >= violationLimit {
		return
	}
	var idx, invoked []int64
	for _, c := range calls {
		invoked = append(invoked, s.calls[c].Invoke.Index)
		idx = append(idx, s.calls[c].Records()...)
	}
	s.d.Violations = append(s.d.Violations, Violation{Rule: rule, Message: msg, Ops: idx, invoked: invoked})
}

// Check judges ops; the result's Details is a Details.
func (Checker) Check(ctx context.Context, ops []history.Op) checker.Result {
	start := time.Now()
	s := &state{calls: history.Calls(ops), writers: map[int64][]txnWriter{}, byZxid: map[int64]int{}}
	var snaps []snap
	for i, c := range s.calls {
		switch c.Invoke.F {
		case FTxn:
			s.addTxn(i)
		case history.Read:
			if c.Type() != history.OK {
				continue
			}
			sn := snap{call: i, keys: SplitKeys(c.Invoke.Key), values: c.Complete.Values, zxids: c.Complete.Zxids, at: map[string]int{}}
			if len(sn.keys) == 0 || len(sn.keys) != len(sn.values) || len(sn.keys) != len(sn.zxids) {
				s.d.Malformed++
				continue
			}
			for p, k := range sn.keys {
				sn.at[k] = p
			}
			snaps = append(snaps, sn)
		}
	}
	s.d.Snapshots = len(snaps)
	// Which zxid each transaction committed at: from its completion, then
	// from every snapshot that shows one of its values.
	var cut string // why the check stopped early
	for n, sn := range snaps {
		if n%256 == 0 && ctx.Err() != nil {
			cut = "ran out of time while reading the snapshots: " + ctx.Err().Error()
			break
		}
		for p, k := range sn.keys {
			if t, ok := s.writer(sn.values[p], k); ok {
				s.learnZxid(t, sn.zxids[p], sn.call)
			}
		}
	}
	if cut == "" {
		floors := s.realTimeFloors()
		for n := range snaps {
			if n%256 == 0 && ctx.Err() != nil {
				cut = "ran out of time while checking the snapshots: " + ctx.Err().Error()
				break
			}
			s.snapshot(&snaps[n], floors)
		}
	}
	if cut != "" && s.d.ViolationCount == 0 {
		return checker.Result{Checker: "transactions", Verdict: checker.Unknown, Details: s.d, Duration: time.Since(start),
			Message: "The check " + cut + "; no violation was found before."}
	}

	d := s.d
	r := checker.Result{Checker: "transactions", Details: d}
	summary := fmt.Sprintf("%d transactions ok, %d failed, %d indeterminate; %d confirmed snapshots; %d all-or-nothing and %d real-time checks",
		d.TxnOK, d.TxnFail, d.TxnInfo, d.Snapshots, d.AtomicityChecks, d.RealTimeChecks)
	switch {
	case d.ViolationCount > 0:
		r.Verdict = checker.Invalid
		seen := map[string]bool{}
		var rules []string
		for _, v := range d.Violations {
			if !seen[v.Rule] {
				seen[v.Rule] = true
				rules = append(rules, v.Rule)
			}
		}
		r.Message = fmt.Sprintf("%d transaction violations (%s); first: %s. %s.", d.ViolationCount, strings.Join(rules, ", "), d.Violations[0].Message, summary)
		if cut != "" {
			r.Message += " The check " + cut + "."
		}
	case d.Malformed > 0:
		r.Verdict = checker.Unknown
		r.Message = fmt.Sprintf("%s could not be read (keys and values that do not match), so what they show is unknown; no violation was found in the rest. %s.",
			checker.Plural(d.Malformed, "record", "records"), summary)
	case d.TxnOK == 0 || d.Snapshots == 0 || d.AtomicityChecks == 0:
		r.Verdict = checker.Unknown
		r.Message = "too little evidence: no snapshot showed a committed transaction of several keys. " + summary + "."
	default:
		r.Verdict = checker.Valid
		r.Message = "every snapshot showed each transaction entirely or not at all, and no lost or failed write. " + summary + "."
	}
	r.Duration = time.Since(start)
	return r
}

// addTxn indexes the transaction of call i.
func (s *state) addTxn(i int) {
	c := s.calls[i]
	keys := SplitKeys(c.Invoke.Key)
	if len(keys) == 0 || len(keys) != len(c.Invoke.Values) {
		s.d.Malformed++
		return
	}
	t := txn{call: i, keys: keys, values: c.Invoke.Values, typ: c.Type()}
	switch t.typ {
	case history.OK:
		s.d.TxnOK++
	case history.Fail:
		s.d.TxnFail++
	default:
		s.d.TxnInfo++
	}
	n := len(s.txns)
	s.txns = append(s.txns, t)
	for p, v := range t.values {
		s.writers[v] = append(s.writers[v], txnWriter{txn: n, pos: p})
	}
	if t.typ != history.OK {
		return
	}
	for _, z := range c.Complete.Zxids {
		if z != 0 {
			s.learnZxid(n, z, i)
		}
	}
}

// writer returns the one transaction that wrote value v at key k.
func (s *state) writer(v int64, k string) (int, bool) {
	found, n := -1, 0
	for _, w := range s.writers[v] {
		if s.txns[w.txn].keys[w.pos] == k {
			found = w.txn
			n++
		}
	}
	return found, n == 1
}

// learnZxid records that transaction t committed at z, as call `by` says.
func (s *state) learnZxid(t int, z int64, by int) {
	tx := &s.txns[t]
	if tx.zxid == 0 {
		tx.zxid, tx.zxidBy = z, by
		if other, ok := s.byZxid[z]; ok && other != t {
			s.violate("shared-zxid", fmt.Sprintf("transactions %s and %s were both seen at zxid %#x: one zxid is one transaction",
				s.describe(other), s.describe(t), z), s.txns[other].call, tx.call, by)
			return
		}
		s.byZxid[z] = t
		return
	}
	if tx.zxid != z {
		s.violate("split-zxid", fmt.Sprintf("transaction %s was seen at zxid %#x and at zxid %#x: its writes were not one transaction",
			s.describe(t), tx.zxid, z), tx.call, tx.zxidBy, by)
	}
}

func (s *state) describe(t int) string {
	tx := s.txns[t]
	parts := make([]string, len(tx.keys))
	for p, k := range tx.keys {
		parts[p] = fmt.Sprintf("%s=%d", k, tx.values[p])
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// floor is, for one key, the highest zxid of the ok transactions that
// completed before each time.
type floor struct {
	times []int64 // completion times, ascending
	zxid  []int64 // highest zxid among the first i+1
	by    []int   // the transaction that has it
}

func (s *state) realTimeFloors() map[string]*floor {
	type done struct {
		t   int64
		txn int
	}
	perKey := map[string][]done{}
	for n, tx := range s.txns {
		if tx.typ != history.OK || tx.zxid == 0 {
			continue
		}
		t := s.calls[tx.call].Complete.Time
		for _, k := range tx.keys {
			perKey[k] = append(perKey[k], done{t, n})
		}
	}
	floors := map[string]*floor{}
	for k, ds := range perKey {
		sort.SliceStable(ds, func(i, j int) bool { return ds[i].t < ds[j].t })
		f := &floor{}
		var best int64
		bestBy := -1
		for _, d := range ds {
			if z := s.txns[d.txn].zxid; z > best {
				best, bestBy = z, d.txn
			}
			f.times = append(f.times, d.t)
			f.zxid = append(f.zxid, best)
			f.by = append(f.by, bestBy)
		}
		floors[k] = f
	}
	return floors
}

// before returns the highest zxid of a transaction acknowledged before t,
// and which transaction it was.
func (f *floor) before(t int64) (int64, int) {
	if f == nil {
		return 0, -1
	}
	n := sort.Search(len(f.times), func(i int) bool { return f.times[i] >= t })
	if n == 0 {
		return 0, -1
	}
	return f.zxid[n-1], f.by[n-1]
}

// snapshot checks one confirmed snapshot.
func (s *state) snapshot(sn *snap, floors map[string]*floor) {
	c := s.calls[sn.call]
	for p, k := range sn.keys {
		v, z := sn.values[p], sn.zxids[p]

		s.d.RealTimeChecks++
		if need, by := floors[k].before(c.Invoke.Time); z < need {
			s.violate("lost-write", fmt.Sprintf(
				"a snapshot read %s=%d modified at zxid %#x, but transaction %s, acknowledged at zxid %#x before the snapshot began, set %s: a lost write",
				k, v, z, s.describe(by), need, k), s.txns[by].call, sn.call)
		}

		if v == 0 {
			continue // the initial value: older than every transaction
		}
		t, ok := s.writer(v, k)
		if !ok {
			if len(s.writers[v]) == 0 {
				s.violate("phantom-value", fmt.Sprintf("a snapshot read %s=%d, a value no transaction wrote", k, v), sn.call)
			} else {
				s.violate("phantom-value", fmt.Sprintf("a snapshot read %s=%d, a value no transaction wrote to %s", k, v, k), sn.call)
			}
			continue
		}
		tx := s.txns[t]
		if tx.typ == history.Fail {
			s.violate("failed-visible", fmt.Sprintf("a snapshot read %s=%d, written by transaction %s that failed: a failed multi must leave no trace",
				k, v, s.describe(t)), tx.call, sn.call)
			continue
		}
		if s.calls[tx.call].Invoke.Time > c.Complete.Time {
			s.violate("future-read", fmt.Sprintf("a snapshot read %s=%d, written by transaction %s invoked after the snapshot ended",
				k, v, s.describe(t)), tx.call, sn.call)
		}
		for q, other := range tx.keys {
			if other == k {
				continue
			}
			op, present := sn.at[other]
			if !present {
				continue
			}
			s.d.AtomicityChecks++
			zo, vo := sn.zxids[op], sn.values[op]
			switch {
			case zo < z:
				s.violate("fractured", fmt.Sprintf(
					"a snapshot shows transaction %s at %s (zxid %#x) but not at %s, which it read as %d modified at the older zxid %#x: the transaction was not all-or-nothing",
					s.describe(t), k, z, other, vo, zo), tx.call, sn.call)
			case zo == z && vo != tx.values[q]:
				s.violate("fractured", fmt.Sprintf(
					"a snapshot shows transaction %s at %s but %s=%d at the same zxid %#x",
					s.describe(t), k, other, vo, z), tx.call, sn.call)
			}
		}
	}
}
