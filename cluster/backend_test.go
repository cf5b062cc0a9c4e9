package cluster

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeBackend is a backend that does nothing, for the registry's tests.
type fakeBackend struct{ name string }

func (f fakeBackend) Name() string                                       { return f.name }
func (fakeBackend) NewSection() Section                                  { return nil }
func (fakeBackend) DefaultStartTimeout() time.Duration                   { return time.Second }
func (fakeBackend) Prepare(context.Context, Spec) (string, error)        { return "", nil }
func (fakeBackend) Start(context.Context, Spec) (Cluster, error)         { return nil, nil }
func (fakeBackend) Distribution(context.Context, string) (string, error) { return "", nil }
func (fakeBackend) Heal(context.Context, HealRequest, io.Writer) (int, error) {
	return 0, nil
}

func TestRegistryFindsBackendsByNameInOrder(t *testing.T) {
	Register(fakeBackend{"zeta-test"})
	Register(fakeBackend{"alpha-test"})
	b, err := Lookup("zeta-test")
	require.NoError(t, err)
	assert.Equal(t, "zeta-test", b.Name())
	names := BackendNames()
	assert.IsIncreasing(t, names)
	assert.Contains(t, names, "alpha-test")

	_, err = Lookup("nomad")
	assert.EqualError(t, err, `backend "nomad" is not one of: `+strings.Join(names, ", "))
	assert.Panics(t, func() { Register(fakeBackend{"alpha-test"}) }, "a name registered twice")
}

func TestBadSettingKeepsTheMessage(t *testing.T) {
	err := BadSetting(context.Canceled)
	assert.EqualError(t, err, context.Canceled.Error())
	assert.True(t, errors.Is(err, ErrBadSetting))
	assert.True(t, errors.Is(err, context.Canceled))
}
