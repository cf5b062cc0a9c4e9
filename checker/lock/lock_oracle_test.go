package lock

import (
	"context"
	"fmt"
	"testing"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/history/gen"
	"github.com/zkchaos/zkchaos/internal/checkertest"
	"github.com/zkchaos/zkchaos/internal/oracle"
)

// agrees judges ops with the lock checker and its oracle, which must
// agree.
func agrees(t testing.TB, what string, ops []history.Op) checker.Verdict {
	t.Helper()
	valid, known := oracle.Lock(ops)
	return checkertest.Agree(t, what, ops, Checker{}.Check(context.Background(), ops), valid, known)
}

func judgeSeed(t *testing.T) func(uint64, gen.Anomaly) checker.Verdict {
	return func(seed uint64, a gen.Anomaly) checker.Verdict {
		return agrees(t, fmt.Sprint(a, " seed ", seed), gen.Lock(gen.LockConfig{Seed: seed, Anomaly: a}))
	}
}

// Random lock histories of clients against a simulated ensemble, with
// expiries, indeterminate and failed calls and crashes, are valid, and the
// checker and its oracle say so alike.
func TestLockAgreesWithOracleOnRandomHistories(t *testing.T) {
	checkertest.JudgeSeeds(t, "lock", gen.None, 2000, judgeSeed(t))
}

// Planted double holders and vanished nodes are found alike by the checker
// and its oracle, and most of them are violations.
func TestLockAgreesWithOracleOnPlantedAnomalies(t *testing.T) {
	for _, a := range gen.LockAnomalies {
		checkertest.JudgeSeeds(t, "lock", a, 500, judgeSeed(t))
	}
}

// FuzzLockOracle asserts that the lock checker and its oracle agree on
// histories the generator makes from the fuzzer's choices.
func FuzzLockOracle(f *testing.F) {
	f.Add([]byte{0, 2, 7})
	f.Add([]byte{1, 1, 12, 0x80, 0x10, 0xff, 0, 3})
	f.Add([]byte{2, 2, 15, 9, 9, 9, 9, 9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, workers, calls, src := checkertest.FuzzShape(data, gen.LockAnomalies)
		agrees(t, "fuzz", gen.Lock(gen.LockConfig{Source: src, Workers: workers, Acquires: calls, Anomaly: a}))
	})
}
