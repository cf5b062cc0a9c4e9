package linearizable

import (
	"fmt"
	"testing"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history/gen"
	"github.com/zkchaos/zkchaos/internal/checkertest"
)

func TestByKeyJudgesAsCheckDoes(t *testing.T) {
	verdicts := map[checker.Verdict]int{}
	for seed := range uint64(8) {
		anomaly := gen.SmallAnomalies[seed%uint64(len(gen.SmallAnomalies))]
		for _, mode := range []string{ReadQuorum, ReadPlain} {
			ops, _ := gen.Small(gen.SmallConfig{Seed: seed, Calls: 40, Keys: 3, ReadMode: mode, FinalReads: true, Anomaly: anomaly})
			t.Run(fmt.Sprintf("small-%d-%s-%s", seed, mode, anomaly), func(t *testing.T) {
				r := checkertest.RequireSameByKey(t, Checker{ReadMode: mode, VisualizeAllBelow: 60}, ops)
				verdicts[r.Verdict]++
			})
		}
		ops := gen.Register(gen.Config{Seed: seed, Calls: 600, Keys: 4, Anomaly: []gen.Anomaly{gen.None, gen.StaleRead, gen.LostWrite, gen.DuplicateWrite}[seed%4]})
		t.Run(fmt.Sprintf("register-%d", seed), func(t *testing.T) {
			r := checkertest.RequireSameByKey(t, Checker{ReadMode: ReadQuorum}, ops)
			verdicts[r.Verdict]++
		})
	}
	t.Logf("verdicts: %v", verdicts)
	for _, v := range []checker.Verdict{checker.Valid, checker.Invalid} {
		if verdicts[v] == 0 {
			t.Errorf("no %s history among the equivalence cases: %v", v, verdicts)
		}
	}
}
