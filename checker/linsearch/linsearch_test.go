package linsearch

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A register for the tests: read v, write v, cas old→v.
type regIn struct {
	f        byte
	v, old   int
	optional bool
}

func regStep(s int, in regIn) (int, bool) {
	switch in.f {
	case 'r':
		return s, s == in.v
	case 'w':
		return in.v, true
	}
	if s == in.old {
		return in.v, true
	}
	return s, in.optional
}

// plain uses none of the model's hints; hinted uses them all.
var (
	plain  = Model[int, regIn]{Step: regStep}
	hinted = Model[int, regIn]{
		Step: regStep,
		Pure: func(in regIn) bool { return in.f == 'r' },
		Needs: func(in regIn) (int, bool) {
			switch in.f {
			case 'r':
				return in.v, true
			case 'c':
				return in.old, true
			}
			return 0, false
		},
	}
)

// bruteForce tries every order of every subset of the optional operations.
func bruteForce(ops []Op[regIn], placed uint64, s int) bool {
	done := true
	for i, op := range ops {
		if placed&(1<<i) == 0 && !op.Indeterminate {
			done = false
		}
	}
	if done {
		return true
	}
	for i, op := range ops {
		if placed&(1<<i) != 0 {
			continue
		}
		ready := true
		for j, o := range ops {
			if j != i && placed&(1<<j) == 0 && !o.Indeterminate && o.Return < op.Call {
				ready = false
			}
		}
		if !ready {
			continue
		}
		if next, ok := regStep(s, op.Input); ok && bruteForce(ops, placed|1<<i, next) {
			return true
		}
	}
	return false
}

func randomOps(rng *rand.Rand, n int) []Op[regIn] {
	ops := make([]Op[regIn], n)
	for i := range ops {
		call := rng.Int64N(20)
		in := regIn{v: rng.IntN(3), old: rng.IntN(3)}
		switch rng.IntN(3) {
		case 0:
			in.f = 'r'
		case 1:
			in.f = 'w'
		default:
			in.f = 'c'
		}
		op := Op[regIn]{Call: call, Return: call + 1 + rng.Int64N(6), Input: in}
		if in.f != 'r' && rng.IntN(4) == 0 {
			op.Indeterminate, op.Input.optional = true, true
		}
		ops[i] = op
	}
	return ops
}

func TestSearchAgreesWithBruteForceWithAndWithoutHints(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var yes, no int
	for i := range 3000 {
		ops := randomOps(rng, 1+rng.IntN(8))
		want := bruteForce(ops, 0, 0)
		for name, m := range map[string]Model[int, regIn]{"plain": plain, "hinted": hinted} {
			out := Check(context.Background(), m, ops, Options{})
			require.NotEqual(t, Unknown, out.Verdict)
			require.Equal(t, want, out.Verdict == Linearizable, "history %d, %s model: %+v", i, name, ops)
			if out.Verdict == Linearizable {
				assertLinearization(t, ops, out)
			}
		}
		if want {
			yes++
		} else {
			no++
		}
	}
	assert.Greater(t, yes, 500)
	assert.Greater(t, no, 500)
}

// assertLinearization replays the order found: every definite operation
// once, each legal in turn, none before an operation that returned before
// it was called.
func assertLinearization(t *testing.T, ops []Op[regIn], out Outcome[int]) {
	t.Helper()
	seen := map[int]bool{}
	s := 0
	for n, i := range out.Order {
		require.False(t, seen[i], "placed twice")
		seen[i] = true
		for _, j := range out.Order[n+1:] {
			require.False(t, !ops[j].Indeterminate && ops[j].Return < ops[i].Call, "%d placed before %d, which returned before it was called", i, j)
		}
		var ok bool
		s, ok = regStep(s, ops[i].Input)
		require.True(t, ok, "operation %d is not legal where it was placed", i)
	}
	for i, op := range ops {
		require.True(t, op.Indeterminate || seen[i], "definite operation %d was not placed", i)
	}
	assert.Equal(t, s, out.State)
}

func TestEmptyHistoryIsLinearizable(t *testing.T) {
	out := Check(context.Background(), hinted, nil, Options{})
	assert.Equal(t, Linearizable, out.Verdict)
	out = Check(context.Background(), hinted, []Op[regIn]{{Call: 1, Input: regIn{f: 'w', v: 1, optional: true}, Indeterminate: true}}, Options{})
	assert.Equal(t, Linearizable, out.Verdict, "indeterminate operations alone may all not have happened")
}

// hard is many concurrent writers that may or may not have happened, and
// reads no order of them explains: the search has to try them all.
func hard() []Op[regIn] {
	var ops []Op[regIn]
	for i := range 40 {
		ops = append(ops, Op[regIn]{Call: int64(i), Input: regIn{f: 'c', old: i % 7, v: (i + 1) % 7, optional: true}, Indeterminate: true})
	}
	for i := range 30 {
		ops = append(ops, Op[regIn]{Call: int64(50 + 2*i), Return: int64(51 + 2*i), Input: regIn{f: 'r', v: (i * 3) % 7}})
	}
	return append(ops, Op[regIn]{Call: 200, Return: 201, Input: regIn{f: 'r', v: 9}})
}

func TestStoppedSearchIsUnknown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := Check(ctx, plain, hard(), Options{})
	assert.Equal(t, Unknown, out.Verdict)
	out = Check(context.Background(), plain, hard(), Options{Deadline: time.Now().Add(-time.Second)})
	assert.Equal(t, Unknown, out.Verdict)
}

func TestNotLinearizableGivesTheLongestPrefix(t *testing.T) {
	ops := []Op[regIn]{
		{Call: 0, Return: 1, Input: regIn{f: 'w', v: 1}},
		{Call: 2, Return: 3, Input: regIn{f: 'w', v: 2}},
		{Call: 4, Return: 5, Input: regIn{f: 'r', v: 1}},
	}
	out := Check(context.Background(), hinted, ops, Options{})
	assert.Equal(t, NotLinearizable, out.Verdict)
	assert.Equal(t, []int{0, 1}, out.Order)
	assert.Equal(t, 2, out.State)
}

func TestASmallCacheStaysExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		ops := randomOps(rng, 1+rng.IntN(8))
		want := bruteForce(ops, 0, 0)
		out := Check(context.Background(), hinted, ops, Options{CacheWords: 1})
		require.Equal(t, want, out.Verdict == Linearizable)
	}
}
