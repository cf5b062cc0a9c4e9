package sequential

import (
	"context"
	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/internal/checkertest"
	"testing"
)

func FuzzSequential(f *testing.F) {
	checkertest.FuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ops := checkertest.RegisterHistory(data, true)
		r := Checker{}.Check(context.Background(), ops)
		checkertest.CheckResult(t, "sequential", r)
		d := r.Details.(Details)
		if r.Verdict == checker.Valid && (d.ReadsChecked == 0 || d.Violations > 0 || d.Malformed > 0) {
			t.Fatalf("valid without evidence or despite violations: %s", r.Message)
		}
		if (r.Verdict == checker.Invalid) != (d.Violations > 0) {
			t.Fatalf("verdict %s with %d violations", r.Verdict, d.Violations)
		}
		if len(d.Examples) > examples {
			t.Fatalf("%d examples", len(d.Examples))
		}
		s := StaleReads{}.Check(context.Background(), ops)
		checkertest.CheckResult(t, "stale-reads", s)
		if s.Verdict != checker.Valid {
			t.Fatalf("stale reads are never judged: %s", s.Message)
		}
	})
}

// FuzzSequentialByKey holds the key-by-key judgement to Check's on
// arbitrary histories in time order: overlapping calls of one session,
// invocations and completions naming different sessions, calls that never
// complete.
func FuzzSequentialByKey(f *testing.F) {
	checkertest.FuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ops := checkertest.RegisterHistory(data, false)
		checkertest.RequireSameByKey(t, Checker{}, ops)
		checkertest.RequireSameByKey(t, StaleReads{}, ops)
	})
}
