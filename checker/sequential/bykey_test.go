package sequential

import (
	"context"
	"fmt"
	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/internal/histtest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/history"
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

func TestByKeyJudgesAsCheckDoes(t *testing.T) {
	verdicts, rules := map[string]int{}, map[string]int{}
	for seed := range uint64(30) {
		m := gen.Mutations[seed%uint64(len(gen.Mutations))]
		if seed%8 == 7 {
			m = gen.NoMutation
		}
		ops, _ := gen.Sequential(gen.SequentialConfig{Seed: seed, Calls: 300, Keys: 3, Mutation: m})
		t.Run(fmt.Sprintf("sequential-%d-%s", seed, m), func(t *testing.T) {
			r := checkertest.RequireSameByKey(t, Checker{}, ops)
			verdicts[string(r.Verdict)]++
			for rule, n := range r.Details.(Details).ByRule {
				rules[rule] += n
			}
		})
	}
	for seed := range uint64(6) {
		a := gen.SmallAnomalies[seed%uint64(len(gen.SmallAnomalies))]
		ops, _ := gen.Small(gen.SmallConfig{Seed: seed, Calls: 40, Keys: 3, FinalReads: true, Anomaly: a})
		t.Run(fmt.Sprintf("small-%d-%s", seed, a), func(t *testing.T) {
			checkertest.RequireSameByKey(t, Checker{}, ops)
		})
	}
	t.Logf("verdicts: %v; violations: %v", verdicts, rules)
	assert.Positive(t, verdicts["valid"])
	for _, rule := range []string{RuleSessionMonotonic, RuleSessionView, RuleNoPhantom, RuleVersionAgreement, RuleWriteRealTime} {
		assert.Positive(t, rules[rule], rule)
	}
	assert.Positive(t, verdicts["invalid"])
}

func TestByKeyFindsAZxidOfTwoKeysAsCheckDoes(t *testing.T) {
	ops, _ := gen.Sequential(gen.SequentialConfig{Seed: 5, Calls: 300, Keys: 3})
	// Every ok read of the last key claims the zxid of the first ok write
	// of another key.
	var zxid int64
	for _, op := range ops {
		if op.Type == history.OK && op.F != history.Read && op.Zxid != 0 && op.Key != "" {
			zxid = op.Zxid
			break
		}
	}
	require.NotZero(t, zxid)
	calls := history.Calls(ops)
	changed := 0
	for _, c := range calls {
		if c.Invoke.F == history.Read && c.Complete.Type == history.OK && c.Invoke.Key == "k2" && c.Complete.Zxid != zxid {
			ops[c.Complete.Index].Zxid = zxid
			changed++
		}
	}
	require.Positive(t, changed)
	r := checkertest.RequireSameByKey(t, Checker{}, ops)
	assert.Contains(t, r.Message, "changed both")
}

func TestByKeyKeepsTheViewOfAReadWhileItsSessionMovesOn(t *testing.T) {
	// Session 1 saw zxid 0x10 before its read of b was invoked, and b's
	// version 1 was committed at 0x0f: the read's version 0 is older than
	// the session's view. While the read is in flight, the session's other
	// process raises its view three more times.
	ops := checkertest.Hist(
		at(1, 0x10, checkertest.WriteOK(1, "a", 1, 0, 5, 1)),
		at(2, 0x0f, checkertest.WriteOK(3, "b", 7, 1, 3, 1)),
		at(1, 0, checkertest.ReadOK(2, "b", 10, 50, 0, 0)),
		at(1, 0x11, checkertest.WriteOK(1, "a", 2, 11, 20, 2)),
		at(1, 0x12, checkertest.WriteOK(1, "a", 3, 21, 30, 3)),
		at(1, 0x13, checkertest.WriteOK(1, "a", 4, 31, 40, 4)),
	)
	r := checkertest.RequireSameByKey(t, Checker{}, ops)
	assert.Equal(t, 1, r.Details.(Details).ByRule[RuleSessionView], r.Message)

	// The same read invoked before it had a session: its completion names
	// session 1, whose view it takes from the session's log.
	for i := range ops {
		if ops[i].Process == 2 && ops[i].Type == history.Invoke {
			ops[i].Session = 0
		}
	}
	r = checkertest.RequireSameByKey(t, Checker{}, ops)
	assert.Equal(t, 1, r.Details.(Details).ByRule[RuleSessionView], r.Message)
}

func TestByKeySessionsForgetTheViewsNoReadCanNeed(t *testing.T) {
	named, _ := gen.Sequential(gen.SequentialConfig{Seed: 3, Calls: 20_000, Keys: 4})
	for name, ops := range map[string][]history.Op{
		"sessions named by id": named,
		// Processes without session ids, some of whose reads never
		// complete.
		"processes": gen.Register(gen.Config{Seed: 3, Calls: 20_000, Keys: 4}),
	} {
		t.Run(name, func(t *testing.T) {
			j := Checker{}.StartByKey(context.Background()).(*judgement)
			path := histtest.WriteFile(t, ops)
			_, err := checker.JudgeFile(context.Background(), j, path, filepath.Dir(path), nil, nil)
			require.NoError(t, err)
			most := 0
			for _, l := range j.sessionLogs {
				most = max(most, len(l.views))
			}
			assert.Greater(t, len(j.sessionLogs), 100)
			assert.LessOrEqual(t, most, 2, "views a session keeps")
		})
	}
}
