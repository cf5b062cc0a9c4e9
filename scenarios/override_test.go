package scenarios

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster/k8s"
	"github.com/zkchaos/zkchaos/nemesis"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

func TestOverridesSetFieldsAsTheFileWould(t *testing.T) {
	s, err := Load("register-kill.yaml",
		Override{Source: "--rate", Path: "workload.rate", Value: "50"},
		Override{Source: "--time-limit", Path: "time-limit", Value: "7s"},
		Override{Source: "--seed", Path: "seed", Value: "42"})
	require.NoError(t, err)
	assert.Equal(t, 50.0, s.Workload.Rate)
	assert.Equal(t, 7*time.Second, s.TimeLimit)
	assert.Equal(t, int64(42), s.Seed)

	plain, err := Load("register-kill.yaml")
	require.NoError(t, err)
	plain.Workload.Rate, plain.TimeLimit, plain.Seed = 50, 7*time.Second, 42
	want, err := plain.Marshal()
	require.NoError(t, err)
	got, err := s.Marshal()
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "nothing but the overridden fields differs")
}

// TestOverridesComeBeforeDefaults: a default derived from an overridden
// field follows the override, as it would follow the file.
func TestOverridesComeBeforeDefaults(t *testing.T) {
	s, err := Load("rolling-upgrade.yaml", Override{Source: "--a", Path: "cluster.distribution", Value: "debian"})
	require.NoError(t, err)
	assert.Equal(t, "debian", s.Cluster.Section.DistributionName())
	var rollback nemesis.Spec
	for _, f := range s.Nemesis.Faults {
		if f.Kind == fault.Rollback {
			rollback = f
		}
	}
	require.Equal(t, fault.Rollback, rollback.Kind)
	assert.Equal(t, "debian", rollback.To, "a rollback goes back to the distribution the run starts on")
}

// TestOverridesAddMissingSections: an override may set a field of a
// section the file leaves out.
func TestOverridesAddMissingSections(t *testing.T) {
	s, err := Parse("k.yaml", "k", []byte("cluster:\n  backend: kubernetes\n"),
		Override{Source: "--kubeconfig", Path: "cluster.kubernetes.kubeconfig", Value: "/tmp/kc"})
	require.NoError(t, err)
	assert.Equal(t, "/tmp/kc", s.Cluster.Section.(*k8s.Section).Kubernetes.Kubeconfig)
	assert.Equal(t, 2181, s.Cluster.Section.(*k8s.Section).Kubernetes.ClientPort, "the rest of the section has its defaults")
}

// TestOverrideErrorsNameTheirSource: a value out of bounds, of the wrong
// type or for the wrong backend is refused with the override's source in
// place of file and line.
func TestOverrideErrorsNameTheirSource(t *testing.T) {
	for _, tc := range []struct {
		o    Override
		want string
	}{
		{Override{"--rate", "workload.rate", "-5"}, "--rate: field workload.rate: must not be negative"},
		{Override{"--rate", "workload.rate", "NaN"}, `--rate: field workload.rate: must be a number, got "NaN"`},
		{Override{"--rate", "workload.rate", ".nan"}, "--rate: field workload.rate: must be a finite number, got NaN"},
		{Override{"--time-limit", "time-limit", "soon"}, `--time-limit: field time-limit: must be a duration such as "30s" or "1m30s", got "soon"`},
		{Override{"--time-limit", "time-limit", "-1s"}, "--time-limit: field time-limit: must be positive, got -1s"},
		{Override{"--seed", "seed", ""}, "--seed: field seed: has no value"},
		{Override{"--x", "workload.name.deeper", "1"}, "--x: field workload.name.deeper: cannot be set: field workload.name is not a mapping of fields"},
		{Override{"--x", "workload.nope", "1"}, "--x: field workload.nope: unknown field"},
		{Override{"--kubeconfig", "cluster.kubernetes.kubeconfig", "/tmp/kc"}, "--kubeconfig: field cluster.kubernetes"},
	} {
		_, err := Load("register-kill.yaml", tc.o)
		require.Error(t, err, "%v", tc.o)
		assert.Contains(t, err.Error(), tc.want, "%v", tc.o)
		var fe *FieldError
		require.True(t, errors.As(err, &fe), "%v: %T", tc.o, err)
		assert.Zero(t, fe.Line, "an override has no line")
	}
}
