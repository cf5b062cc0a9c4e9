package recovery

import (
	"context"
	"github.com/zkchaos/zkchaos/internal/checkertest"
	"testing"
)

func FuzzRecovery(f *testing.F) {
	checkertest.FuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := Checker{}.Check(context.Background(), checkertest.RegisterHistory(data, true))
		checkertest.CheckResult(t, "recovery", r)
	})
}
