package checker_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/convergence"
	"github.com/zkchaos/zkchaos/checker/linearizable"
	"github.com/zkchaos/zkchaos/checker/lock"
	"github.com/zkchaos/zkchaos/checker/queue"
	"github.com/zkchaos/zkchaos/checker/recovery"
	"github.com/zkchaos/zkchaos/checker/sequential"
	"github.com/zkchaos/zkchaos/checker/serverlogs"
	"github.com/zkchaos/zkchaos/checker/session"
	"github.com/zkchaos/zkchaos/checker/set"
	"github.com/zkchaos/zkchaos/checker/transactions"
	"github.com/zkchaos/zkchaos/checker/watch"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/history/gen"
)

// planted is a checker and histories with one anomaly planted in them.
type planted struct {
	pkg     string // the checker's package under checker/
	checker checker.Checker
	// history returns a history with the anomaly planted for seed.
	history func(seed uint64) []history.Op
	// fs are the functions of the operations the anomaly involves; at least
	// one anomaly must name an operation of one of them.
	fs []string
	// found is the verdict, or measure, that says the anomaly was found.
	found func(checker.Result) bool
}

func invalid(r checker.Result) bool { return r.Verdict == checker.Invalid }

// plantedAnomalies has an entry for every checker whose details list
// anomalies.
func plantedAnomalies(t *testing.T) []planted {
	logs := t.TempDir()
	badLog := filepath.Join(logs, "n1.log")
	require.NoError(t, os.WriteFile(badLog, []byte("2026-12-06 ERROR [n1] java.lang.NullPointerException\n"), 0o644))
	setOps := func(a gen.Anomaly, f func(gen.ClientConfig) ([]history.Op, bool)) func(uint64) []history.Op {
		return func(seed uint64) []history.Op {
			ops, _ := f(gen.ClientConfig{Seed: seed, Calls: 12, Anomalies: []gen.Anomaly{a}})
			return ops
		}
	}
	return []planted{
		{pkg: "linearizable", checker: linearizable.Checker{Budget: 10 * time.Second, ReadMode: linearizable.ReadQuorum},
			history: func(seed uint64) []history.Op {
				return gen.Register(gen.Config{Seed: seed, Calls: 300, Keys: 2, Processes: 8, Anomaly: gen.StaleRead})
			}, fs: []string{history.Read, history.Write, history.CAS}, found: invalid},
		{pkg: "linearizable", checker: linearizable.ValueRegister{CAS: true, Budget: 10 * time.Second},
			history: func(seed uint64) []history.Op {
				return gen.Jepsen(gen.JepsenConfig{Seed: seed, Calls: 60, Processes: 4, Anomaly: gen.StaleRead})
			}, fs: []string{history.Read, history.Write, history.CAS}, found: invalid},
		{pkg: "sequential", checker: sequential.Checker{},
			history: func(seed uint64) []history.Op {
				ops, _ := gen.Sequential(gen.SequentialConfig{Seed: seed, Mutation: gen.BackwardRead})
				return ops
			}, fs: []string{history.Read, history.Write, history.CAS}, found: invalid},
		{pkg: "sequential", checker: sequential.StaleReads{},
			history: func(seed uint64) []history.Op {
				ops, _ := gen.Sequential(gen.SequentialConfig{Seed: seed, Calls: 80, ReadMode: linearizable.ReadPlain, Lag: 0.01})
				return ops
			}, fs: []string{history.Read}, found: func(r checker.Result) bool { return r.Details.(sequential.StaleReadsDetails).Stale > 0 }},
		{pkg: "set", checker: set.Checker{}, history: setOps(gen.SetLost, gen.SetHistory), fs: []string{set.Add}, found: invalid},
		{pkg: "queue", checker: queue.Checker{}, history: setOps(gen.QueueDuplicate, gen.QueueHistory), fs: []string{queue.Enqueue, queue.Dequeue}, found: invalid},
		{pkg: "lock", checker: lock.Checker{}, history: func(seed uint64) []history.Op {
			return gen.Lock(gen.LockConfig{Seed: seed, Anomaly: gen.DoubleHolder})
		}, fs: []string{lock.Acquire}, found: invalid},
		{pkg: "session", checker: session.Checker{SessionTimeout: time.Second, Margin: 500 * time.Millisecond}, history: func(seed uint64) []history.Op {
			return gen.Sessions(gen.SessionsConfig{Seed: seed, Timeout: time.Second, Margin: 500 * time.Millisecond, Anomaly: gen.NodeOutlived})
		}, fs: []string{session.Exists}, found: invalid},
		{pkg: "watch", checker: watch.Checker{}, history: func(seed uint64) []history.Op {
			return gen.Watch(gen.WatchConfig{Seed: seed, Anomaly: gen.PhantomEvent})
		}, fs: []string{watch.F, history.Read, history.Write}, found: invalid},
		{pkg: "transactions", checker: transactions.Checker{}, history: func(seed uint64) []history.Op {
			return gen.Multi(gen.MultiConfig{Seed: seed, Calls: 20, Keys: 3, Processes: 3, Anomaly: gen.TornTxn})
		}, fs: []string{transactions.FTxn, history.Read}, found: invalid},
		{pkg: "convergence", checker: convergence.Checker{}, history: func(seed uint64) []history.Op {
			return gen.Convergence(gen.ConvergenceConfig{Seed: seed, Nodes: 3, Writes: 8, Anomaly: gen.DivergedReplica})
		}, fs: []string{history.FSnapshot}, found: invalid},
		{pkg: "recovery", checker: recovery.Checker{}, history: func(uint64) []history.Op {
			nemesis := func(ms int64, f string, fault *history.Fault, roles map[string]string, err string) history.Op {
				return history.Op{Type: history.Info, F: f, Process: history.NemesisProcess, Time: ms * 1e6, Fault: fault, Roles: roles, Error: err}
			}
			kill := &history.Fault{Name: "kill leader", Targets: []string{"n1"}}
			return []history.Op{
				nemesis(0, history.FRoles, nil, map[string]string{"n1": "leader", "n2": "follower", "n3": "follower"}, ""),
				nemesis(1000, "kill", kill, nil, ""),
				nemesis(1100, history.FRoles, nil, map[string]string{"n1": "down", "n2": "looking", "n3": "looking"}, ""),
				nemesis(3000, "start", kill, nil, ""),
				nemesis(9000, history.FHealthy, &history.Fault{Name: "final heal"}, nil, "no leader"),
			}
		}, found: invalid},
		// Logs are not part of the history: its anomalies name no operation.
		{pkg: "serverlogs", checker: serverlogs.Checker{Logs: map[string]string{"n1": badLog}},
			history: func(uint64) []history.Op { return nil }, found: invalid},
	}
}

