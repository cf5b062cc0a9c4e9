package linearizable

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/history/gen"
	"github.com/zkchaos/zkchaos/internal/checkertest"
)

// orderOf runs versionOrder on the only key of ops.
func orderOf(t *testing.T, ops []history.Op) orderResult {
	t.Helper()
	keys, _ := splitByKey(ops, true)
	require.Len(t, keys, 1)
	return versionOrder(keys[0])
}

func TestVersionOrderDecides(t *testing.T) {
	for _, tt := range []struct {
		name   string
		ops    []history.Op
		want   orderVerdict
		reason string
	}{
		{"writes and reads in order", checkertest.Hist(
			checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.ReadOK(2, checkertest.Key, 5, 15, 1, 1),
			checkertest.CASOK(3, checkertest.Key, 2, 1, 12, 20), checkertest.ReadOK(4, checkertest.Key, 21, 22, 2, 2)), orderValid, ""},
		{"concurrent writes in version order, not call order", checkertest.Hist(
			checkertest.WriteOK(1, checkertest.Key, 1, 0, 30, 2), checkertest.WriteOK(2, checkertest.Key, 2, 5, 20, 1), checkertest.ReadOK(3, checkertest.Key, 31, 32, 1, 2)), orderValid, ""},
		{"an indeterminate write a read saw", checkertest.Hist(
			checkertest.WriteInfo(1, checkertest.Key, 7, 0, 5), checkertest.ReadOK(2, checkertest.Key, 10, 20, 7, 1), checkertest.WriteOK(3, checkertest.Key, 8, 21, 22, 2)), orderValid, ""},
		{"an indeterminate write fills a version nobody reported", checkertest.Hist(
			checkertest.WriteInfo(1, checkertest.Key, 7, 0, 5), checkertest.WriteOK(3, checkertest.Key, 8, 10, 22, 2)), orderValid, ""},
		{"a failed cas while the version differed", checkertest.Hist(
			checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.CASConflict(2, checkertest.Key, 5, 0, 20, 30)), orderValid, ""},

		{"two acknowledged writes with one version", checkertest.Hist(
			checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.WriteOK(2, checkertest.Key, 2, 20, 30, 1)), orderInvalid,
			"two acknowledged writes both made version 1: process 1: write(1) -> ok v1 (0-10 ms) and process 2: write(2) -> ok v1 (20-30 ms)"},
		{"a stale read", checkertest.Hist(
			checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.WriteOK(1, checkertest.Key, 2, 20, 30, 2), checkertest.ReadOK(3, checkertest.Key, 40, 50, 1, 1)), orderInvalid,
			"a read returned version 1 after another operation had already returned with version 2; versions only grow: process 3: read -> 1@v1 (40-50 ms); earlier process 1: write(2) -> ok v2 (20-30 ms)"},
		{"a write made an older version than one already seen", checkertest.Hist(
			checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 2), checkertest.WriteOK(2, checkertest.Key, 2, 20, 30, 1)), orderInvalid,
			"a write made version 1 after another operation had already returned with version 2; versions only grow: process 2: write(2) -> ok v1 (20-30 ms); earlier process 1: write(1) -> ok v2 (0-10 ms)"},
		{"a value nobody wrote", checkertest.Hist(
			checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.ReadOK(2, checkertest.Key, 20, 30, 9, 1)), orderInvalid,
			"a read returned a value that no write wrote: process 2: read -> 9@v1 (20-30 ms)"},
		{"a value at the wrong version", checkertest.Hist(
			checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.WriteOK(1, checkertest.Key, 2, 11, 12, 2), checkertest.ReadOK(2, checkertest.Key, 20, 30, 1, 2)), orderInvalid,
			"a read returned a value at version 2, but the write of that value made version 1: read process 2: read -> 1@v2 (20-30 ms); write process 1: write(1) -> ok v1 (0-10 ms)"},
		{"one write seen at two versions", checkertest.Hist(
			checkertest.WriteInfo(1, checkertest.Key, 7, 0, 5), checkertest.ReadOK(2, checkertest.Key, 10, 20, 7, 1), checkertest.ReadOK(3, checkertest.Key, 30, 40, 7, 2)), orderInvalid,
			"reads saw one write's value at versions 1 and 2; a write takes effect once: process 1: write(7) -> info (may or may not have happened) (from 0 ms, never confirmed)"},
		{"a read before the write was called", checkertest.Hist(
			checkertest.ReadOK(2, checkertest.Key, 0, 5, 7, 1), checkertest.WriteOK(1, checkertest.Key, 7, 10, 20, 1)), orderInvalid,
			"a read returned a value before the write of that value was called: read process 2: read -> 7@v1 (0-5 ms); write process 1: write(7) -> ok v1 (10-20 ms)"},
		{"a nonzero value at version 0", checkertest.Hist(checkertest.ReadOK(2, checkertest.Key, 0, 5, 7, 0)), orderInvalid,
			"a read returned a value other than 0 at version 0, where the register starts at 0: process 2: read -> 7@v0 (0-5 ms)"},

		{"a failed cas that could only have succeeded", checkertest.Hist(
			checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.CASConflict(2, checkertest.Key, 5, 1, 20, 30)), orderUndecided, ""},
		{"a failed cas only a later point of the write explains", checkertest.Hist(
			// Valid (the cas at 5 ms, the write at 9 ms), but the order
			// places writes as early as they can go: Porcupine decides.
			checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.CASConflict(2, checkertest.Key, 5, 1, 5, 8), checkertest.WriteOK(3, checkertest.Key, 2, 20, 30, 2)), orderUndecided, ""},
		{"a version no write can fill", checkertest.Hist(checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 2)), orderUndecided, ""},
		{"a version beyond what the writes could make", checkertest.Hist(
			// Sizing the witness by this version would take 16 GB.
			checkertest.WriteInfo(1, checkertest.Key, 7, 0, 5), checkertest.ReadOK(2, checkertest.Key, 10, 20, 7, 2_000_000_000)), orderUndecided, ""},
		{"a value written twice", checkertest.Hist(
			checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.WriteInfo(2, checkertest.Key, 1, 20, 30)), orderUndecided, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := orderOf(t, tt.ops)
			assert.Equal(t, tt.want, got.verdict, got.reason)
			assert.Equal(t, tt.reason, got.reason)
		})
	}
}

