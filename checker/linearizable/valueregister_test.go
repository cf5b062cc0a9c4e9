package linearizable

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/linsearch"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/history/gen"
	"github.com/zkchaos/zkchaos/internal/oracle"
)

func jepsen(t testing.TB, text string) []history.Op {
	t.Helper()
	h, err := history.ReadEDN(strings.NewReader(text))
	require.NoError(t, err)
	return h.Ops
}

func zero() *int64 { return history.Int64(0) }

// TestValueRegisterKnownAnswers holds one history per class of mistake a
// register checker can make, each with the answer Knossos gives.
func TestValueRegisterKnownAnswers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		initial *int64
		edn     string
		want    checker.Verdict
		message string
	}{{
		name: "a failed cas while the register holds its expected value is no violation",
		edn: `{:type :invoke, :f :write, :value 1, :process 0}
{:type :ok, :f :write, :value 1, :process 0}
{:type :invoke, :f :cas, :value [1 2], :process 1}
{:type :fail, :f :cas, :value [1 2], :process 1, :error :timeout}
{:type :invoke, :f :read, :value nil, :process 2}
{:type :ok, :f :read, :value 1, :process 2}`,
		want: checker.Valid,
	}, {
		name: "an indeterminate cas that took effect",
		edn: `{:type :invoke, :f :write, :value 1, :process 0}
{:type :ok, :f :write, :value 1, :process 0}
{:type :invoke, :f :cas, :value [1 2], :process 1}
{:type :invoke, :f :read, :value nil, :process 2}
{:type :ok, :f :read, :value 2, :process 2}
{:type :info, :f :cas, :value [1 2], :process 1}
{:type :invoke, :f :cas, :value [1 3], :process 3}
{:type :fail, :f :cas, :value [1 3], :process 3}`,
		want: checker.Valid,
	}, {
		name: "a read of a value only a failed write wrote",
		edn: `{:type :invoke, :f :write, :value 5, :process 0}
{:type :fail, :f :write, :value 5, :process 0}
{:type :invoke, :f :read, :value nil, :process 1}
{:type :ok, :f :read, :value 5, :process 1}`,
		want: checker.Invalid, message: "no operation wrote 5",
	}, {
		name: "a read of a value nobody wrote, with no ok write at all",
		edn: `{:type :invoke, :f :read, :value nil, :process 1}
{:type :ok, :f :read, :value 7, :process 1}`,
		initial: zero(), want: checker.Invalid, message: "process 1: read 7 (records 1-2), but no operation wrote 7",
	}, {
		name: "two concurrent cas from the same value both succeed",
		edn: `{:type :invoke, :f :cas, :value [0 1], :process 1}
{:type :invoke, :f :cas, :value [0 2], :process 2}
{:type :ok, :f :cas, :value [0 1], :process 1}
{:type :ok, :f :cas, :value [0 2], :process 2}`,
		initial: zero(), want: checker.Invalid, message: "none of these fits next",
	}, {
		name: "a read that saw a pending write, and nothing else completed",
		edn: `{:type :invoke, :f :write, :value 3, :process 0}
{:type :invoke, :f :read, :value nil, :process 1}
{:type :ok, :f :read, :value 3, :process 1}`,
		want: checker.Valid, message: "exercised little: no write completed ok",
	}, {
		name: "reads of the initial value only",
		edn: `{:type :invoke, :f :read, :value nil, :process 1}
{:type :ok, :f :read, :value 0, :process 1}
{:type :invoke, :f :read, :value nil, :process 1}
{:type :ok, :f :read, :value 0, :process 1}`,
		initial: zero(), want: checker.Valid, message: "exercised little",
	}, {
		name: "nothing completed",
		edn: `{:type :invoke, :f :write, :value 3, :process 0}
{:type :info, :f :write, :value 3, :process 0}`,
		want: checker.Valid, message: "exercised nothing",
	}, {
		name: "a stale read after an acknowledged write",
		edn: `{:type :invoke, :f :write, :value [:k 1], :process 0}
{:type :ok, :f :write, :value [:k 1], :process 0}
{:type :invoke, :f :write, :value [:k 2], :process 0}
{:type :ok, :f :write, :value [:k 2], :process 0}
{:type :invoke, :f :read, :value [:k nil], :process 1}
{:type :ok, :f :read, :value [:k 1], :process 1}`,
		want: checker.Invalid, message: "process 1: read 1 (records 5-6), but 1 was overwritten before the read began: process 0: write 2 (records 3-4) completed before it, and after the last write of it, process 0: write 1 (records 1-2), completed",
	}, {
		name: "a read of nil is a read of an unknown value, as in Knossos",
		edn: `{:type :invoke, :f :write, :value 1, :process 0}
{:type :ok, :f :write, :value 1, :process 0}
{:type :invoke, :f :read, :value nil, :process 1}
{:type :ok, :f :read, :value nil, :process 1}`,
		want: checker.Valid, message: "1 ok read of nil left out",
	}, {
		name: "an indeterminate write read after a later write: it took effect late",
		edn: `{:type :invoke, :f :write, :value 1, :process 0}
{:type :invoke, :f :write, :value 2, :process 1}
{:type :ok, :f :write, :value 2, :process 1}
{:type :invoke, :f :read, :value nil, :process 2}
{:type :ok, :f :read, :value 1, :process 2}
{:type :info, :f :write, :value 1, :process 0}`,
		want: checker.Valid,
	}, {
		name: "a lost write: a read after the write returned, of the value before it",
		edn: `{:type :invoke, :f :write, :value 1, :process 0}
{:type :ok, :f :write, :value 1, :process 0}
{:type :invoke, :f :write, :value 2, :process 0}
{:type :ok, :f :write, :value 2, :process 0}
{:type :invoke, :f :write, :value 3, :process 1}
{:type :info, :f :write, :value 3, :process 1}
{:type :invoke, :f :read, :value nil, :process 2}
{:type :ok, :f :read, :value 1, :process 2}`,
		want: checker.Invalid,
	}, {
		// Knossos' core test "history-a": a crashed read, then reads
		// that follow the writes.
		name: "Knossos history-a",
		edn: `{:process 4, :type :invoke, :f :write, :value 2}
{:process 4, :type :ok, :f :write, :value 2}
{:process 6, :type :invoke, :f :read, :value nil}
{:process 1, :type :invoke, :f :write, :value 4}
{:process 1, :type :ok, :f :write, :value 4}
{:process 14, :type :invoke, :f :read, :value 4}
{:process 14, :type :ok, :f :read, :value 4}
{:process 9, :type :invoke, :f :write, :value 0}
{:process 9, :type :ok, :f :write, :value 0}
{:process 19, :type :invoke, :f :read, :value 0}
{:process 19, :type :ok, :f :read, :value 0}`,
		initial: zero(), want: checker.Valid,
	}, {
		// After Knossos' "bad analysis" history: a crashed read, a write
		// of 1 that never completes, and two concurrent reads that see
		// the register before and after it.
		name: "concurrent reads around a pending write",
		edn: `{:process 4, :type :invoke, :f :write, :value 2}
{:process 4, :type :ok, :f :write, :value 2}
{:process 6, :type :invoke, :f :read, :value nil}
{:process 9, :type :invoke, :f :write, :value 0}
{:process 9, :type :ok, :f :write, :value 0}
{:process 20, :type :invoke, :f :write, :value 1}
{:process 22, :type :invoke, :f :read, :value nil}
{:process 21, :type :invoke, :f :read, :value nil}
{:process 21, :type :ok, :f :read, :value 0}
{:process 22, :type :ok, :f :read, :value 1}`,
		initial: zero(), want: checker.Valid,
	}, {
		// The same reads in sequence: once a read saw the pending write,
		// a later read cannot see the register before it.
		name: "sequential reads around a pending write",
		edn: `{:process 4, :type :invoke, :f :write, :value 2}
{:process 4, :type :ok, :f :write, :value 2}
{:process 9, :type :invoke, :f :write, :value 0}
{:process 9, :type :ok, :f :write, :value 0}
{:process 20, :type :invoke, :f :write, :value 1}
{:process 22, :type :invoke, :f :read, :value nil}
{:process 22, :type :ok, :f :read, :value 1}
{:process 21, :type :invoke, :f :read, :value nil}
{:process 21, :type :ok, :f :read, :value 0}`,
		initial: zero(), want: checker.Invalid, message: "leaves the register at 1, and none of these fits next: process 21: read 0 (records 8-9)",
	}, {
		// Knossos' "bad analysis": two concurrent reads of values no
		// operation wrote.
		name: "Knossos bad analysis",
		edn: `{:process 4, :type :invoke, :f :write, :value 2}
{:process 4, :type :ok, :f :write, :value 2}
{:process 9, :type :invoke, :f :write, :value 0}
{:process 9, :type :ok, :f :write, :value 0}
{:process 20, :type :invoke, :f :write, :value 1}
{:process 22, :type :invoke, :f :read, :value 3}
{:process 21, :type :invoke, :f :read, :value 2}
{:process 21, :type :ok, :f :read, :value 2}
{:process 22, :type :ok, :f :read, :value 3}`,
		initial: zero(), want: checker.Invalid, message: "no operation wrote 3",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ops := jepsen(t, tc.edn)
			r := ValueRegister{CAS: true, Initial: tc.initial, Draw: true}.Check(context.Background(), ops)
			assert.Equal(t, tc.want, r.Verdict, r.Message)
			assert.Contains(t, r.Message, tc.message)
			want, err := oracle.JepsenRegister(ops, true, initialOf(tc.initial))
			require.NoError(t, err)
			assert.Equal(t, want, r.Verdict == checker.Valid, "the brute force disagrees")
			if tc.want == checker.Invalid {
				d := r.Details.(ValueRegisterDetails)
				require.Len(t, d.Keys, 1)
				assert.NotEmpty(t, d.Keys[0].Explanation)
				assert.NotEmpty(t, d.Keys[0].NeverLinearized, "the operation that could not be placed is named")
				assert.NotEmpty(t, r.Visualizations, "a key that is not linearizable is drawn")
			}
		})
	}
}

