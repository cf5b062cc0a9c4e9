package stats

import (
	"testing"

	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/history/gen"
	"github.com/zkchaos/zkchaos/internal/checkertest"
)

func TestByKeyCountsAsCheckDoes(t *testing.T) {
	c := Checker{Need: []string{history.Read, history.Write}}
	for seed := range uint64(3) {
		checkertest.RequireSameByKey(t, c, gen.Register(gen.Config{Seed: seed, Calls: 2000, Keys: 5}))
	}
	ops, _ := gen.Small(gen.SmallConfig{Seed: 1, Calls: 6, Reads: 0.01})
	checkertest.RequireSameByKey(t, Checker{Need: []string{"missing"}}, ops)
}
