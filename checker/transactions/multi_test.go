package transactions

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/checkertest"
)

// Builders of multi-workload histories; times in ms. Keys and values are
// given as "k0=1" style pairs through pair.

type pair struct {
	k string
	v int64
	z int64 // modification zxid, for snapshots
}

func split(kvs []pair) ([]string, []int64, []int64) {
	var keys []string
	var values, zxids []int64
	for _, kv := range kvs {
		keys = append(keys, kv.k)
		values = append(values, kv.v)
		zxids = append(zxids, kv.z)
	}
	return keys, values, zxids
}

// txnOp is a transaction that ended with typ; an ok one committed at zxid.
func txnOp(p int, typ history.Type, call, ret, zxid int64, kvs ...pair) []history.Op {
	keys, values, _ := split(kvs)
	inv := checkertest.Invoke(p, FTxn, JoinKeys(keys), call)
	inv.Values = values
	c := checkertest.Complete(inv, typ, ret)
	c.Values = values
	switch typ {
	case history.OK:
		for range keys {
			c.Zxids = append(c.Zxids, zxid)
		}
	case history.Fail:
		c.Error = "zk: version conflict"
	default:
		c.Error = "zk: connection closed"
	}
	return []history.Op{inv, c}
}

// snapOp is a confirmed snapshot that read kvs.
func snapOp(p int, call, ret int64, kvs ...pair) []history.Op {
	keys, values, zxids := split(kvs)
	inv := checkertest.Invoke(p, history.Read, JoinKeys(keys), call)
	c := checkertest.Complete(inv, history.OK, ret)
	c.Values, c.Zxids = values, zxids
	return []history.Op{inv, c}
}

func kv(k string, v int64) pair           { return pair{k: k, v: v} }
func kvz(k string, v int64, z int64) pair { return pair{k: k, v: v, z: z} }

const initZxid = 0x5 // zxid of the setup's creates

func check(t *testing.T, ops []history.Op) (checker.Result, Details) {
	t.Helper()
	r := Checker{}.Check(context.Background(), ops)
	d, ok := r.Details.(Details)
	require.True(t, ok, "details are MultiDetails")
	require.NotEmpty(t, r.Message)
	return r, d
}

func rules(d Details) []string {
	var rules []string
	for _, v := range d.Violations {
		rules = append(rules, v.Rule)
	}
	return rules
}

// base: T1 sets k0,k1 at 0x10; T2 sets k1,k2 at 0x11; T3 fails; a
// snapshot after both sees T1 at k0 and T2 at k1 and k2.
func base() [][]history.Op {
	return [][]history.Op{
		snapOp(1, 0, 1, kvz("k0", 0, initZxid), kvz("k1", 0, initZxid), kvz("k2", 0, initZxid)),
		txnOp(2, history.OK, 1, 2, 0x10, kv("k0", 1), kv("k1", 2)),
		txnOp(3, history.OK, 3, 4, 0x11, kv("k1", 3), kv("k2", 4)),
		txnOp(4, history.Fail, 3, 4, 0, kv("k0", 5), kv("k2", 6)),
		snapOp(1, 5, 6, kvz("k0", 1, 0x10), kvz("k1", 3, 0x11), kvz("k2", 4, 0x11)),
	}
}

func TestMultiSnapshotsSeeWholeTransactions(t *testing.T) {
	r, d := check(t, checkertest.Hist(base()...))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, Checker{}.Name(), r.Checker)
	assert.Equal(t, 2, d.TxnOK)
	assert.Equal(t, 1, d.TxnFail)
	assert.Equal(t, 2, d.Snapshots)
	assert.Equal(t, 3, d.AtomicityChecks, "T1 seen at k0 (checks k1), T2 at k1 (checks k2) and at k2 (checks k1)")
	assert.Equal(t, 6, d.RealTimeChecks)
}

func TestMultiConcurrentSnapshotMaySeeATransactionOrNot(t *testing.T) {
	for name, snap := range map[string][]history.Op{
		"not yet": snapOp(5, 7, 12, kvz("k0", 1, 0x10), kvz("k1", 3, 0x11), kvz("k2", 4, 0x11)),
		"already": snapOp(5, 7, 12, kvz("k0", 7, 0x12), kvz("k1", 3, 0x11), kvz("k2", 8, 0x12)),
	} {
		t.Run(name, func(t *testing.T) {
			r, _ := check(t, checkertest.Hist(append(base(), txnOp(6, history.OK, 8, 10, 0x12, kv("k0", 7), kv("k2", 8)), snap)...))
			assert.Equal(t, checker.Valid, r.Verdict, r.Message)
		})
	}
}