// judgeErr is the error the cas-register model finds in ops.
func judgeErr(ops []history.Op) error {
	_, err := ValueRegister{CAS: true}.Judge(context.Background(), ops)
	return err
}

func initialOf(p *int64) int64 {
	if p == nil {
		return oracle.Nil
	}
	return *p
}

func TestValueRegisterModelErrors(t *testing.T) {
	cas := jepsen(t, `{:type :invoke, :f :write, :value 1, :process 0}
{:type :ok, :f :write, :value 1, :process 0}
{:type :invoke, :f :cas, :value [1 2], :process 1}
{:type :ok, :f :cas, :value [1 2], :process 1}`)
	_, err := ValueRegister{}.Judge(context.Background(), cas)
	var me *ModelError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, int64(2), me.Index)
	assert.Contains(t, err.Error(), "use the cas-register model")
	r := ValueRegister{}.Check(context.Background(), cas)
	assert.Equal(t, checker.Unknown, r.Verdict)
	assert.Contains(t, r.Message, "record 3:")
	_, err = ValueRegister{CAS: true}.Judge(context.Background(), cas)
	assert.NoError(t, err)

	add := jepsen(t, "{:type :invoke, :f :add, :value 1, :process 0}\n{:type :ok, :f :add, :value 1, :process 0}")
	assert.ErrorContains(t, judgeErr(add), ":add is not an operation of the cas-register model")
	set := jepsen(t, "{:type :invoke, :f :read, :process 0}\n{:type :ok, :f :read, :value #{1 2}, :process 0}")
	assert.ErrorContains(t, judgeErr(set), "an ok read that returned [1 2]")
	short := jepsen(t, "{:type :invoke, :f :cas, :value [1], :process 0}")
	assert.ErrorContains(t, judgeErr(short), "a cas of [1], not of [old new]")
}

