package harness

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster/local/localtest"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/reports"
	"github.com/zkchaos/zkchaos/scenarios"
	"github.com/zkchaos/zkchaos/workloads"
	"github.com/zkchaos/zkchaos/workloads/register"
)

// panicking is the register workload whose worker 0 panics once the run has
// gone on for after: in its own goroutine (inStep), or in the goroutine that
// runs one of its operations.
type panicking struct {
	*register.Workload
	after  time.Duration
	inStep bool
}

func (p panicking) Run(stop context.Context, env workloads.Env, rec workloads.Recorder) error {
	started := time.Now()
	return workloads.RunWorkers(stop, env, rec, func(w *workloads.Worker) error {
		due := w.Index == 0 && time.Since(started) > p.after
		if due && p.inStep {
			panic("worker bug")
		}
		op := history.Op{Type: history.Invoke, F: history.Read, Key: register.KeyName(w.Rand.IntN(3))}
		_, err := w.Client.Call(op, func(conn *zk.Conn) history.Op {
			if due {
				var ops []history.Op
				_ = ops[len(op.Key)] // index out of range: the bug
			}
			data, _, err := conn.Get(register.Path(op.Key))
			if err != nil {
				return workloads.Outcome(op, err)
			}
			done := workloads.Complete(op, history.OK)
			if v, perr := strconv.ParseInt(string(data), 10, 64); perr == nil {
				done.Value = &v
			}
			return done
		})
		return err
	})
}

// TestPanicInAWorkerFailsTheRunAndHealsEverything: a panic in any goroutine
// of the workload ends the run at once as a harness failure, with the fault
// in force healed, every server stopped, the history kept and results.json
// written, instead of killing the process.
func TestPanicInAWorkerFailsTheRunAndHealsEverything(t *testing.T) {
	localtest.RequireZooKeeper(t)
	for _, tc := range []struct {
		name   string
		inStep bool
		want   string
	}{
		{"in the worker", true, "worker bug"},
		{"in an operation", false, "index out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := scenarios.Load("../scenarios/smoke.yaml")
			require.NoError(t, err)
			s.TimeLimit = time.Minute
			s.Nemesis.Warmup = time.Second
			s.Nemesis.Duration = time.Minute // the leader is down when the bug strikes
			wl := panicking{Workload: register.New(register.Config{Keys: 3}), after: 3 * time.Second, inStep: tc.inStep}

			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			started := time.Now()
			out, err := Run(ctx, Options{Scenario: s, OutDir: t.TempDir(), Workload: wl})
			require.Error(t, err)
			assert.NotErrorIs(t, err, ErrInterrupted, "a bug is a harness failure, not an interrupt")
			assert.ErrorContains(t, err, "panicked: ")
			assert.ErrorContains(t, err, tc.want)
			assert.Less(t, time.Since(started), s.TimeLimit, "the run ends when the bug strikes")

			stored, err := reports.ReadResults(out.Dir)
			require.NoError(t, err, "results.json is written")
			assert.Contains(t, stored.Error, tc.want)
			assert.False(t, stored.Interrupted)
			read, err := history.ReadFile(filepath.Join(out.Dir, history.FileName))
			require.NoError(t, err, "the history is readable")
			assert.NotEmpty(t, history.Calls(read.Ops))
			killed, restarted := false, false
			for _, op := range read.Ops {
				if op.IsNemesis() && op.Type == history.Info && op.Error == "" {
					killed = killed || op.F == "kill"
					restarted = restarted || (killed && op.F == "start")
				}
			}
			assert.True(t, killed && restarted, "the kill in force was healed")
			assert.Empty(t, servers(t, out.Dir), "no ZooKeeper process may outlive the run")
		})
	}
}