func TestMultiIndeterminateTransactionIsAllOrNothingToo(t *testing.T) {
	info := txnOp(6, history.Info, 8, 10, 0, kv("k0", 7), kv("k2", 8))
	t.Run("seen whole", func(t *testing.T) {
		r, _ := check(t, checkertest.Hist(append(base(), info,
			snapOp(5, 20, 21, kvz("k0", 7, 0x12), kvz("k1", 3, 0x11), kvz("k2", 8, 0x12)))...))
		assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	})
	t.Run("never seen", func(t *testing.T) {
		r, _ := check(t, checkertest.Hist(append(base(), info,
			snapOp(5, 20, 21, kvz("k0", 1, 0x10), kvz("k1", 3, 0x11), kvz("k2", 4, 0x11)))...))
		assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	})
	t.Run("seen in part", func(t *testing.T) {
		// Visible at k0, so it committed; then k2 must show it too.
		r, d := check(t, checkertest.Hist(append(base(), info,
			snapOp(5, 20, 21, kvz("k0", 7, 0x12), kvz("k1", 3, 0x11), kvz("k2", 4, 0x11)))...))
		assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
		assert.Equal(t, []string{"fractured"}, rules(d))
	})
}

func TestMultiFracturedSnapshotIsInvalid(t *testing.T) {
	// T1 at k0 but k1 still initial: half of T1.
	r, d := check(t, checkertest.Hist(
		txnOp(2, history.OK, 1, 2, 0x10, kv("k0", 1), kv("k1", 2)),
		snapOp(1, 1, 3, kvz("k0", 1, 0x10), kvz("k1", 0, initZxid)),
	))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Equal(t, []string{"fractured"}, rules(d), "T1 ended after the snapshot began: not a lost write")
}

func TestMultiSameZxidDifferentTransactionIsInvalid(t *testing.T) {
	r, d := check(t, checkertest.Hist(append(base(),
		txnOp(6, history.Info, 8, 10, 0, kv("k0", 7), kv("k2", 8)),
		snapOp(5, 20, 21, kvz("k0", 7, 0x12), kvz("k1", 3, 0x11), kvz("k2", 4, 0x12)))...))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Contains(t, rules(d), "fractured")
	assert.Contains(t, rules(d), "split-zxid", "T2's value 4 seen at 0x11 and at 0x12")
}

func TestMultiLostWriteIsInvalid(t *testing.T) {
	r, d := check(t, checkertest.Hist(append(base(),
		// After T2 was acknowledged, k1 and k2 show older modifications.
		snapOp(5, 20, 21, kvz("k0", 1, 0x10), kvz("k1", 2, 0x10), kvz("k2", 0, initZxid)))...))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Equal(t, []string{"lost-write", "lost-write"}, rules(d))
}

func TestMultiPhantomAndFailedValuesAreInvalid(t *testing.T) {
	for name, c := range map[string]struct {
		snap []history.Op
		rule string
	}{
		"never written": {snapOp(5, 20, 21, kvz("k0", 99, 0x20), kvz("k1", 3, 0x11), kvz("k2", 4, 0x11)), "phantom-value"},
		"other key":     {snapOp(5, 20, 21, kvz("k0", 3, 0x11), kvz("k1", 3, 0x11), kvz("k2", 4, 0x11)), "phantom-value"},
		"failed txn":    {snapOp(5, 20, 21, kvz("k0", 5, 0x12), kvz("k1", 3, 0x11), kvz("k2", 6, 0x12)), "failed-visible"},
	} {
		t.Run(name, func(t *testing.T) {
			r, d := check(t, checkertest.Hist(append(base(), c.snap)...))
			assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
			assert.Contains(t, rules(d), c.rule)
			for _, rule := range rules(d) {
				assert.Equal(t, c.rule, rule)
			}
		})
	}
}

func TestMultiReadFromTheFutureIsInvalid(t *testing.T) {
	r, d := check(t, checkertest.Hist(append(base(),
		snapOp(5, 20, 21, kvz("k0", 7, 0x12), kvz("k1", 3, 0x11), kvz("k2", 8, 0x12)),
		txnOp(6, history.OK, 30, 31, 0x12, kv("k0", 7), kv("k2", 8)))...))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Equal(t, []string{"future-read", "future-read"}, rules(d))
}

func TestMultiTransactionWithTwoZxidsIsInvalid(t *testing.T) {
	txn := txnOp(6, history.OK, 8, 10, 0x12, kv("k0", 7), kv("k2", 8))
	txn[1].Zxids[1] = 0x13
	r, d := check(t, checkertest.Hist(append(base(), txn)...))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Equal(t, []string{"split-zxid"}, rules(d))
}

func TestMultiTwoTransactionsAtOneZxidAreInvalid(t *testing.T) {
	r, d := check(t, checkertest.Hist(append(base(), txnOp(6, history.OK, 8, 10, 0x11, kv("k0", 7), kv("k2", 8)))...))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Equal(t, []string{"shared-zxid"}, rules(d))
}

