package linearizable

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
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

func TestValueRegisterJudgesASplitHistoryAsAWholeOne(t *testing.T) {
	cases := map[string][]history.Op{}
	for seed := range uint64(6) {
		cfg := gen.JepsenConfig{Seed: seed, Calls: 400, Keys: 3, Processes: 6}
		switch seed % 3 {
		case 1:
			cfg.Anomaly = gen.StaleRead
		case 2:
			cfg.Anomaly = gen.DoubleCAS
		}
		cases[fmt.Sprintf("jepsen-%d-%s", seed, cfg.Anomaly)] = gen.Jepsen(cfg)
	}
	verdicts := map[checker.Verdict]int{}
	for name, ops := range cases {
		t.Run(name, func(t *testing.T) {
			v := ValueRegister{CAS: true, Budget: 10 * time.Second}
			want, wantErr := v.Judge(context.Background(), ops)
			got, gotErr := v.JudgeSplit(context.Background(), splitOf(t, ops))
			require.Equal(t, wantErr, gotErr)
			checkertest.RequireSameResult(t, want, got)
			verdicts[got.Verdict]++

			// Without cas in the model, the first cas is the error.
			_, wantErr = ValueRegister{}.Judge(context.Background(), ops)
			_, gotErr = ValueRegister{}.JudgeSplit(context.Background(), splitOf(t, ops))
			require.Error(t, wantErr)
			require.Equal(t, wantErr, gotErr)
		})
	}
	assert.Positive(t, verdicts[checker.Valid])
	assert.Positive(t, verdicts[checker.Invalid])
}

// splitOf splits ops by key.
func splitOf(t *testing.T, ops []history.Op) *history.Split {
	t.Helper()
	s, err := history.NewSplit(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	for i := range ops {
		require.NoError(t, s.Add(&ops[i]))
	}
	require.NoError(t, s.Done())
	return s
}

func TestTheVersionOrderDecidesWithoutBudget(t *testing.T) {
	// What the version order proves takes no search, so no budget: a
	// budget spent before a key starts leaves that key decided, by key
	// and whole, as with all the time in the world.
	decided := map[checker.Verdict]int{}
	for seed, anomaly := range []gen.Anomaly{gen.None, gen.StaleRead, gen.LostWrite, gen.DuplicateWrite} {
		ops := gen.Register(gen.Config{Seed: uint64(seed), Calls: 12_000, Keys: 2, Anomaly: anomaly})
		ample := Checker{ReadMode: ReadQuorum}.Check(context.Background(), ops).Details.(Details)
		spent := Checker{ReadMode: ReadQuorum, Budget: time.Nanosecond}
		for name, r := range map[string]checker.Result{
			"whole":  spent.Check(context.Background(), ops),
			"by key": checkertest.JudgeByKey(t, spent, ops),
		} {
			keys := r.Details.(Details).Keys
			require.Len(t, keys, len(ample.Keys), "%s, %s", anomaly, name)
			for i, want := range ample.Keys {
				if want.Method != MethodVersionOrder {
					continue
				}
				assert.Equal(t, want.Verdict, keys[i].Verdict, "%s, %s: key %s: %s", anomaly, name, want.Key, keys[i].Explanation)
				decided[keys[i].Verdict]++
			}
		}
	}
	assert.Positive(t, decided[checker.Valid])
	assert.Positive(t, decided[checker.Invalid])
}
