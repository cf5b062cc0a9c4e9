package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster/local"
	"github.com/zkchaos/zkchaos/nemesis"
)

func TestMalformedFilesNameFileLineAndField(t *testing.T) {
	cases := []struct {
		file string
		want string
	}{
		{"unknown-field.yaml", "testdata/unknown-field.yaml:4: field workload.workerz: unknown field"},
		{"wrong-type.yaml", `testdata/wrong-type.yaml:3: field cluster.nodes: must be a whole number, got "three"`},
		{"zero-keys.yaml", "testdata/zero-keys.yaml:4: field workload.keys: must be at least 1, got 0"},
		{"negative-rate.yaml", "testdata/negative-rate.yaml:3: field workload.rate: must not be negative"},
		{"bad-duration.yaml", `testdata/bad-duration.yaml:2: field time-limit: must be a duration such as "30s"`},
		{"unknown-fault.yaml", `testdata/unknown-fault.yaml:5: field nemesis.faults[1]: unknown fault "unplug-cable"`},
		{"fault-parameter.yaml", "testdata/fault-parameter.yaml:6: field nemesis.faults[0].grudge: does not apply to kill faults"},
		{"bad-grudge.yaml", `testdata/bad-grudge.yaml:5: field nemesis.faults[0].grudge: "triangle" is not one of`},
		{"bad-read-mode.yaml", `testdata/bad-read-mode.yaml:3: field workload.read-mode: "linearizable" is not one of: plain, sync, quorum`},
		{"not-yaml.yaml", "testdata/not-yaml.yaml:1: not valid YAML"},
		{"script-unbound.yaml", `testdata/script-unbound.yaml:6: field nemesis.script[1].kill: "B" is neither a node name`},
		{"script-bad-trigger.yaml", "testdata/script-bad-trigger.yaml:8: field nemesis.script[0].when.log[0]: not a regular expression"},
		{"script-and-faults.yaml", "testdata/script-and-faults.yaml:6: field nemesis.script: a scenario has either faults"},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", tc.file))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			var fe *FieldError
			assert.True(t, errors.As(err, &fe), "error should be a *FieldError: %v", err)
		})
	}
}

func TestEveryProblemIsReported(t *testing.T) {
	_, err := Parse("s.yaml", "s", []byte("workload:\n  keys: 0\n  workers: 0\n  rate: -1\n"))
	require.Error(t, err)
	for _, field := range []string{"workload.keys", "workload.workers", "workload.rate"} {
		assert.Contains(t, err.Error(), "field "+field+":")
	}
}

func TestDuplicateFieldIsAnError(t *testing.T) {
	assertRefused(t, []refusal{{"seed: 1\nseed: 2\n", "s.yaml:2: field seed: given twice (first on line 1)"}})
}

func TestDefaultsFillWhatIsLeftOut(t *testing.T) {
	s, err := Parse("min.yaml", "min", []byte("workload:\n  keys: 2\n"))
	require.NoError(t, err)
	assert.Equal(t, "min", s.Name)
	assert.Equal(t, int64(1), s.Seed)
	assert.Equal(t, 60*time.Second, s.TimeLimit)
	assert.Equal(t, 3, s.Cluster.Nodes)
	assert.Equal(t, "debian", localSection(t, s).Distribution)
	assert.True(t, localSection(t, s).ForceSync)
	assert.Equal(t, 2, s.Workload.Keys)
	assert.Equal(t, 10, s.Workload.Workers)
	assert.Equal(t, 100.0, s.Workload.Rate)
	assert.Equal(t, ReadQuorum, s.Workload.ReadMode)
	assert.Equal(t, Mix{Read: 2, Write: 1, CAS: 1}, s.Workload.Mix)
	assert.Empty(t, s.Nemesis.Faults)
}

func TestExplicitZeroIsKeptNotDefaulted(t *testing.T) {
	s, err := Parse("z.yaml", "z", []byte("workload:\n  rate: 0\ncluster:\n  force-sync: false\n"))
	require.NoError(t, err)
	assert.Equal(t, 0.0, s.Workload.Rate, "rate 0 means unlimited and must not become the default")
	assert.False(t, localSection(t, s).ForceSync)
}

