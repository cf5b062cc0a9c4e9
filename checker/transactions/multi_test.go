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
// given as "k0=1" style pairs through mtPair.

type mtPair struct {
	k string
	v int64
	z int64 // modification zxid, for snapshots
}

func mtSplit(kvs []mtPair) ([]string, []int64, []int64) {
	var keys []string
	var values, zxids []int64
	for _, kv := range kvs {
		keys = append(keys, kv.k)
		values = append(values, kv.v)
		zxids = append(zxids, kv.z)
	}
	return keys, values, zxids
}

// mtTxn is a transaction that ended with typ; an ok one committed at zxid.
func mtTxnOp(p int, typ history.Type, call, ret, zxid int64, kvs ...mtPair) []history.Op {
	keys, values, _ := mtSplit(kvs)
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

// mtSnap is a confirmed snapshot that read kvs.
func mtSnapOp(p int, call, ret int64, kvs ...mtPair) []history.Op {
	keys, values, zxids := mtSplit(kvs)
	inv := checkertest.Invoke(p, history.Read, JoinKeys(keys), call)
	c := checkertest.Complete(inv, history.OK, ret)
	c.Values, c.Zxids = values, zxids
	return []history.Op{inv, c}
}

func mtKv(k string, v int64) mtPair           { return mtPair{k: k, v: v} }
func mtKvz(k string, v int64, z int64) mtPair { return mtPair{k: k, v: v, z: z} }

const mtInit = 0x5 // zxid of the setup's creates

func mtCheck(t *testing.T, ops []history.Op) (checker.Result, Details) {
	t.Helper()
	r := Checker{}.Check(context.Background(), ops)
	d, ok := r.Details.(Details)
	require.True(t, ok, "details are MultiDetails")
	require.NotEmpty(t, r.Message)
	return r, d
}

func mtRules(d Details) []string {
	var rules []string
	for _, v := range d.Violations {
		rules = append(rules, v.Rule)
	}
	return rules
}

// mtBase: T1 sets k0,k1 at 0x10; T2 sets k1,k2 at 0x11; T3 fails; a
// snapshot after both sees T1 at k0 and T2 at k1 and k2.
func mtBase() [][]history.Op {
	return [][]history.Op{
		mtSnapOp(1, 0, 1, mtKvz("k0", 0, mtInit), mtKvz("k1", 0, mtInit), mtKvz("k2", 0, mtInit)),
		mtTxnOp(2, history.OK, 1, 2, 0x10, mtKv("k0", 1), mtKv("k1", 2)),
		mtTxnOp(3, history.OK, 3, 4, 0x11, mtKv("k1", 3), mtKv("k2", 4)),
		mtTxnOp(4, history.Fail, 3, 4, 0, mtKv("k0", 5), mtKv("k2", 6)),
		mtSnapOp(1, 5, 6, mtKvz("k0", 1, 0x10), mtKvz("k1", 3, 0x11), mtKvz("k2", 4, 0x11)),
	}
}

func TestMultiSnapshotsSeeWholeTransactions(t *testing.T) {
	r, d := mtCheck(t, checkertest.Hist(mtBase()...))
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
		"not yet": mtSnapOp(5, 7, 12, mtKvz("k0", 1, 0x10), mtKvz("k1", 3, 0x11), mtKvz("k2", 4, 0x11)),
		"already": mtSnapOp(5, 7, 12, mtKvz("k0", 7, 0x12), mtKvz("k1", 3, 0x11), mtKvz("k2", 8, 0x12)),
	} {
		t.Run(name, func(t *testing.T) {
			r, _ := mtCheck(t, checkertest.Hist(append(mtBase(), mtTxnOp(6, history.OK, 8, 10, 0x12, mtKv("k0", 7), mtKv("k2", 8)), snap)...))
			assert.Equal(t, checker.Valid, r.Verdict, r.Message)
		})
	}
}

