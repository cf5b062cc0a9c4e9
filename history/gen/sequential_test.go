package gen

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/history"
)

func TestSequentialIsSeededAndShaped(t *testing.T) {
	a, _ := Sequential(SequentialConfig{Seed: 7})
	b, _ := Sequential(SequentialConfig{Seed: 7})
	require.Equal(t, a, b, "the same config gives the same history")

	// What the histories must hold, over a few hundred seeds: every outcome,
	// crashes, new sessions, faults, stale reads from lagging followers,
	// and indeterminate writes that took effect.
	seen := map[string]int{}
	for seed := range uint64(300) {
		ops, _ := Sequential(SequentialConfig{Seed: seed, ReadMode: []string{ReadPlain, ReadSync, ReadQuorum}[seed%3]})
		open := map[history.Process]history.Op{}
		sessions := map[history.Process]int64{}
		latest := map[string]int32{} // highest version acknowledged per key
		infoValues := map[string]map[int64]bool{}
		for i, op := range ops {
			require.Equal(t, int64(i), op.Index)
			if i > 0 {
				require.GreaterOrEqual(t, op.Time, ops[i-1].Time, "seed %d: records are in time order", seed)
			}
			switch {
			case op.IsNemesis():
				seen[op.F]++
			case op.Type == history.Invoke:
				if _, busy := open[op.Process]; busy {
					seen["crashed"]++ // only a crashed call's process invokes again
				}
				require.NotZero(t, op.Session, "seed %d: every call names its session", seed)
				require.NotEmpty(t, op.Node)
				if s, ok := sessions[op.Process]; ok && s != op.Session {
					t.Fatalf("seed %d: process %d changed session without a new process", seed, op.Process)
				}
				sessions[op.Process] = op.Session
				op.Version = history.Int32(latest[op.Key])
				open[op.Process] = op
			default:
				inv := open[op.Process]
				delete(open, op.Process)
				require.Equal(t, inv.Key, op.Key)
				require.Equal(t, inv.Session, op.Session)
				seen[string(op.Type)]++
				switch {
				case op.Type == history.Info && op.F != history.Read:
					if infoValues[op.Key] == nil {
						infoValues[op.Key] = map[int64]bool{}
					}
					infoValues[op.Key][*op.Value] = true
				case op.Type == history.OK && op.F == history.Read:
					if *op.Version < *inv.Version {
						seen["stale read"]++
					}
					if infoValues[op.Key][*op.Value] {
						seen["indeterminate write seen"]++
					}
				case op.Type == history.OK:
					latest[op.Key] = max(latest[op.Key], *op.Version)
				}
			}
		}
		seen["crashed"] += len(open)
		seen["sessions"] += len(sessions)
	}
	t.Logf("over 300 histories: %v", seen)
	for _, what := range []string{"ok", "info", "fail", "crashed", "kill", "start", history.FRoles, "stale read", "indeterminate write seen"} {
		assert.Positive(t, seen[what], what)
	}
}

func TestSequentialPlantsEveryMutation(t *testing.T) {
	clean, _ := Sequential(SequentialConfig{Seed: 3})
	for _, m := range Mutations {
		ops, planted := Sequential(SequentialConfig{Seed: 3, Mutation: m})
		require.True(t, planted, "%s", m)
		assert.NotEqual(t, clean, ops, "%s changes the history", m)
	}
}
