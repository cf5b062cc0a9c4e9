package checker

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/history/gen"
	"github.com/zkchaos/zkchaos/internal/oracle"
)

// oracleVerdict turns an oracle's answer into a verdict.
func oracleVerdict(valid, known bool) Verdict {
	switch {
	case !known:
		return Unknown
	case valid:
		return Valid
	}
	return Invalid
}

// agree fails the test, with the history to reproduce it, when the
// production verdict differs from the oracle's; it returns the verdict.
func agree(t testing.TB, what string, ops []history.Op, r Result, oracleValid, oracleKnown bool) Verdict {
	t.Helper()
	want := oracleVerdict(oracleValid, oracleKnown)
	if r.Verdict != want {
		t.Fatalf("%s: production says %s (%s), the oracle %s; history:\n%s", what, r.Verdict, r.Message, want, opLines(ops))
	}
	return want
}

// verdicts counts verdicts, for the logs.
type verdicts map[Verdict]int

func (v verdicts) String() string {
	return fmt.Sprintf("%d valid, %d invalid, %d unknown", v[Valid], v[Invalid], v[Unknown])
}

// lockAgrees judges ops with the lock checker and its oracle, which must
// agree.
func lockAgrees(t testing.TB, what string, ops []history.Op) Verdict {
	t.Helper()
	valid, known := oracle.Lock(ops)
	return agree(t, what, ops, Lock{}.Check(context.Background(), ops), valid, known)
}

// judgeSeeds judges the generated histories of n seeds, planted with a
// (gen.None for random ones), through judge, which asserts that the checker
// and its oracle agree. It logs the verdicts and holds them to what the
// generator promises: random histories are valid, or unknown for want of
// evidence, never invalid; a good share of planted anomalies are proven.
func judgeSeeds(t *testing.T, family string, a gen.Anomaly, n int, judge func(seed uint64, a gen.Anomaly) Verdict) {
	t.Helper()
	got := verdicts{}
	for seed := range uint64(n) {
		got[judge(seed, a)]++
	}
	if a == gen.None {
		t.Logf("%d random %s histories: %s", n, family, got)
		assert.Zero(t, got[Invalid], "histories without an anomaly are valid")
		assert.Greater(t, got[Valid], n*9/10, "most random histories hold evidence")
		return
	}
	t.Logf("%d %s histories with %s: %s", n, family, a, got)
	assert.Greater(t, got[Invalid], n/4, "%s is a proven violation in a good share", a)
}

func lockSeed(t *testing.T) func(uint64, gen.Anomaly) Verdict {
	return func(seed uint64, a gen.Anomaly) Verdict {
		return lockAgrees(t, fmt.Sprint(a, " seed ", seed), gen.Lock(gen.LockConfig{Seed: seed, Anomaly: a}))
	}
}

// Random lock histories of clients against a simulated ensemble, with
// expiries, indeterminate and failed calls and crashes, are valid, and the
// checker and its oracle say so alike.
func TestLockAgreesWithOracleOnRandomHistories(t *testing.T) {
	judgeSeeds(t, "lock", gen.None, 2000, lockSeed(t))
}

// Planted double holders and vanished nodes are found alike by the checker
// and its oracle, and most of them are violations.
func TestLockAgreesWithOracleOnPlantedAnomalies(t *testing.T) {
	for _, a := range gen.LockAnomalies {
		judgeSeeds(t, "lock", a, 500, lockSeed(t))
	}
}

// fuzzSource draws a generator's choices from fuzz bytes, then from a
// generator seeded with how many there were.
type fuzzSource struct {
	data []byte
	rest *rand.PCG
}

func (s *fuzzSource) Uint64() uint64 {
	if len(s.data) == 0 {
		return s.rest.Uint64()
	}
	var b [8]byte
	n := copy(b[:], s.data)
	s.data = s.data[n:]
	return binary.LittleEndian.Uint64(b[:])
}

// fuzzShape reads the first bytes of fuzz input as an anomaly (or none), a
// number of workers and of calls; the rest is the generator's choices.
func fuzzShape(data []byte, anomalies []gen.Anomaly) (a gen.Anomaly, workers, calls int, src rand.Source) {
	var head [3]byte
	n := copy(head[:], data)
	if k := int(head[0]) % (len(anomalies) + 1); k > 0 {
		a = anomalies[k-1]
	}
	return a, 1 + int(head[1]%4), 1 + int(head[2]%16), &fuzzSource{data: data[n:], rest: rand.NewPCG(uint64(len(data)), 7)}
}

// FuzzLockOracle asserts that the lock checker and its oracle agree on
// histories the generator makes from the fuzzer's choices.
func FuzzLockOracle(f *testing.F) {
	f.Add([]byte{0, 2, 7})
	f.Add([]byte{1, 1, 12, 0x80, 0x10, 0xff, 0, 3})
	f.Add([]byte{2, 2, 15, 9, 9, 9, 9, 9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, workers, calls, src := fuzzShape(data, gen.LockAnomalies)
		lockAgrees(t, "fuzz", gen.Lock(gen.LockConfig{Source: src, Workers: workers, Acquires: calls, Anomaly: a}))
	})
}
