package checkertest

import (
	"sort"
	"testing"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/oracle"
)

// Tally counts the oracle's verdicts per kind of history, for the log and
// for the shares a test requires.
type Tally map[string]map[string]int

// agree fails the test unless the production verdict is the oracle's, and
// counts the verdict under kind.
func (tl Tally) agree(t testing.TB, kind string, ops []history.Op, got checker.Result, want oracle.Answer) {
	t.Helper()
	if string(got.Verdict) != want.String() {
		t.Fatalf("%s: production says %s (%s); the oracle says %s (%s)\n%s",
			kind, got.Verdict, got.Message, want, want.Why, OpLines(ops))
	}
	if tl[kind] == nil {
		tl[kind] = map[string]int{}
	}
	tl[kind][want.String()]++
}

// share is the fraction of kind's histories with verdict v.
func (tl Tally) share(kind, v string) float64 {
	n := 0
	for _, c := range tl[kind] {
		n += c
	}
	return float64(tl[kind][v]) / float64(max(n, 1))
}

// log writes the counts, one line per kind.
func (tl Tally) log(t *testing.T) {
	t.Helper()
	kinds := make([]string, 0, len(tl))
	for k := range tl {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		c := tl[k]
		t.Logf("%-28s %4d compared: %4d valid, %4d invalid, %4d unknown", k,
			c["valid"]+c["invalid"]+c["unknown"], c["valid"], c["invalid"], c["unknown"])
	}
}

// RequireShares asserts that unmutated histories ("random") are never
// invalid and mostly valid, and that every planted kind is found invalid
// at least minInvalid of the time.
func (tl Tally) RequireShares(t *testing.T, minValid float64, minInvalid map[string]float64) {
	t.Helper()
	if tl["random"]["invalid"] > 0 || tl.share("random", "valid") < minValid {
		t.Errorf("unmutated histories: %v, want no invalid and at least %.0f%% valid", tl["random"], 100*minValid)
	}
	for kind, want := range minInvalid {
		if got := tl.share(kind, "invalid"); got < want {
			t.Errorf("%s: %.0f%% found invalid, want at least %.0f%%: the mutation plants too little", kind, 100*got, 100*want)
		}
	}
}

// rounds sizes the differential tests: thousands of small
// histories, few enough for the race build under -short, four times as
// many without it.
func rounds(short int) int {
	if testing.Short() {
		return short
	}
	return 4 * short
}

// Differential compares production and oracle on 2,000 unmutated
// histories ("random") and perKind histories of every anomaly, logs the
// counts and returns them. judge generates the history of a seed and an
// anomaly ("" for none) and returns both verdicts.
func Differential[A ~string](t *testing.T, anomalies []A, perKind int, judge func(seed uint64, a A) ([]history.Op, checker.Result, oracle.Answer)) Tally {
	t.Helper()
	tl := Tally{}
	for _, a := range append([]A{""}, anomalies...) {
		kind, n := string(a), rounds(perKind)
		if a == "" {
			kind, n = "random", rounds(2000)
		}
		for seed := range uint64(n) {
			ops, got, want := judge(seed, a)
			tl.agree(t, kind, ops, got, want)
		}
	}
	tl.log(t)
	return tl
}

// FuzzAgree is the property of the fuzz targets: production and oracle
// agree, and an unmutated history is never invalid.
func FuzzAgree(t *testing.T, label string, mutated bool, ops []history.Op, got checker.Result, want oracle.Answer) {
	t.Helper()
	Tally{}.agree(t, label, ops, got, want)
	if !mutated && want.Judged && !want.Valid {
		t.Fatalf("%s: an unmutated history is invalid: %s", label, want.Why)
	}
}
