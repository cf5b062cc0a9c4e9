package fault

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/history"
)

func TestEveryKindHasOneEntryWithActionsAndACapability(t *testing.T) {
	seen := map[Kind]bool{}
	for _, info := range Table {
		assert.False(t, seen[info.Kind], "%s listed twice", info.Kind)
		seen[info.Kind] = true
		assert.NotEmpty(t, info.Action, info.Kind)
		assert.True(t, IsHeal(info.Heal), "%s heals with %q", info.Kind, info.Heal)
		assert.NotEmpty(t, info.Needs, info.Kind)
		assert.NotEmpty(t, info.Params, info.Kind)
		got, ok := Of(info.Kind)
		assert.True(t, ok)
		assert.Equal(t, info, got)
	}
	for _, k := range []Kind{Kill, Pause, Partition, Clients, Link, Clock, Upgrade, Rollback, Reconfig, PowerLoss} {
		assert.True(t, seen[k], "%s is missing from the table", k)
	}
	assert.Len(t, Kinds(), len(Table))
	_, ok := Of("flood")
	assert.False(t, ok)
}

func TestActionsRoundTrip(t *testing.T) {
	for _, info := range Table {
		k, ok := ByAction(info.Action)
		assert.True(t, ok, info.Action)
		assert.Equal(t, info.Kind, k, "the inject action %q names its kind", info.Action)
		assert.Equal(t, info.Kind, OfAction(info.Action))
		for _, alias := range info.Aliases {
			assert.Equal(t, info.Kind, OfAction(alias), alias)
		}
		assert.Equal(t, info.Kind, OfLabel(string(info.Kind)+" leader"), "a label starts with its kind")
		_, ok = ByAction(info.Heal)
		assert.False(t, ok, "the heal action %q injects nothing", info.Heal)
		assert.True(t, ends(info.Heal, info.Action) != info.EndsItself(),
			"%s: %q ends it unless it ends itself", info.Kind, info.Heal)
	}
}

func TestTheRecordsActionsAreTheOnesHistoriesHold(t *testing.T) {
	for action, kind := range map[string]Kind{
		"kill": Kill, "pause": Pause, "partition": Partition, "isolate-clients": Clients,
		"shape-links": Link, "clock": Clock, history.FUpgrade: Upgrade, history.FRollback: Rollback,
		"kill-leader": Kill, "crash": Kill, "isolate": Clients, "shape": Link, "reconfig": Reconfig, "power-loss": PowerLoss,
	} {
		assert.Equal(t, kind, OfAction(action), action)
	}
	assert.Equal(t, Kind("flood"), OfAction("flood-all"), "an unknown action keeps its first word")
	assert.Equal(t, Kind("heal"), OfLabel("heal-all"))
	assert.Equal(t, PowerLoss, OfLabel("power-loss majority"), "a kind's name may hold a dash")
	for _, info := range Table {
		assert.Equal(t, history.EndsItself(info.Action), info.EndsItself(), info.Kind)
	}
}

func TestKindsNeedTheCapabilityOfTheirMethods(t *testing.T) {
	needs := cluster.Capabilities{}
	for _, info := range Table {
		needs[info.Needs] = true
	}
	assert.True(t, needs.Links())
	assert.True(t, needs.Clocks())
	rollback, _ := Of(Rollback)
	assert.Equal(t, cluster.CapUpgrade, rollback.Needs)
	reconfig, _ := Of(Reconfig)
	assert.Equal(t, cluster.CapReconfig, reconfig.Needs)
	assert.Equal(t, Heal, reconfig.Heal, "healing a reconfig restores the membership")
	assert.True(t, needs[cluster.CapUpgrade])
	assert.True(t, needs[cluster.CapDisk])
}
