package session

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/history/gen"
	"github.com/zkchaos/zkchaos/internal/checkertest"
	"github.com/zkchaos/zkchaos/internal/oracle"
)

// oracleTimeout and oracleMargin are the session timeout and margin of
// the generated histories, given to both the generator and the checkers.
const (
	oracleTimeout = 100 * time.Millisecond
	oracleMargin  = 50 * time.Millisecond
)

// agrees judges ops with the sessions checker, set up as the
// generator's config says, and with its oracle, which must agree.
func agrees(t testing.TB, what string, cfg gen.SessionsConfig, ops []history.Op) checker.Verdict {
	t.Helper()
	valid, known := oracle.Sessions(ops, cfg.Timeout, cfg.Margin)
	r := Checker{SessionTimeout: cfg.Timeout, Margin: cfg.Margin}.Check(context.Background(), ops)
	return checkertest.Agree(t, what, ops, r, valid, known)
}

func judgeSeed(t *testing.T) func(uint64, gen.Anomaly) checker.Verdict {
	return func(seed uint64, a gen.Anomaly) checker.Verdict {
		cfg := gen.SessionsConfig{Seed: seed, Timeout: oracleTimeout, Margin: oracleMargin, Anomaly: a}
		return agrees(t, fmt.Sprint(a, " seed ", seed), cfg, gen.Sessions(cfg))
	}
}

// Random session histories of clients against a simulated ensemble, with
// expiries, leaderless times, indeterminate and failed calls and crashes,
// are valid, and the checker and its oracle say so alike.
func TestSessionsAgreeWithOracleOnRandomHistories(t *testing.T) {
	checkertest.JudgeSeeds(t, "session", gen.None, 2000, judgeSeed(t))
}

// Planted vanished nodes, nodes outliving their sessions and wrong owners
// are found alike by the checker and its oracle, and most of them are
// violations.
func TestSessionsAgreeWithOracleOnPlantedAnomalies(t *testing.T) {
	for _, a := range gen.SessionAnomalies {
		checkertest.JudgeSeeds(t, "session", a, 334, judgeSeed(t))
	}
}

// FuzzSessionsOracle asserts that the sessions checker and its oracle agree
// on histories the generator makes from the fuzzer's choices.
func FuzzSessionsOracle(f *testing.F) {
	f.Add([]byte{0, 2, 7})
	f.Add([]byte{1, 1, 12, 0x80, 0x10, 0xff, 0, 3})
	f.Add([]byte{2, 2, 15, 9, 9, 9, 9, 9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{3, 3, 9, 0, 0, 0, 0, 0, 0, 0, 0x10})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, workers, calls, src := checkertest.FuzzShape(data, gen.SessionAnomalies)
		cfg := gen.SessionsConfig{Source: src, Workers: workers, Calls: calls, Timeout: oracleTimeout, Margin: oracleMargin, Anomaly: a}
		agrees(t, "fuzz", cfg, gen.Sessions(cfg))
	})
}