// TestValueRegisterAgreesWithBruteForce compares the verdict with the
// oracle's exhaustive search on thousands of small random histories, one
// and two keys, about a third of them corrupted.
func TestValueRegisterAgreesWithBruteForce(t *testing.T) {
	const n = 3000
	rng := rand.New(rand.NewPCG(14, 1))
	var valid, invalid int
	for i := range n {
		keys := 1 + i%2
		ops := gen.Jepsen(gen.JepsenConfig{
			Seed: uint64(i), Calls: 3 + rng.IntN(7*keys), Keys: keys, Processes: 2 + rng.IntN(3), Values: 3,
			Reads: 0.34, CAS: 0.33, Info: 0.12, Fail: 0.1, Nil: 0.15, CorruptRead: rng.IntN(3) == 0,
		})
		var initial *int64
		if i%3 == 0 {
			initial = zero()
		}
		want, err := oracle.JepsenRegister(ops, true, initialOf(initial))
		require.NoError(t, err)
		r := ValueRegister{CAS: true, Initial: initial}.Check(context.Background(), ops)
		if !assert.NotEqual(t, checker.Unknown, r.Verdict, r.Message) || !assert.Equal(t, want, r.Verdict == checker.Valid, "history %d: %s\n%s", i, r.Message, ednText(t, ops)) {
			return
		}
		if want {
			valid++
		} else {
			invalid++
		}
	}
	t.Logf("%d valid, %d invalid", valid, invalid)
	assert.Greater(t, valid, n/5)
	assert.Greater(t, invalid, n/10)
}