// assertRoundTrips loads the scenario file, marshals it resolved, and
// checks that parsing that gives the same scenario; it returns the
// marshalled scenario.
func assertRoundTrips(t *testing.T, file string) []byte {
	t.Helper()
	s, err := Load(file)
	require.NoError(t, err)
	b, err := s.Marshal()
	require.NoError(t, err)
	again, err := Parse("resolved.yaml", "other", b)
	require.NoError(t, err, "%s", b)
	assert.Equal(t, s, again)
	return b
}

func TestResolvedScenarioRoundTrips(t *testing.T) {
	assertRoundTrips(t, "register-kill.yaml")
}

func TestShippedScenariosAreValid(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	controls, err := filepath.Glob("known-invalid/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, controls)
	files = append(files, controls...)
	for _, f := range files {
		_, err := Load(f)
		assert.NoError(t, err, f)
	}
}

// TestRegressionScenariosSayWhatTheyLookFor loads every regression
// scenario: each is a script with a triggered or timed path to its bug, and
// its header states the symptom and the checker that sees it.
func TestRegressionScenariosSayWhatTheyLookFor(t *testing.T) {
	files, err := filepath.Glob("regressions/ZOOKEEPER-*.yaml")
	require.NoError(t, err)
	require.Len(t, files, 8)
	for _, f := range files {
		s, err := Load(f)
		require.NoError(t, err, f)
		assert.Equal(t, strings.TrimSuffix(filepath.Base(f), ".yaml"), s.Name)
		assert.NotEmpty(t, s.Nemesis.Script, f)
		assert.Empty(t, s.Nemesis.Faults, f)
		assert.Regexp(t, `\(.*(checker|server-logs|set|convergence|recovery).*\)`, s.Description, "%s: the description names the checker", f)
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.Contains(t, string(b), "\n# Symptom: ", "%s states its symptom", f)
		assert.Contains(t, string(b), "fixed upstream in", f)
		again, err := s.Marshal()
		require.NoError(t, err)
		back, err := Parse("resolved.yaml", "other", again)
		require.NoError(t, err, "%s: the resolved scenario loads again", f)
		assert.Equal(t, s.Nemesis.Script, back.Nemesis.Script)
	}
}

func TestMissingFileIsAnError(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	require.Error(t, err)
	assert.True(t, errors.Is(err, os.ErrNotExist))
}

func TestFaultsTakeShorthandsAndParameters(t *testing.T) {
	s, err := Parse("f.yaml", "f", []byte(`
nemesis:
  schedule: random
  interval: 2s
  max-interval: 4s
  faults:
    - kill-leader
    - {name: partition, grudge: bridge, mode: hang}
    - name: clock
      clock: strobe
      delta: -20s
      period: 500ms
`))
	require.NoError(t, err)
	f := s.Nemesis.Faults
	require.Len(t, f, 3)
	assert.Equal(t, nemesis.Spec{Kind: "kill", Target: "leader"}, f[0])
	assert.Equal(t, nemesis.Spec{Kind: "partition", Grudge: "bridge", Mode: "hang"}, f[1])
	assert.Equal(t, -20*time.Second, f[2].Delta)
	assert.Equal(t, "one", f[2].Target, "defaults of the kind are filled in")
	assert.Equal(t, 2*time.Second, s.Nemesis.Warmup, "warm-up defaults to the interval")
	assert.Equal(t, 10*time.Second, s.Nemesis.MaxDuration)
}

func TestRandomScheduleBoundsMustBeOrdered(t *testing.T) {
	assertRefused(t, []refusal{{"nemesis:\n  schedule: random\n  interval: 5s\n  max-interval: 1s\n",
		"s.yaml:4: field nemesis.max-interval: must be at least interval"}})
}

func TestWorkloadParametersMustApply(t *testing.T) {
	assertRefused(t, []refusal{{"workload:\n  name: lock\n  read-mode: plain\n",
		"s.yaml:3: field workload.read-mode: does not apply to the lock workload"}})
	s, err := Parse("w.yaml", "w", []byte("workload:\n  name: lock\n  hold: 50ms\n"))
	require.NoError(t, err)
	assert.Equal(t, 50*time.Millisecond, s.Workload.Hold)
}

func TestDistributionNames(t *testing.T) {
	s, err := Parse("d.yaml", "d", []byte("cluster:\n  distribution: debian=3.8.0-11+deb12u1\n"))
	require.NoError(t, err)
	assert.Equal(t, "debian=3.8.0-11+deb12u1", localSection(t, s).Distribution)

	_, err = Parse("d.yaml", "d", []byte("seed: 2\ncluster:\n  distribution: debian=3.8.0/../x\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `d.yaml:3: field cluster.distribution: "debian=3.8.0/../x": VERSION must be a Debian package version`)

	_, err = Parse("d.yaml", "d", []byte("cluster:\n  distribution: \"\"\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `d.yaml:2: field cluster.distribution: the distribution is empty`)
}

func TestUpgradeAndRollbackInSequence(t *testing.T) {
	s, err := Parse("u.yaml", "u", []byte(`
cluster:
  distribution: debian=3.8.0-11+deb12u1
nemesis:
  schedule: sequence
  faults:
    - {name: upgrade, to: debian=3.8.0-11+deb12u2}
    - rollback
`))
	require.NoError(t, err)
	assert.Equal(t, ScheduleSequence, s.Nemesis.Schedule)
	assert.Equal(t, []nemesis.Spec{
		{Kind: "upgrade", To: "debian=3.8.0-11+deb12u2"},
		{Kind: "rollback", To: "debian=3.8.0-11+deb12u1"},
	}, s.Nemesis.Faults, "a rollback goes back to the cluster's distribution")

	s, err = Parse("u.yaml", "u", []byte("nemesis:\n  faults: [{name: rollback, to: /opt/zookeeper-3.8.4}]\n"))
	require.NoError(t, err)
	assert.Equal(t, "/opt/zookeeper-3.8.4", s.Nemesis.Faults[0].To, "an explicit one is kept")
}

func TestUpgradeParametersAreCheckedAtTheirLine(t *testing.T) {
	assertRefused(t, []refusal{
		{"nemesis:\n  faults:\n    - upgrade\n", "s.yaml:3: field nemesis.faults[0]: is required"},
		{"nemesis:\n  faults:\n    - name: upgrade\n      to: debian=latest\n",
			`s.yaml:4: field nemesis.faults[0].to: "debian=latest": VERSION must be a Debian package version`},
		{"nemesis:\n  faults:\n    - name: upgrade\n      to: debian\n      target: leader\n",
			"s.yaml:5: field nemesis.faults[0].target: does not apply to upgrade faults (it takes: to)"},
		{"nemesis:\n  schedule: ordered\n", `s.yaml:2: field nemesis.schedule: "ordered" is not one of: interval, random, sequence`},
	})
}

func TestRollingUpgradeRoundTrips(t *testing.T) {
	b := assertRoundTrips(t, "rolling-upgrade.yaml")
	assert.Contains(t, string(b), "to: debian=3.8.0-11+deb12u1", "the rollback's target is spelled out")
}

func TestJVMFlags(t *testing.T) {
	s, err := Parse("j.yaml", "j", []byte("seed: 2\n"))
	require.NoError(t, err)
	assert.Equal(t, local.DefaultJVMFlags(), localSection(t, s).JVMFlags, "the default is spelled out")

	s, err = Parse("j.yaml", "j", []byte("cluster:\n  jvm-flags: [-Xmx512m, -XX:+UseParallelGC]\n"))
	require.NoError(t, err)
	assert.Equal(t, []string{"-Xmx512m", "-XX:+UseParallelGC"}, localSection(t, s).JVMFlags)

	_, err = Parse("j.yaml", "j", []byte("seed: 2\ncluster:\n  jvm-flags: [Xmx512m]\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `j.yaml:3: field cluster.jvm-flags: each flag must start with - and carry no surrounding spaces, got "Xmx512m"`)
}

// localSection is the local backend's settings of a scenario.
func localSection(t *testing.T, s *Scenario) *local.Section {
	t.Helper()
	sec, ok := s.Cluster.Section.(*local.Section)
	require.True(t, ok, "a local scenario has local settings, got %T", s.Cluster.Section)
	return sec
}
