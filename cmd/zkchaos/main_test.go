package main

import (
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

	"github.com/zkchaos/zkchaos/cluster/k8s/k8stest"
	"github.com/zkchaos/zkchaos/cluster/local/localtest"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/reports"
)

// binary is the zkchaos executable built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zkchaos-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "zkchaos")
	// With the race detector, as scripts/test.sh runs it: go-zookeeper's
	// own benign race (go-zookeeper/zk#35) is left out.
	build := exec.Command("go", "build", "-race", "-gcflags=github.com/go-zookeeper/zk=-race=false", "-o", binary, ".")
	if out, err := build.CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	k8stest.StopShared()
	os.RemoveAll(dir)
	os.Exit(code)
}

// zkchaos runs the binary and returns its exit code, stdout and stderr.
func zkchaos(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	require.NoError(t, err)
	return 0, stdout.String(), stderr.String()
}

func TestValidateAcceptsShippedScenarios(t *testing.T) {
	files, err := filepath.Glob("../../scenarios/*.yaml")
	require.NoError(t, err)
	regressions, err := filepath.Glob("../../scenarios/regressions/*.yaml")
	require.NoError(t, err)
	require.Len(t, regressions, 8)
	controls, err := filepath.Glob("../../scenarios/known-invalid/*.yaml")
	require.NoError(t, err)
	require.Len(t, controls, 3)
	files = append(append(files, regressions...), controls...)
	code, out, stderr := zkchaos(t, append([]string{"validate"}, files...)...)
	assert.Equal(t, exitValid, code, stderr)
	assert.Contains(t, out, "register-kill.yaml: ok")
	assert.Contains(t, out, "ZOOKEEPER-4785.yaml: ok")
	assert.Contains(t, out, "set-wipe-corrupt-snapshot.yaml: ok")
}

func TestValidateNamesFileLineAndField(t *testing.T) {
	code, _, stderr := zkchaos(t, "validate", "../../scenarios/testdata/zero-keys.yaml", "../../scenarios/testdata/unknown-field.yaml")
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, stderr, "zero-keys.yaml:4: field workload.keys: must be at least 1, got 0")
	assert.Contains(t, stderr, "unknown-field.yaml:4: field workload.workerz: unknown field")
}

func TestRunWithBadScenarioIsBadInputAndStartsNothing(t *testing.T) {
	out := t.TempDir()
	code, _, stderr := zkchaos(t, "run", "../../scenarios/testdata/negative-rate.yaml", "--out", out)
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, stderr, "field workload.rate")
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	assert.Empty(t, entries, "no run directory for a scenario that does not validate")

	code, _, _ = zkchaos(t, "run")
	assert.Equal(t, exitBadInput, code, "a missing argument is bad input")
	code, _, _ = zkchaos(t, "run", "../../scenarios/smoke.yaml", "--time-limit", "soon")
	assert.Equal(t, exitBadInput, code, "a malformed flag is bad input")
	code, _, stderr = zkchaos(t, "run", "../../scenarios/smoke.yaml", "--rate", "-5", "--out", out)
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, stderr, "--rate: field workload.rate: must not be negative")
	code, _, stderr = zkchaos(t, "run", "../../scenarios/smoke.yaml", "--budget", "-1s", "--out", out)
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, stderr, "--budget must not be negative")
}

func TestCheckJudgesAStoredHistoryOffline(t *testing.T) {
	dir := copyInvalidRun(t)
	junit := filepath.Join(t.TempDir(), "junit.xml")
	code, out, stderr := zkchaos(t, "check", dir, "--junit", junit)
	assert.Equal(t, exitInvalid, code, stderr)
	assert.Contains(t, out, "verdict: INVALID")
	xmlText, err := os.ReadFile(junit)
	require.NoError(t, err)
	assert.Contains(t, string(xmlText), `name="register/linearizable"`)
	assert.Contains(t, string(xmlText), `<failure message=`)
	res, err := reports.ReadResults(dir)
	require.NoError(t, err)
	assert.Equal(t, "invalid", string(res.Verdict))
	assert.FileExists(t, filepath.Join(dir, reports.ReportFile))

	code, _, _ = zkchaos(t, "check", filepath.Join(dir, "nope"))
	assert.Equal(t, exitBadInput, code)
}

func TestHealStopsServersAHungHarnessLeftRunning(t *testing.T) {
	t.Parallel() // beside the other tests that start ensembles, two at a time
	localtest.RequireZooKeeper(t)
	out := t.TempDir()
	cmd := exec.Command(binary, "run", "../../scenarios/smoke.yaml", "--time-limit", "3m", "--out", out)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	latest := filepath.Join(out, "smoke", reports.LatestLink)
	require.Eventually(t, func() bool {
		st, err := os.Stat(filepath.Join(latest, history.FileName))
		return err == nil && st.Size() > 5_000
	}, 2*time.Minute, 100*time.Millisecond, "the run should record operations: %s", &stderr)
	runDir, err := filepath.EvalSymlinks(latest)
	require.NoError(t, err)

	// A harness that hangs (here: stopped) keeps its servers alive; a
	// harness that dies takes them with it.
	require.NoError(t, cmd.Process.Signal(syscall.SIGSTOP))
	require.Len(t, localtest.Servers(t, runDir), 3)

	code, stdout, stderrHeal := zkchaos(t, "heal", "--out", out)
	assert.Equal(t, exitValid, code, stderrHeal)
	assert.Contains(t, stdout, "stopped 3 server(s)")
	assert.Empty(t, localtest.Servers(t, runDir))

	code, stdout, _ = zkchaos(t, "heal", runDir)
	assert.Equal(t, exitValid, code)
	assert.Contains(t, stdout, "nothing left behind")
}

