package stats

import (
	"context"
	"testing"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/checkertest"
)

func FuzzStats(f *testing.F) {
	checkertest.FuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ops := checkertest.RegisterHistory(data, true)
		r := Checker{Need: []string{history.Read, history.Write}}.Check(context.Background(), ops)
		checkertest.CheckResult(t, "stats", r)
		if r.Verdict == checker.Invalid {
			t.Fatalf("stats never finds a violation: %s", r.Message)
		}
	})
}
