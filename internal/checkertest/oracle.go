package checkertest

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/history/gen"
)

// oracleVerdict turns an oracle's answer into a verdict.
func oracleVerdict(valid, known bool) checker.Verdict {
	switch {
	case !known:
		return checker.Unknown
	case valid:
		return checker.Valid
	}
	return checker.Invalid
}

// Agree fails the test, with the history to reproduce it, when the
// production verdict differs from the oracle's; it returns the verdict.
func Agree(t testing.TB, what string, ops []history.Op, r checker.Result, oracleValid, oracleKnown bool) checker.Verdict {
	t.Helper()
	want := oracleVerdict(oracleValid, oracleKnown)
	if r.Verdict != want {
		t.Fatalf("%s: production says %s (%s), the oracle %s; history:\n%s", what, r.Verdict, r.Message, want, OpLines(ops))
	}
	return want
}

// verdicts counts verdicts, for the logs.
type verdicts map[checker.Verdict]int

func (v verdicts) String() string {
	return fmt.Sprintf("%d valid, %d invalid, %d unknown", v[checker.Valid], v[checker.Invalid], v[checker.Unknown])
}

// JudgeSeeds judges the generated histories of n seeds, planted with a
// (gen.None for random ones), through judge, which asserts that the checker
// and its oracle agree. It logs the verdicts and holds them to what the
// generator promises: random histories are valid, or unknown for want of
// evidence, never invalid; a good share of planted anomalies are proven.
func JudgeSeeds(t *testing.T, family string, a gen.Anomaly, n int, judge func(seed uint64, a gen.Anomaly) checker.Verdict) {
	t.Helper()
	got := verdicts{}
	for seed := range uint64(n) {
		got[judge(seed, a)]++
	}
	if a == gen.None {
		t.Logf("%d random %s histories: %s", n, family, got)
		assert.Zero(t, got[checker.Invalid], "histories without an anomaly are valid")
		assert.Greater(t, got[checker.Valid], n*9/10, "most random histories hold evidence")
		return
	}
	t.Logf("%d %s histories with %s: %s", n, family, a, got)
	assert.Greater(t, got[checker.Invalid], n/4, "%s is a proven violation in a good share", a)
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

// FuzzShape reads the first bytes of fuzz input as an anomaly (or none), a
// number of workers and of calls; the rest is the generator's choices.
func FuzzShape(data []byte, anomalies []gen.Anomaly) (a gen.Anomaly, workers, calls int, src rand.Source) {
	var head [3]byte
	n := copy(head[:], data)
	if k := int(head[0]) % (len(anomalies) + 1); k > 0 {
		a = anomalies[k-1]
	}
	return a, 1 + int(head[1]%4), 1 + int(head[2]%16), &fuzzSource{data: data[n:], rest: rand.NewPCG(uint64(len(data)), 7)}
}
