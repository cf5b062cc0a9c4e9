package checker

import (
	"context"
	"testing"
)

func FuzzSequential(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ops := fuzzRegisterHistory(data, true)
		r := Sequential{}.Check(context.Background(), ops)
		checkResult(t, "sequential", r)
		d := r.Details.(SequentialDetails)
		if r.Verdict == Valid && (d.ReadsChecked == 0 || d.Violations > 0 || d.Malformed > 0) {
			t.Fatalf("valid without evidence or despite violations: %s", r.Message)
		}
		if (r.Verdict == Invalid) != (d.Violations > 0) {
			t.Fatalf("verdict %s with %d violations", r.Verdict, d.Violations)
		}
		if len(d.Examples) > scExamples {
			t.Fatalf("%d examples", len(d.Examples))
		}
		s := StaleReads{}.Check(context.Background(), ops)
		checkResult(t, "stale-reads", s)
		if s.Verdict != Valid {
			t.Fatalf("stale reads are never judged: %s", s.Message)
		}
	})
}