// notListingAnomalies are the packages under checker/ whose results list no
// anomaly, and why.
var notListingAnomalies = map[string]string{
	"linsearch": "a search that checkers call, not a checker",
	"stats":     "counts operations; its only verdict is whether there were enough",
	"znodes":    "helpers; the sequence evidence it makes is part of set's and queue's",
}

// TestEveryCheckerReportsItsPlantedAnomalyAsTypedEvidence runs each checker,
// composed as the harness runs it, on histories with an anomaly planted until
// it finds the anomaly, and requires its details to be an Evidencer whose
// anomalies name the operations involved by their invocation records. A new
// package under checker/ must be added to the table or to
// notListingAnomalies.
func TestEveryCheckerReportsItsPlantedAnomalyAsTypedEvidence(t *testing.T) {
	table := plantedAnomalies(t)
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	for _, e := range entries {
		if !e.IsDir() || notListingAnomalies[e.Name()] != "" {
			continue
		}
		assert.True(t, slices.ContainsFunc(table, func(p planted) bool { return p.pkg == e.Name() }),
			"checker/%s is neither in the table of planted anomalies nor among the packages that list none", e.Name())
	}
	for _, p := range table {
		t.Run(p.checker.Name(), func(t *testing.T) {
			for seed := range uint64(100) {
				ops := p.history(seed)
				r := checker.Compose("all", p.checker).Check(context.Background(), ops).Children[0]
				if !p.found(r) {
					continue
				}
				_, ok := r.Details.(checker.Evidencer)
				require.True(t, ok, "%T lists anomalies but is no Evidencer", r.Details)
				require.NotEmpty(t, r.Anomalies, "seed %d: %s", seed, r.Message)
				assertNamesPlantedOps(t, p, ops, r.Anomalies)
				return
			}
			t.Fatalf("no history of 100 seeds made %s find the anomaly", p.checker.Name())
		})
	}
}

// assertNamesPlantedOps checks that every operation the anomalies name is an
// invocation record (or a nemesis record) of ops, and that one is an
// operation of the planted kind.
func assertNamesPlantedOps(t *testing.T, p planted, ops []history.Op, as []checker.Anomaly) {
	t.Helper()
	byIndex := map[int64]history.Op{}
	for _, op := range ops {
		byIndex[op.Index] = op
	}
	involved := false
	for _, a := range as {
		assert.NotEmpty(t, a.Text, "%s anomaly without words", a.Kind)
		if p.fs == nil {
			continue
		}
		assert.NotEmpty(t, a.Ops, "%s: %s names no operation", a.Kind, a.Text)
		for _, ref := range a.Ops {
			if ref.Index == checker.NoIndex {
				assert.Less(t, ref.Start, ref.End+1, "a span ends before it starts")
				continue
			}
			op, ok := byIndex[ref.Index]
			if !assert.True(t, ok, "%s names record %d, not in the history", a.Kind, ref.Index) {
				continue
			}
			assert.True(t, op.Type == history.Invoke || op.IsNemesis(), "%s names record %d, a %s %s, not an invocation", a.Kind, ref.Index, op.Type, op.F)
			involved = involved || slices.Contains(p.fs, op.F)
		}
	}
	if p.fs != nil {
		assert.True(t, involved, "no anomaly names an operation of %v: %+v", p.fs, as)
	}
}