func ednText(t *testing.T, ops []history.Op) string {
	var b strings.Builder
	require.NoError(t, history.WriteEDN(&b, ops))
	return b.String()
}

// TestExactSearchAgreesWithBruteForce holds the search alone (no check on
// the face of the history first, no pruning of unobserved writes) to the
// oracle, on single-register histories.
func TestExactSearchAgreesWithBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 1))
	const n = 3000
	var invalid int
	for i := range n {
		ops := gen.Jepsen(gen.JepsenConfig{
			Seed: uint64(i), Calls: 3 + rng.IntN(8), Processes: 2 + rng.IntN(3), Values: 3,
			Reads: 0.34, CAS: 0.33, Info: 0.15, Fail: 0.1, Nil: 0.15, CorruptRead: rng.IntN(2) == 0,
		})
		want, err := oracle.JepsenRegister(ops, true, oracle.Nil)
		require.NoError(t, err)
		v := ValueRegister{CAS: true}
		keys, _, err := v.split(ops, len(ops))
		require.NoError(t, err)
		got := true
		for _, k := range keys {
			m := valueSearchModel
			m.Init = oracle.Nil
			out := linsearch.Check(context.Background(), m, k.ops, linsearch.Options{})
			require.NotEqual(t, linsearch.Unknown, out.Verdict)
			got = got && out.Verdict == linsearch.Linearizable
		}
		if !assert.Equal(t, want, got, "history %d:\n%s", i, ednText(t, ops)) {
			return
		}
		if !want {
			invalid++
		}
	}
	assert.Greater(t, invalid, n/10)
}

// TestWindowsRefuteOnlyWhatIsNotLinearizable holds the local refutation to
// the oracle: on small random histories, every window it finds that no state
// explains must belong to a history the brute force finds not linearizable,
// and it must find some.
func TestWindowsRefuteOnlyWhatIsNotLinearizable(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 1))
	refuted := 0
	for i := range 2000 {
		ops := gen.Jepsen(gen.JepsenConfig{
			Seed: uint64(i), Calls: 4 + rng.IntN(8), Processes: 2 + rng.IntN(3), Values: 3,
			Reads: 0.34, CAS: 0.33, Info: 0.15, Fail: 0.1, Nil: 0.15, CorruptRead: rng.IntN(2) == 0,
		})
		keys, _, err := ValueRegister{CAS: true}.split(ops, len(ops))
		require.NoError(t, err)
		if len(keys) == 0 {
			continue
		}
		w, _, ok := refuteLocally(context.Background(), keys[0], 0, time.Now().Add(time.Minute))
		if !ok {
			continue
		}
		refuted++
		want, err := oracle.JepsenRegister(ops, true, oracle.Nil)
		require.NoError(t, err)
		require.False(t, want, "history %d: window %v refuted a linearizable history:\n%s", i, w, ednText(t, ops))
	}
	t.Logf("%d histories refuted by a window", refuted)
	assert.Greater(t, refuted, 100)
}

// Two concurrent cas from a value one write wrote, both acknowledged, in a
// history with a quarter of its calls crashed: a window around them proves
// it, whatever the search of the whole would take.
func TestDoubleCASIsFoundInAWindow(t *testing.T) {
	ops := gen.Jepsen(gen.JepsenConfig{Seed: 2, Calls: 300, Processes: 10, Info: 0.25, Fail: 0.05, Anomaly: gen.DoubleCAS})
	r := ValueRegister{CAS: true}.Check(context.Background(), ops)
	require.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Contains(t, r.Message, "cas 5→")

	keys, _, err := ValueRegister{CAS: true}.split(ops, len(ops))
	require.NoError(t, err)
	k := keys[0]
	var plant int64
	for _, op := range k.ops {
		if op.Input.f == 'c' && op.Input.old == 5 && !op.Indeterminate {
			plant = op.Call
		}
	}
	w, _, ok := refuteLocally(context.Background(), k, plant, time.Now().Add(time.Minute))
	require.True(t, ok, "a window around the two cas explains nothing")
	var cas int
	for _, i := range w {
		if in := k.ops[i].Input; in.f == 'c' && in.old == 5 {
			cas++
		}
	}
	assert.Equal(t, 2, cas, "the window holds both cas")
}