// TestVersionOrderAgreesWithPorcupine holds the version order to Porcupine
// on many small histories, valid and with anomalies, with many indeterminate
// operations: whatever it decides, Porcupine must decide the same.
func TestVersionOrderAgreesWithPorcupine(t *testing.T) {
	decided := map[orderVerdict]int{}
	for seed := range uint64(300) {
		cfg := gen.Config{Seed: seed, Calls: 60, Keys: 1, Processes: 6, Info: 0.1, Fail: 0.05, FaultEvery: -1}
		if seed%2 == 1 {
			cfg.Anomaly = gen.Anomalies[int(seed/2)%len(gen.Anomalies)]
			cfg.Calls = 40
		}
		ops := gen.Register(cfg)
		ops = perturb(ops, rand.New(rand.NewPCG(seed, 1)))
		keys, _ := splitByKey(ops, true)
		for _, kh := range keys {
			got, agree := orderAgainstPorcupine(kh)
			decided[got.verdict]++
			assert.True(t, agree, "seed %d: the version order says %v (%s), Porcupine alone the opposite", seed, got.verdict == orderValid, got.reason)
		}
	}
	t.Logf("decided: %d valid, %d invalid, %d undecided", decided[orderValid], decided[orderInvalid], decided[orderUndecided])
	assert.Greater(t, decided[orderValid], 100)
	assert.Greater(t, decided[orderInvalid], 20)
}

// perturb sometimes corrupts one completion's version or value, so that the
// comparison also covers contradictions the generator never plants.
func perturb(ops []history.Op, rng *rand.Rand) []history.Op {
	if rng.IntN(3) != 0 {
		return ops
	}
	out := make([]history.Op, len(ops))
	copy(out, ops)
	for range 50 {
		i := rng.IntN(len(out))
		op := out[i]
		if op.Type != history.OK || op.Version == nil {
			continue
		}
		if rng.IntN(2) == 0 {
			op.Version = history.Int32(*op.Version + int32(rng.IntN(3)) - 1)
		} else if op.F == history.Read {
			op.Value = history.Int64(*op.Value + 1)
		}
		out[i] = op
		break
	}
	return out
}

// The checker package runs in the suite's short phase: this test takes
// about a second with the race detector, so it runs there too.
func TestVersionOrderDecidesABigKey(t *testing.T) {
	ops := gen.Register(gen.Config{Seed: 9, Calls: 50_000, Keys: 1, Processes: 50})
	keys, _ := splitByKey(ops, true)
	start := time.Now()
	got := versionOrder(keys[0])
	assert.Equal(t, orderValid, got.verdict, got.reason)
	t.Logf("50,000 calls on one key decided in %s", time.Since(start))
}

