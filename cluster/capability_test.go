package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// bare is a cluster with no fault methods that can do whatever it is asked,
// or nothing at all when refuse is set.
type bare struct{ refuse error }

func (bare) Nodes() []Node                         { return nil }
func (bare) Roles(context.Context) map[string]Role { return nil }
func (bare) WaitHealthy(context.Context, time.Duration) (time.Duration, error) {
	return 0, nil
}
func (bare) Close(context.Context) error      { return nil }
func (b bare) Can(Capability) error           { return b.refuse }
func (bare) Kill(context.Context, Node) error { return nil }

// killer has the methods of CapKill.
type killer struct{ bare }

func (killer) Start(context.Context, Node) error { return nil }
func (killer) Running(Node) bool                 { return true }

func TestCheckSaysWhyNot(t *testing.T) {
	assert.NoError(t, Supports(killer{}, CapKill))
	assert.EqualError(t, Supports(bare{}, CapKill), "this cluster backend cannot kill nodes", "no Killer methods")
	assert.EqualError(t, Supports(killer{}, CapPause), "this cluster backend cannot pause nodes")
	for _, c := range []Capability{CapPartition, CapClients, CapLink} {
		assert.EqualError(t, Supports(killer{}, c), "this cluster backend cannot partition the network", c)
	}
	assert.EqualError(t, Supports(killer{}, CapClockRate), "this cluster backend cannot move clocks")
	assert.EqualError(t, Supports(killer{}, CapUpgrade), "this cluster backend cannot restart nodes on another distribution")
	assert.EqualError(t, Supports(killer{}, CapFollowLog), "this cluster cannot follow servers' logs, which a log trigger needs")
	assert.EqualError(t, Supports(killer{}, CapDisk), "this cluster backend cannot inject disk faults")
	refused := errors.New("not in this setting")
	assert.Equal(t, refused, Supports(killer{bare{refuse: refused}}, CapKill), "the backend's own reason comes first")
}

func TestCapabilitiesGroupWhatABackendPreparesFor(t *testing.T) {
	assert.False(t, Capabilities{CapKill: true, CapPause: true}.Links())
	assert.True(t, Capabilities{CapClients: true}.Links())
	assert.True(t, Capabilities{CapLink: true}.Links())
	assert.False(t, Capabilities{CapPartition: true}.Clocks())
	assert.True(t, Capabilities{CapClockRate: true}.Clocks())
}