func TestMultiIndeterminateTransactionIsAllOrNothingToo(t *testing.T) {
	info := mtTxnOp(6, history.Info, 8, 10, 0, mtKv("k0", 7), mtKv("k2", 8))
	t.Run("seen whole", func(t *testing.T) {
		r, _ := mtCheck(t, checkertest.Hist(append(mtBase(), info,
			mtSnapOp(5, 20, 21, mtKvz("k0", 7, 0x12), mtKvz("k1", 3, 0x11), mtKvz("k2", 8, 0x12)))...))
		assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	})
	t.Run("never seen", func(t *testing.T) {
		r, _ := mtCheck(t, checkertest.Hist(append(mtBase(), info,
			mtSnapOp(5, 20, 21, mtKvz("k0", 1, 0x10), mtKvz("k1", 3, 0x11), mtKvz("k2", 4, 0x11)))...))
		assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	})
	t.Run("seen in part", func(t *testing.T) {
		// Visible at k0, so it committed; then k2 must show it too.
		r, d := mtCheck(t, checkertest.Hist(append(mtBase(), info,
			mtSnapOp(5, 20, 21, mtKvz("k0", 7, 0x12), mtKvz("k1", 3, 0x11), mtKvz("k2", 4, 0x11)))...))
		assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
		assert.Equal(t, []string{"fractured"}, mtRules(d))
	})
}

func TestMultiFracturedSnapshotIsInvalid(t *testing.T) {
	// T1 at k0 but k1 still initial: half of T1.
	r, d := mtCheck(t, checkertest.Hist(
		mtTxnOp(2, history.OK, 1, 2, 0x10, mtKv("k0", 1), mtKv("k1", 2)),
		mtSnapOp(1, 1, 3, mtKvz("k0", 1, 0x10), mtKvz("k1", 0, mtInit)),
	))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Equal(t, []string{"fractured"}, mtRules(d), "T1 ended after the snapshot began: not a lost write")
}

func TestMultiSameZxidDifferentTransactionIsInvalid(t *testing.T) {
	r, d := mtCheck(t, checkertest.Hist(append(mtBase(),
		mtTxnOp(6, history.Info, 8, 10, 0, mtKv("k0", 7), mtKv("k2", 8)),
		mtSnapOp(5, 20, 21, mtKvz("k0", 7, 0x12), mtKvz("k1", 3, 0x11), mtKvz("k2", 4, 0x12)))...))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Contains(t, mtRules(d), "fractured")
	assert.Contains(t, mtRules(d), "split-zxid", "T2's value 4 seen at 0x11 and at 0x12")
}

func TestMultiLostWriteIsInvalid(t *testing.T) {
	r, d := mtCheck(t, checkertest.Hist(append(mtBase(),
		// After T2 was acknowledged, k1 and k2 show older modifications.
		mtSnapOp(5, 20, 21, mtKvz("k0", 1, 0x10), mtKvz("k1", 2, 0x10), mtKvz("k2", 0, mtInit)))...))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Equal(t, []string{"lost-write", "lost-write"}, mtRules(d))
}

func TestMultiPhantomAndFailedValuesAreInvalid(t *testing.T) {
	for name, c := range map[string]struct {
		snap []history.Op
		rule string
	}{
		"never written": {mtSnapOp(5, 20, 21, mtKvz("k0", 99, 0x20), mtKvz("k1", 3, 0x11), mtKvz("k2", 4, 0x11)), "phantom-value"},
		"other key":     {mtSnapOp(5, 20, 21, mtKvz("k0", 3, 0x11), mtKvz("k1", 3, 0x11), mtKvz("k2", 4, 0x11)), "phantom-value"},
		"failed txn":    {mtSnapOp(5, 20, 21, mtKvz("k0", 5, 0x12), mtKvz("k1", 3, 0x11), mtKvz("k2", 6, 0x12)), "failed-visible"},
	} {
		t.Run(name, func(t *testing.T) {
			r, d := mtCheck(t, checkertest.Hist(append(mtBase(), c.snap)...))
			assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
			assert.Contains(t, mtRules(d), c.rule)
			for _, rule := range mtRules(d) {
				assert.Equal(t, c.rule, rule)
			}
		})
	}
}

func TestMultiReadFromTheFutureIsInvalid(t *testing.T) {
	r, d := mtCheck(t, checkertest.Hist(append(mtBase(),
		mtSnapOp(5, 20, 21, mtKvz("k0", 7, 0x12), mtKvz("k1", 3, 0x11), mtKvz("k2", 8, 0x12)),
		mtTxnOp(6, history.OK, 30, 31, 0x12, mtKv("k0", 7), mtKv("k2", 8)))...))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Equal(t, []string{"future-read", "future-read"}, mtRules(d))
}

