package checker

import (
	"context"
	"testing"
)

func FuzzRecovery(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := Recovery{}.Check(context.Background(), fuzzRegisterHistory(data, true))
		checkResult(t, "recovery", r)
	})
}
