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

// panicking is the register workload with a bug: worker 0 panics once the
// run has gone on for after, in its own goroutine (where is inStep), or in
// the goroutine that runs one of its operations (inOperation); or the final
// reads panic (inFinalReads).
type panicking struct {
	*register.Workload
	after time.Duration
	where string
}

const (
	inStep       = "in the worker"
	inOperation  = "in an operation"
	inFinalReads = "in the final reads"
)

func (p panicking) FinalReads(ctx context.Context, env workloads.Env, rec workloads.Recorder, firstProcess int) error {
	if p.where == inFinalReads {
		panic("final reads bug")
	}
	return p.Workload.FinalReads(ctx, env, rec, firstProcess)
}

func (p panicking) Run(stop context.Context, env workloads.Env, rec workloads.Recorder) error {
	started := time.Now()
	return workloads.RunWorkers(stop, env, rec, func(w *workloads.Worker) error {
		due := w.Index == 0 && time.Since(started) > p.after
		if due && p.where == inStep {
			panic("worker bug")
		}
		op := history.Op{Type: history.Invoke, F: history.Read, Key: register.KeyName(w.Rand.IntN(3))}
		_, err := w.Client.Call(op, func(conn *zk.Conn) history.Op {
			if due && p.where == inOperation {
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
	t.Parallel() // beside the other tests that start ensembles, two at a time
	localtest.RequireZooKeeper(t)
	for _, tc := range []struct {
		where string
		want  string
	}{
		{inStep, "worker 0 panicked: worker bug"},
		{inOperation, "index out of range"},
		{inFinalReads, "final reads bug"},
	} {
		t.Run(tc.where, func(t *testing.T) {
			t.Parallel() // two at a time: go test's -parallel is the number of cores
			s, err := scenarios.Load("../scenarios/smoke.yaml")
			require.NoError(t, err)
			s.TimeLimit = time.Minute
			if tc.where == inFinalReads {
				s.TimeLimit = 3 * time.Second
			}
			s.Nemesis.Warmup = time.Second
			s.Nemesis.Duration = time.Minute // the leader is down when the bug strikes
			wl := panicking{Workload: register.New(register.Config{Keys: 3}), after: 3 * time.Second, where: tc.where}

			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			started := time.Now()
			out, err := Run(ctx, Options{Scenario: s, OutDir: t.TempDir(), Workload: wl})
			require.Error(t, err)
			assert.NotErrorIs(t, err, ErrInterrupted, "a bug is a harness failure, not an interrupt")
			assert.ErrorContains(t, err, "panicked: ")
			assert.ErrorContains(t, err, tc.want)
			assert.Less(t, time.Since(started), time.Minute, "the run ends when the bug strikes")

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
			assert.Empty(t, localtest.Servers(t, out.Dir), "no ZooKeeper process may outlive the run")
		})
	}
}