func TestMultiTransactionWithTwoZxidsIsInvalid(t *testing.T) {
	txn := mtTxnOp(6, history.OK, 8, 10, 0x12, mtKv("k0", 7), mtKv("k2", 8))
	txn[1].Zxids[1] = 0x13
	r, d := mtCheck(t, checkertest.Hist(append(mtBase(), txn)...))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Equal(t, []string{"split-zxid"}, mtRules(d))
}

func TestMultiTwoTransactionsAtOneZxidAreInvalid(t *testing.T) {
	r, d := mtCheck(t, checkertest.Hist(append(mtBase(), mtTxnOp(6, history.OK, 8, 10, 0x11, mtKv("k0", 7), mtKv("k2", 8)))...))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Equal(t, []string{"shared-zxid"}, mtRules(d))
}

func TestMultiUnconfirmedSnapshotIsNoEvidence(t *testing.T) {
	snap := mtSnapOp(5, 20, 21, mtKvz("k0", 99, 0x20), mtKvz("k1", 0, mtInit))
	snap[1].Type, snap[1].Error = history.Fail, "snapshot not confirmed by the quorum: zk: version conflict"
	r, _ := mtCheck(t, checkertest.Hist(append(mtBase(), snap)...))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
}

func TestMultiWithoutEvidenceIsUnknown(t *testing.T) {
	for name, ops := range map[string][]history.Op{
		"empty":          nil,
		"no snapshots":   checkertest.Hist(mtTxnOp(2, history.OK, 1, 2, 0x10, mtKv("k0", 1), mtKv("k1", 2))),
		"no txns":        checkertest.Hist(mtSnapOp(1, 0, 1, mtKvz("k0", 0, mtInit), mtKvz("k1", 0, mtInit))),
		"nothing shown":  checkertest.Hist(mtTxnOp(2, history.OK, 1, 2, 0x10, mtKv("k0", 1), mtKv("k1", 2)), mtSnapOp(1, 0, 1, mtKvz("k0", 0, mtInit), mtKvz("k1", 0, mtInit))),
		"single-key txn": checkertest.Hist(mtTxnOp(2, history.OK, 1, 2, 0x10, mtKv("k0", 1)), mtSnapOp(1, 3, 4, mtKvz("k0", 1, 0x10), mtKvz("k1", 0, mtInit))),
	} {
		t.Run(name, func(t *testing.T) {
			r, _ := mtCheck(t, ops)
			assert.Equal(t, checker.Unknown, r.Verdict, r.Message)
		})
	}
}

func TestMultiMalformedRecordsMakeTheVerdictUnknown(t *testing.T) {
	bad := mtSnapOp(5, 20, 21, mtKvz("k0", 99, 0x20), mtKvz("k1", 0, mtInit))
	bad[1].Zxids = bad[1].Zxids[:1]
	badTxn := mtTxnOp(6, history.OK, 8, 10, 0x12, mtKv("k0", 7), mtKv("k2", 8))
	badTxn[0].Values = badTxn[0].Values[:1]
	r, d := mtCheck(t, checkertest.Hist(append(mtBase(), bad, badTxn)...))
	assert.Equal(t, checker.Unknown, r.Verdict, "a record that could not be read may hide a violation: %s", r.Message)
	assert.Equal(t, 2, d.Malformed)
	assert.Contains(t, r.Message, "2 records could not be read")
}

func TestMultiOutOfTimeIsUnknown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := Checker{}.Check(ctx, checkertest.Hist(mtBase()...))
	assert.Equal(t, checker.Unknown, r.Verdict, r.Message)
}

func TestMultiKeysRoundTrip(t *testing.T) {
	assert.Equal(t, []string{"k1", "k3"}, SplitKeys(JoinKeys([]string{"k1", "k3"})))
	assert.Nil(t, SplitKeys(""))
}

// mtFuzzHistory decodes bytes into a multi-like history: every 7 bytes one
// record, keys and values that need not line up, zxids that need not agree.
func mtFuzzHistory(data []byte) []history.Op {
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
		r := Checker{}.Check(context.Background(), mtFuzzHistory(data))
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
