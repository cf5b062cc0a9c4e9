package compare

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// counts builds verdict counts of runs runs, invalid of them invalid and
// unknown of them unknown.
func counts(runs, invalid, unknown int) VerdictCounts {
	v := VerdictCounts{Runs: runs, Invalid: invalid, Unknown: unknown, Valid: runs - invalid - unknown}
	if runs > 0 {
		v.AnomalyRate = float64(invalid) / float64(runs)
	}
	return v
}

// linRows is the checker tree of a register run: the run, register,
// register/linearizable, with lin's counts propagated to its parents.
func linRows(a, b VerdictCounts) []CheckerRow {
	return []CheckerRow{
		{Path: RootPath, A: a, B: b},
		{Path: "register", A: a, B: b},
		{Path: "register/linearizable", A: a, B: b},
	}
}

func TestDecideCorrectness(t *testing.T) {
	tests := []struct {
		name  string
		a, b  VerdictCounts
		worse []string // subjects of findings where B is worse
		bette []string // subjects of findings where B is better
	}{
		{name: "B worse: invalid where A had none", a: counts(5, 0, 0), b: counts(5, 2, 0), worse: []string{"register/linearizable"}},
		{name: "B worse: more invalid runs", a: counts(5, 1, 0), b: counts(5, 2, 0), worse: []string{"register/linearizable"}},
		{name: "B same, both valid", a: counts(5, 0, 0), b: counts(5, 0, 0)},
		{name: "B same, both invalid as often", a: counts(5, 2, 0), b: counts(5, 2, 0)},
		{name: "B better", a: counts(5, 3, 0), b: counts(5, 1, 0), bette: []string{"register/linearizable"}},
		{name: "B better: no invalid at all", a: counts(5, 1, 0), b: counts(5, 0, 0), bette: []string{"register/linearizable"}},
		{name: "unknown verdicts do not count as invalid", a: counts(5, 0, 0), b: counts(5, 0, 5)},
		{name: "unknown in A does not make B's invalid better", a: counts(5, 0, 4), b: counts(5, 1, 0), worse: []string{"register/linearizable"}},
		{name: "same share with unequal run counts", a: counts(10, 2, 0), b: counts(5, 1, 0)},
		{name: "larger share with unequal run counts", a: counts(10, 2, 0), b: counts(5, 2, 0), worse: []string{"register/linearizable"}},
		{name: "invalid in B on a scenario A never ran", a: counts(0, 0, 0), b: counts(1, 1, 0), worse: []string{"register/linearizable"}},
		{name: "no B runs is not better", a: counts(3, 1, 0), b: counts(0, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := Decide([]Comparison{{Scenario: "smoke", Checkers: linRows(tt.a, tt.b)}}, Thresholds{})
			var worse, better []string
			for _, f := range fs {
				assert.Equal(t, Correctness, f.Aspect)
				assert.Equal(t, "smoke", f.Scenario)
				if f.Worse {
					worse = append(worse, f.Subject)
				} else {
					better = append(better, f.Subject)
				}
			}
			assert.Equal(t, tt.worse, worse, "the composite checkers above the leaf are not named again")
			assert.Equal(t, tt.bette, better)
		})
	}
}

func TestDecideCorrectnessText(t *testing.T) {
	fs := Decide([]Comparison{{Scenario: "smoke", Checkers: linRows(counts(5, 0, 0), counts(5, 2, 0))}}, Thresholds{})
	if assert.Len(t, fs, 1) {
		assert.Equal(t, "B is worse on correctness in smoke: register/linearizable invalid in 2/5 runs vs 0/5.", fs[0].Text)
	}
}

func TestDecideNamesTheRunVerdictWhenNoSingleCheckerIsWorse(t *testing.T) {
	// Invalid runs spread over two checkers: each checker is invalid as
	// often in B as in A, but more of B's runs are invalid.
	rows := []CheckerRow{
		{Path: RootPath, A: counts(4, 1, 0), B: counts(4, 2, 0)},
		{Path: "register/linearizable", A: counts(4, 1, 0), B: counts(4, 1, 0)},
		{Path: "register/sequential", A: counts(4, 1, 0), B: counts(4, 1, 0)},
	}
	fs := Decide([]Comparison{{Scenario: "smoke", Checkers: rows}}, Thresholds{})
	if assert.Len(t, fs, 1) {
		assert.True(t, fs[0].Worse)
		assert.Equal(t, RootPath, fs[0].Subject)
		assert.Contains(t, fs[0].Text, "the run verdict invalid in 2/4 runs vs 1/4")
	}
}