func TestBigKeyContradictionStandsWithoutASearch(t *testing.T) {
	ops := gen.Register(gen.Config{Seed: 5, Calls: 2 * confirmMaxOps, Keys: 1, Processes: 20, Anomaly: gen.LostWrite})
	r := Checker{ReadMode: ReadQuorum}.Check(context.Background(), ops)
	require.Equal(t, checker.Invalid, r.Verdict, r.Message)
	k := details(t, r).Keys[0]
	assert.Greater(t, k.Ops, confirmMaxOps)
	assert.Equal(t, MethodVersionOrder, k.Method)
	assert.Contains(t, k.Explanation, "two acknowledged writes both made version")
	assert.Empty(t, r.Visualizations, "no search, no picture of a key this big")
}

// A write acknowledged at a version no write can make must not vanish from
// the witness: a valid verdict places and replays every operation.
func TestVersionOrderPlacesEveryOperation(t *testing.T) {
	ops := checkertest.Hist(checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 0), checkertest.WriteOK(2, checkertest.Key, 2, 0, 10, 1), checkertest.ReadOK(3, checkertest.Key, 20, 30, 2, 1))
	assert.NotEqual(t, orderValid, orderOf(t, ops).verdict, "write(1) reported version 0")
	r := Checker{ReadMode: ReadQuorum}.Check(context.Background(), ops)
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	r = Checker{ReadMode: ReadQuorum, PorcupineOnly: true}.Check(context.Background(), ops)
	assert.Equal(t, checker.Invalid, r.Verdict, "Porcupine alone agrees: %s", r.Message)
}

// TestVersionOrderAgreesWithPorcupineOnTinyHistories draws thousands of
// tiny histories whose versions and values are arbitrary (a server may
// report anything), so that most are wrong in some way: whatever the version
// order decides, Porcupine alone must decide the same.
func TestVersionOrderAgreesWithPorcupineOnTinyHistories(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 2))
	decided := map[orderVerdict]int{}
	for i := range 5000 {
		var groups [][]history.Op
		for p := range 2 + rng.IntN(4) {
			call := rng.Int64N(30)
			ret := call + 1 + rng.Int64N(15)
			v := rng.Int64N(3)
			version := int32(rng.IntN(4)) - 1
			switch rng.IntN(6) {
			case 0, 1:
				groups = append(groups, checkertest.ReadOK(p, checkertest.Key, call, ret, v, max(version, 0)))
			case 2:
				groups = append(groups, checkertest.WriteOK(p, checkertest.Key, v+10*int64(p), call, ret, version))
			case 3:
				groups = append(groups, checkertest.CASOK(p, checkertest.Key, v+10*int64(p), max(version, 0), call, ret))
			case 4:
				groups = append(groups, checkertest.CASConflict(p, checkertest.Key, v+10*int64(p), max(version, 0), call, ret))
			default:
				groups = append(groups, checkertest.WriteInfo(p, checkertest.Key, v+10*int64(p), call, ret))
			}
		}
		keys, _ := splitByKey(checkertest.Hist(groups...), true)
		for _, kh := range keys {
			got, agree := orderAgainstPorcupine(kh)
			decided[got.verdict]++
			if !assert.True(t, agree, "history %d: the version order says %v (%s), Porcupine alone the opposite", i, got.verdict == orderValid, got.reason) {
				return
			}
		}
	}
	t.Logf("decided: %d valid, %d invalid, %d undecided", decided[orderValid], decided[orderInvalid], decided[orderUndecided])
	assert.Greater(t, decided[orderValid], 200)
	assert.Greater(t, decided[orderInvalid], 1000)
}

// orderAgainstPorcupine decides a key by its version order and, when that
// decides, by Porcupine alone (bounded to a second); agree is false only
// when both decided and they differ.
func orderAgainstPorcupine(kh *keyHistory) (got orderResult, agree bool) {
	got = versionOrder(kh)
	if got.verdict == orderUndecided {
		return got, true
	}
	res := porcupine.CheckOperationsTimeout(registerModel(new(atomic.Bool)), kh.ops, time.Second)
	return got, res == porcupine.Unknown || (res == porcupine.Ok) == (got.verdict == orderValid)
}