func TestExportedHistoryIsJudgedTheSameAsJepsenEDN(t *testing.T) {
	dir := copyInvalidRun(t)
	code, out, stderr := zkchaos(t, "export", "--edn", dir)
	require.Equal(t, exitValid, code, stderr)
	ednPath := strings.TrimSpace(out)
	assert.Equal(t, filepath.Join(dir, "history.edn"), ednPath)

	// The stale read is just as visible to the value model of Jepsen's
	// cas-register as to zkchaos's own checker.
	code, out, _ = zkchaos(t, "check", "--edn", ednPath, "--model", "cas-register")
	assert.Equal(t, exitInvalid, code, out)
	assert.Contains(t, out, "not linearizable")

	code, _, stderr = zkchaos(t, "check", "--edn", ednPath, "--model", "queue")
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, stderr, `unknown model "queue"`)
}

func TestCheckEDNExplainsAndRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	stale := write("stale.edn", `{:process 0, :type :invoke, :f :write, :value 1}
{:process 0, :type :ok, :f :write, :value 1}
{:process 1, :type :invoke, :f :cas, :value [1 2]}
{:process 2, :type :invoke, :f :read, :value nil}
{:process 1, :type :ok, :f :cas, :value [1 2]}
{:process 2, :type :ok, :f :read, :value 1}
{:process 3, :type :invoke, :f :read, :value nil}
{:process 3, :type :ok, :f :read, :value 1}
`)
	out := filepath.Join(dir, "out")
	code, stdout, stderr := zkchaos(t, "check", "--edn", stale, "--out", out)
	require.Equal(t, exitInvalid, code, stderr)
	assert.Contains(t, stdout, "process 3: read 1 (records 7-8), but 1 was overwritten before the read began")
	assert.FileExists(t, filepath.Join(out, "results.json"))
	assert.Contains(t, stdout, "visualization: "+filepath.Join(out, "linearizability-1.html"))
	assert.FileExists(t, filepath.Join(out, "linearizability-1.html"))

	zeroes := write("zeroes.edn", "{:process 0, :type :invoke, :f :read}\n{:process 0, :type :ok, :f :read, :value 0}\n")
	code, stdout, _ = zkchaos(t, "check", "--edn", zeroes)
	assert.Equal(t, exitInvalid, code, "the register starts at nil: nothing wrote 0\n%s", stdout)
	code, stdout, _ = zkchaos(t, "check", "--edn", zeroes, "--initial", "0")
	assert.Equal(t, exitValid, code, stdout)
	assert.Contains(t, stdout, "exercised little")

	for name, tc := range map[string]struct{ text, want string }{
		"nesting":          {"{:process 0, :type :invoke, :f :read, :error " + strings.Repeat("[", 1_000_000), "line 1: the record starting on line 1 nests deeper than 64 levels"},
		"completion first": {"{:process 0, :type :invoke, :f :read}\n{:process 5, :type :ok, :f :read, :value 1}", "line 2 (record 2): :ok completion of :read by process 5, which has no operation in flight"},
		"time backwards":   {"{:process 0, :type :invoke, :f :read, :time 10}\n{:process 0, :type :ok, :f :read, :value 1, :time 3}", "line 2 (record 2): :time 3 of process 0 is earlier"},
		"model":            {"{:process 0, :type :invoke, :f :cas, :value [1 2]}\n{:process 0, :type :ok, :f :cas, :value [1 2]}", "record 1 (line 1): a cas, which the register model does not have"},
		"model later": {"{:process 0, :type :invoke, :f :write, :value 1}\n\n{:process 0, :type :ok, :f :write, :value 1}\n{:process 1, :type :invoke, :f :cas, :value [1 2]}\n{:process 1, :type :ok, :f :cas, :value [1 2]}",
			"record 3 (line 4): a cas, which the register model does not have"},
		"garbage": {"\x00\x01\x02", "line 1"},
	} {
		t.Run(name, func(t *testing.T) {
			args := []string{"check", "--edn", write(name+".edn", tc.text)}
			if strings.HasPrefix(name, "model") {
				args = append(args, "--model", "register")
			}
			code, _, stderr := zkchaos(t, args...)
			assert.Equal(t, exitBadInput, code, stderr)
			assert.Contains(t, stderr, tc.want)
			assert.Less(t, len(stderr), 1000, "the error quotes a short excerpt")
		})
	}
	code, _, stderr = zkchaos(t, "check", "--edn", zeroes, "--initial", "zero")
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, stderr, `--initial must be an integer or nil, got "zero"`)
	code, _, stderr = zkchaos(t, "check", "--initial", "0", dir)
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, stderr, "--initial applies to --edn only")
}

func TestRunsRepeatWithSuccessiveSeedsAndWriteJUnit(t *testing.T) {
	t.Parallel() // beside the other tests that start ensembles, two at a time
	localtest.RequireZooKeeper(t)
	out := t.TempDir()
	junit := filepath.Join(out, "junit.xml")
	code, stdout, stderr := zkchaos(t, "run", "../../scenarios/smoke.yaml", "--time-limit", "2s", "--runs", "2", "--seed", "40", "--junit", junit, "--out", out)
	assert.Equal(t, exitValid, code, stderr)
	assert.Equal(t, 2, strings.Count(stdout, "verdict: VALID"))
	b, err := os.ReadFile(junit)
	require.NoError(t, err)
	assert.Contains(t, string(b), `name="smoke seed 40"`)
	assert.Contains(t, string(b), `name="smoke seed 41"`)
	assert.NotContains(t, string(b), "<failure")

	code, _, _ = zkchaos(t, "run", "../../scenarios/smoke.yaml", "--runs", "0")
	assert.Equal(t, exitBadInput, code)
}