func TestDecideAvailability(t *testing.T) {
	stats := func(perRun time.Duration) Stats { return Stats{Runs: 3, UnavailablePerRun: perRun} }
	tests := []struct {
		name  string
		limit *float64
		a, b  time.Duration
		worse bool
	}{
		{name: "no limit: not judged", limit: nil, a: time.Second, b: 10 * time.Second},
		{name: "B same", limit: new(10.0), a: time.Second, b: time.Second},
		{name: "B better", limit: new(10.0), a: 2 * time.Second, b: time.Second},
		{name: "just below the limit", limit: new(10.0), a: time.Second, b: 1090 * time.Millisecond},
		{name: "exactly at the limit", limit: new(10.0), a: time.Second, b: 1100 * time.Millisecond},
		{name: "just above the limit", limit: new(10.0), a: time.Second, b: 1110 * time.Millisecond, worse: true},
		{name: "zero limit: any increase", limit: new(0.0), a: time.Second, b: time.Second + time.Millisecond, worse: true},
		{name: "A had no outage", limit: new(50.0), a: 0, b: 1500 * time.Millisecond, worse: true},
		{name: "neither had an outage", limit: new(50.0), a: 0, b: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Comparison{Scenario: "smoke", A: stats(tt.a), B: stats(tt.b)}
			fs := Decide([]Comparison{c}, Thresholds{Availability: tt.limit})
			if !tt.worse {
				assert.Empty(t, fs)
				return
			}
			if assert.Len(t, fs, 1) {
				assert.True(t, fs[0].Worse)
				assert.Equal(t, Availability, fs[0].Aspect)
				assert.Contains(t, fs[0].Text, "B is worse on availability in smoke")
			}
		})
	}
}

func TestDecideRecovery(t *testing.T) {
	fault := func(windows, notRecovered int, median time.Duration) FaultStats {
		return FaultStats{Windows: windows, NotRecovered: notRecovered, RecoveredMedian: median}
	}
	tests := []struct {
		name  string
		a, b  FaultStats
		worse string // expected text fragment, "" for no finding
	}{
		{name: "B same", a: fault(4, 0, time.Second), b: fault(4, 0, time.Second)},
		{name: "B better", a: fault(4, 0, 2*time.Second), b: fault(4, 0, time.Second)},
		{name: "just below the limit", a: fault(4, 0, time.Second), b: fault(4, 0, 1190*time.Millisecond)},
		{name: "just above the limit", a: fault(4, 0, time.Second), b: fault(4, 0, 1210*time.Millisecond),
			worse: "clients were served again 1.21s after the heal (median) vs 1s (+21.0%, limit 20%)"},
		{name: "more faults never recovered", a: fault(4, 0, time.Second), b: fault(4, 1, time.Second),
			worse: "no operation succeeded after the heal of 1/4 faults vs 0/4"},
		{name: "as many never recovered", a: fault(4, 1, time.Second), b: fault(4, 1, time.Second)},
		{name: "kind not run in A", a: fault(0, 0, 0), b: fault(4, 0, time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Comparison{Scenario: "smoke", A: Stats{Runs: 1}, B: Stats{Runs: 1},
				Faults: []FaultRow{{Kind: "kill", A: tt.a, B: tt.b}}}
			fs := Decide([]Comparison{c}, Thresholds{Availability: new(20.0)})
			if tt.worse == "" {
				assert.Empty(t, fs)
				return
			}
			if assert.Len(t, fs, 1) {
				assert.Equal(t, Recovery, fs[0].Aspect)
				assert.Equal(t, "kill", fs[0].Subject)
				assert.Contains(t, fs[0].Text, tt.worse)
			}
		})
	}
}

func TestDecideLatency(t *testing.T) {
	p99 := func(runs int, d time.Duration) LatencyStats {
		return LatencyStats{Runs: runs, Count: 100 * runs, P99: d}
	}
	tests := []struct {
		name  string
		limit *float64
		a, b  LatencyStats
		worse bool
	}{
		{name: "no limit: not judged", a: p99(3, time.Millisecond), b: p99(3, time.Second)},
		{name: "B same", limit: new(50.0), a: p99(3, 20*time.Millisecond), b: p99(3, 20*time.Millisecond)},
		{name: "B better", limit: new(50.0), a: p99(3, 20*time.Millisecond), b: p99(3, 10*time.Millisecond)},
		{name: "just below the limit", limit: new(50.0), a: p99(3, 20*time.Millisecond), b: p99(3, 29900*time.Microsecond)},
		{name: "exactly at the limit", limit: new(50.0), a: p99(3, 20*time.Millisecond), b: p99(3, 30*time.Millisecond)},
		{name: "just above the limit", limit: new(50.0), a: p99(3, 20*time.Millisecond), b: p99(3, 30100*time.Microsecond), worse: true},
		{name: "operation without ok completions in A", limit: new(50.0), a: p99(0, 0), b: p99(3, time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Comparison{Scenario: "smoke", Latency: []LatencyRow{{Op: "read", A: tt.a, B: tt.b}}}
			fs := Decide([]Comparison{c}, Thresholds{Latency: tt.limit})
			if !tt.worse {
				assert.Empty(t, fs)
				return
			}
			if assert.Len(t, fs, 1) {
				assert.Equal(t, Latency, fs[0].Aspect)
				assert.Equal(t, "B is worse on latency in smoke: read p99 30.1ms vs 20ms (+50.5%, limit 50%).", fs[0].Text)
			}
		})
	}
}

func TestUnknownNotesNameTheMostSpecificChecker(t *testing.T) {
	notes := unknownNotes([]Comparison{{Scenario: "smoke", Checkers: linRows(counts(5, 0, 0), counts(5, 0, 2))}})
	assert.Equal(t, []string{"B had more unknown verdicts in smoke: register/linearizable unknown in 2/5 runs vs 0/5 (unknown is not invalid and decides nothing)."}, notes)
}
