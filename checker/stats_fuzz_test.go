package checker

import (
	"context"
	"testing"

	"github.com/zkchaos/zkchaos/history"
)

func FuzzStats(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ops := fuzzRegisterHistory(data, true)
		r := Stats{Need: []string{history.Read, history.Write}}.Check(context.Background(), ops)
		checkResult(t, "stats", r)
		if r.Verdict == Invalid {
			t.Fatalf("stats never finds a violation: %s", r.Message)
		}
	})
}
