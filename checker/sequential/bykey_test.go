package sequential

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/zkchaos/zkchaos/history/gen"
	"github.com/zkchaos/zkchaos/internal/checkertest"
)

func TestStaleReadsByKeyCountAsCheckDoes(t *testing.T) {
	most := 0
	for seed := range uint64(4) {
		for _, mode := range []string{gen.ReadPlain, gen.ReadQuorum} {
			ops, _ := gen.Sequential(gen.SequentialConfig{Seed: seed, Calls: 400, Keys: 3, ReadMode: mode})
			t.Run(fmt.Sprintf("%d-%s", seed, mode), func(t *testing.T) {
				r := checkertest.RequireSameByKey(t, StaleReads{ReadMode: mode}, ops)
				most = max(most, r.Details.(StaleReadsDetails).Stale)
			})
		}
	}
	assert.Greater(t, most, staleExamples, "a history with more stale reads than examples")
}
