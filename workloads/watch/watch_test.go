package watch_test

import (
	"context"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	watchcheck "github.com/zkchaos/zkchaos/checker/watch"
	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/local/localtest"
	"github.com/zkchaos/zkchaos/harness"
	"github.com/zkchaos/zkchaos/harness/harnesstest"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/runtest"
	"github.com/zkchaos/zkchaos/scenarios"
	"github.com/zkchaos/zkchaos/workloads"
	"github.com/zkchaos/zkchaos/workloads/watch"
)

func TestEventNamesAreGoZookeepers(t *testing.T) {
	// The checker cannot import the client library; the names must agree.
	assert.Equal(t, zk.EventNodeDataChanged.String(), watchcheck.EventDataChanged)
	assert.Equal(t, zk.EventNotWatching.String(), watchcheck.EventNotWatching)
}

func TestRolesAlternateSoBothReachEveryNode(t *testing.T) {
	nodes := 3
	reach := map[bool]map[int]bool{true: {}, false: {}}
	for i := 0; i < 2*nodes; i++ {
		reach[watch.IsWatcher(i)][i%nodes] = true
	}
	assert.Len(t, reach[true], nodes)
	assert.Len(t, reach[false], nodes)
}

func TestImpossibleConfigurationsAreErrors(t *testing.T) {
	env := workloads.Env{Nodes: []cluster.Node{{Name: "n1", ClientAddr: "127.0.0.1:1"}}, Workers: 4}
	ctx := context.Background()
	err := watch.New(watch.Config{Keys: 0}).Setup(ctx, env)
	assert.ErrorContains(t, err, "keys must be at least 1")
	one := env
	one.Workers = 1
	err = watch.New(watch.Config{Keys: 2}).Run(ctx, one, nil)
	assert.ErrorContains(t, err, "at least 2 workers")
	none := env
	none.Nodes = nil
	err = watch.New(watch.Config{Keys: 2}).FinalReads(ctx, none, nil, 100)
	assert.ErrorContains(t, err, "no nodes")
}

func TestWatchesFireOnceAndBeforeTheirDataUnderLeaderKills(t *testing.T) {
	localtest.RequireZooKeeper(t)
	s, err := scenarios.Parse("watch-test.yaml", "watch-test", []byte(`
seed: 3
time-limit: 15s
recovery: 2s
workload:
  name: watch
  keys: 3
  workers: 6
  rate: 150
  op-timeout: 4s
  session-timeout: 6s
nemesis:
  faults: [kill-leader]
  interval: 4s
  duration: 3s
`))
	require.NoError(t, err)

	out := harnesstest.Run(t, harness.Options{Scenario: s, Workload: watch.New(watch.Config{Keys: s.Workload.Keys})})
	res := out.Results
	runtest.RequireWorkloadValid(t, res.Check, "watch")

	d, ok := runtest.Find(t, res.Check, "watches").Details.(watchcheck.Details)
	require.True(t, ok)
	t.Logf("ops: %v; watch: %s", res.Counts, runtest.Find(t, res.Check, "watches").Message)
	assert.GreaterOrEqual(t, res.Counts[history.Write][history.OK], 200, "writes must succeed")
	assert.GreaterOrEqual(t, d.EventsChecked, 100, "events must be delivered and checked")
	assert.GreaterOrEqual(t, d.ReadsWhileArmed, 50, "reads while armed must be checked")
	assert.GreaterOrEqual(t, d.ReadsAfterEvent, 100, "re-arms after events must be checked")

	// The leader was really killed, and some watcher lost its connection
	// with it: the checker saw that and did not count on those sessions.
	assert.GreaterOrEqual(t, runtest.Faults(runtest.Ops(t, out.Dir))["kill"], 2)
	assert.GreaterOrEqual(t, d.LostSessions, 1, "a watcher pinned to a killed leader loses its connection")
}
