package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster/local"
	"github.com/zkchaos/zkchaos/cluster/local/localtest"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/reports"
)

// chaosScenario is short and has every fault that leaves something to undo.
const chaosScenario = "testdata/harness-chaos.yaml"

// startedRun is a `zkchaos run` in a process of its own.
type startedRun struct {
	cmd    *exec.Cmd
	stderr *strings.Builder
	out    string
	latest string
}

// startRun starts `zkchaos run scenario` into a fresh directory with extra
// flags; the run's cleanup kills it if it still runs.
func startRun(t testing.TB, scenario, name string, flags ...string) *startedRun {
	t.Helper()
	out := t.TempDir()
	cmd := exec.Command(binary, append([]string{"run", scenario, "--out", out}, flags...)...)
	r := &startedRun{cmd: cmd, stderr: &strings.Builder{}, out: out, latest: filepath.Join(out, name, reports.LatestLink)}
	cmd.Stderr = r.stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return r
}

// waitRecording waits until the run's history holds at least n bytes.
func (r *startedRun) waitRecording(t testing.TB, n int64) {
	t.Helper()
	require.Eventually(t, func() bool {
		st, err := os.Stat(filepath.Join(r.latest, history.FileName))
		return err == nil && st.Size() >= n
	}, 2*time.Minute, 50*time.Millisecond, "the run should record operations: %s", r.stderr)
}

// signal sends the signals to the run, gap apart, and returns its exit code
// (-1 when a signal ended it).
func (r *startedRun) signal(t testing.TB, gap time.Duration, sigs ...syscall.Signal) int {
	t.Helper()
	for i, sig := range sigs {
		if i > 0 {
			time.Sleep(gap)
		}
		require.NoError(t, r.cmd.Process.Signal(sig))
	}
	return r.exitCode(t)
}

// exitCode waits for the run to end and returns its exit code, -1 when a
// signal ended it.
func (r *startedRun) exitCode(t testing.TB) int {
	t.Helper()
	err := r.cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	require.NoError(t, err)
	return 0
}

// runDir returns the run's directory, "" when none was made.
func (r *startedRun) runDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(r.latest)
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	require.NoError(t, err)
	return dir
}

// requireNothingLeft fails unless no server of the run directory runs and
// none of their libfaketime files is left.
func requireNothingLeft(t testing.TB, dir string) {
	t.Helper()
	pids, err := local.Servers(dir)
	require.NoError(t, err)
	require.Empty(t, pids, "no ZooKeeper process may outlive the harness")
	shm, err := local.FaketimeFiles(dir)
	require.NoError(t, err)
	require.Empty(t, shm, "no libfaketime file may outlive its server")
}

func TestInterruptSignalsHealTearDownAndKeepTheHistory(t *testing.T) {
	t.Parallel() // beside the other tests that start ensembles, two at a time
	localtest.RequireZooKeeper(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel() // two at a time: go test's -parallel is the number of cores
			r := startRun(t, "../../scenarios/smoke.yaml", "smoke", "--time-limit", "3m")
			r.waitRecording(t, 20_000)
			code := r.signal(t, 0, sig)
			assert.Equal(t, exitInterrupted, code, r.stderr.String())
			assert.Contains(t, r.stderr.String(), "run interrupted")

			dir := r.runDir(t)
			requireNothingLeft(t, dir)
			read, err := history.ReadFile(filepath.Join(dir, history.FileName))
			require.NoError(t, err)
			assert.NotEmpty(t, history.Calls(read.Ops))
			res, err := reports.ReadResults(dir)
			require.NoError(t, err)
			assert.True(t, res.Interrupted)
		})
	}
}

// TestSecondSIGINTFinishesTheHeal runs alone, not beside another ensemble:
// its second signal must reach the run within the tenth of a second its heal
// and teardown take, and two signals that reach a descheduled process
// together are one.
func TestSecondSIGINTFinishesTheHeal(t *testing.T) {
	localtest.RequireZooKeeper(t)
	if _, err := local.FindFaketime(); err != nil {
		t.Skip(err.Error())
	}
	r := startRun(t, chaosScenario, "harness-chaos", "--time-limit", "3m")
	r.waitRecording(t, 20_000)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	go func() {
		<-ctx.Done()
		_ = r.cmd.Process.Kill()
	}()
	code := r.signal(t, 2*time.Millisecond, syscall.SIGINT, syscall.SIGINT)
	assert.Equal(t, exitInterrupted, code, r.stderr.String())
	assert.Contains(t, r.stderr.String(), "SIGINT again: still healing")
	assert.Contains(t, r.stderr.String(), "run interrupted")

	dir := r.runDir(t)
	requireNothingLeft(t, dir)
	res, err := reports.ReadResults(dir)
	require.NoError(t, err)
	assert.True(t, res.Interrupted)
	_, err = history.ReadFile(filepath.Join(dir, history.FileName))
	require.NoError(t, err)
}

func TestSignalsDuringAHealFinishItOrExitNamingWhatIsInForce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		running bool
		signals int
		want    []string
		exit    bool
	}{
		{"no run: the second exits", false, 2, []string{"SIGHUP again: exiting at once"}, true},
		{"a run: the second waits", true, 2, []string{"SIGHUP again: still healing the fault kill-leader [n2] and the servers of out/smoke/latest"}, false},
		{"a run: the third exits", true, 3, []string{"still healing", "SIGHUP again: exiting with this still in force: the fault kill-leader [n2]", "zkchaos heal --out out"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f faults
			if tc.running {
				f.start("out", "smoke")
				f.inject("kill-leader [n2]")
			}
			sigs := make(chan os.Signal, tc.signals)
			for range tc.signals {
				sigs <- syscall.SIGHUP
			}
			close(sigs)
			var w strings.Builder
			cancelled, exited := false, false
			onSignals(sigs, func() { cancelled = true }, &f, &w, func(code int) {
				assert.Equal(t, exitInterrupted, code)
				exited = true
			})
			assert.True(t, cancelled)
			assert.Equal(t, tc.exit, exited)
			for _, want := range tc.want {
				assert.Contains(t, w.String(), want)
			}
		})
	}
}