func TestMultiUnconfirmedSnapshotIsNoEvidence(t *testing.T) {
	snap := snapOp(5, 20, 21, kvz("k0", 99, 0x20), kvz("k1", 0, initZxid))
	snap[1].Type, snap[1].Error = history.Fail, "snapshot not confirmed by the quorum: zk: version conflict"
	r, _ := check(t, checkertest.Hist(append(base(), snap)...))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
}

func TestMultiWithoutEvidenceIsUnknown(t *testing.T) {
	for name, ops := range map[string][]history.Op{
		"empty":          nil,
		"no snapshots":   checkertest.Hist(txnOp(2, history.OK, 1, 2, 0x10, kv("k0", 1), kv("k1", 2))),
		"no txns":        checkertest.Hist(snapOp(1, 0, 1, kvz("k0", 0, initZxid), kvz("k1", 0, initZxid))),
		"nothing shown":  checkertest.Hist(txnOp(2, history.OK, 1, 2, 0x10, kv("k0", 1), kv("k1", 2)), snapOp(1, 0, 1, kvz("k0", 0, initZxid), kvz("k1", 0, initZxid))),
		"single-key txn": checkertest.Hist(txnOp(2, history.OK, 1, 2, 0x10, kv("k0", 1)), snapOp(1, 3, 4, kvz("k0", 1, 0x10), kvz("k1", 0, initZxid))),
	} {
		t.Run(name, func(t *testing.T) {
			r, _ := check(t, ops)
			assert.Equal(t, checker.Unknown, r.Verdict, r.Message)
		})
	}
}

func TestMultiMalformedRecordsMakeTheVerdictUnknown(t *testing.T) {
	bad := snapOp(5, 20, 21, kvz("k0", 99, 0x20), kvz("k1", 0, initZxid))
	bad[1].Zxids = bad[1].Zxids[:1]
	badTxn := txnOp(6, history.OK, 8, 10, 0x12, kv("k0", 7), kv("k2", 8))
	badTxn[0].Values = badTxn[0].Values[:1]
	r, d := check(t, checkertest.Hist(append(base(), bad, badTxn)...))
	assert.Equal(t, checker.Unknown, r.Verdict, "a record that could not be read may hide a violation: %s", r.Message)
	assert.Equal(t, 2, d.Malformed)
	assert.Contains(t, r.Message, "2 records could not be read")
}

func TestMultiOutOfTimeIsUnknown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := Checker{}.Check(ctx, checkertest.Hist(base()...))
	assert.Equal(t, checker.Unknown, r.Verdict, r.Message)
}

func TestMultiKeysRoundTrip(t *testing.T) {
	assert.Equal(t, []string{"k1", "k3"}, SplitKeys(JoinKeys([]string{"k1", "k3"})))
	assert.Nil(t, SplitKeys(""))
}

// fuzzHistory decodes bytes into a multi-like history: every 7 bytes one
// record, keys and values that need not line up, zxids that need not agree.
func fuzzHistory(data []byte) []history.Op {
	types := []history.Type{history.Invoke, history.OK, history.Fail, history.Info, "bogus"}
	fs := []string{FTxn, history.Read, FTxn, "other"}
	keySets := []string{"k0,k1", "k1,k2,k0", "k0,k1,k2", "k0", "", "k0,k0", "k2,k1"}
	var ops []history.Op
	var t int64
	for i := 0; i+7 <= len(data) && len(ops) < 500; i += 7 {
		b := data[i : i+7]
		op := history.Op{
			Index:   int64(len(ops)),
			Type:    types[int(b[0])%len(types)],
			F:       fs[int(b[1])%len(fs)],
			Process: history.Process(int(b[2]%6) - 1),
			Key:     keySets[int(b[3])%len(keySets)],
		}
		t += int64(int8(b[4]))
		op.Time = t
		for j := 0; j < int(b[5]%4); j++ {
			op.Values = append(op.Values, int64(data[(i+j)%len(data)]%9)-1)
		}
		for j := 0; j < int(b[6]%4); j++ {
			op.Zxids = append(op.Zxids, int64(data[(i+j+3)%len(data)]%5))
		}
		ops = append(ops, op)
	}
	return ops
}

func FuzzMulti(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 1, 0, 1, 2, 0, 1, 0, 1, 0, 1, 2, 2, 0, 1, 2, 2, 1, 3, 3, 1, 1, 2, 2, 1, 3, 3})
	f.Add([]byte("all or nothing, said the transaction; nothing, said the snapshot"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := Checker{}.Check(context.Background(), fuzzHistory(data))
		if r.Verdict != checker.Valid && r.Verdict != checker.Invalid && r.Verdict != checker.Unknown {
			t.Fatalf("verdict %q", r.Verdict)
		}
		if r.Message == "" {
			t.Fatal("no message")
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatal(err)
		}
	})
}
