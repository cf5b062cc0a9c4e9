package local

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/zkadmin"
)

func TestServerLineAndDynamicFile(t *testing.T) {
	p := peer{id: 4, clientPort: 21010, quorumPort: 21011, electPort: 21012}
	assert.Equal(t, "server.4=127.0.0.1:21011:21012:observer;127.0.0.1:21010", p.serverLine(observer))
	got := renderDynamic(initialLines([]peer{{id: 1, clientPort: 1, quorumPort: 2, electPort: 3}, p}))
	assert.Equal(t, "server.1=127.0.0.1:2:3:participant;127.0.0.1:1\n"+
		"server.4=127.0.0.1:21011:21012:participant;127.0.0.1:21010\n", got)

	c, err := Config{Dir: "/run", Reconfig: true, Spares: 2}.withDefaults()
	require.NoError(t, err)
	cfg := renderZooCfg(c, p, "/run/nodes/n4/data", []peer{p})
	assert.Contains(t, cfg, "reconfigEnabled=true\n")
	assert.Contains(t, cfg, "dynamicConfigFile=/run/nodes/n4/zoo.cfg.dynamic\n")
	assert.NotContains(t, cfg, "server.", "the ensemble lives in the dynamic file")

	_, err = Config{Dir: "/run", Spares: 2}.withDefaults()
	assert.Error(t, err, "spares need Reconfig")
}

func TestParseConfig(t *testing.T) {
	names := map[int]string{1: "n1", 2: "n2", 3: "n3", 4: "n4"}
	m, err := parseConfig("server.1=127.0.0.1:2:3:participant;127.0.0.1:1\n"+
		"server.3=127.0.0.1:8:9:observer;127.0.0.1:7\nserver.2=127.0.0.1:5:6;127.0.0.1:4\nversion=10000000a", names)
	require.NoError(t, err)
	assert.Equal(t, cluster.Membership{Version: "10000000a", Voters: []string{"n1", "n2"}, Observers: []string{"n3"}}, m)
	assert.True(t, m.Has("n3"))
	assert.False(t, m.Has("n4"))
	assert.Equal(t, "voters n1,n2 observers n3", m.String())

	_, err = parseConfig("server.9=127.0.0.1:2:3;127.0.0.1:1\nversion=1", names)
	assert.ErrorContains(t, err, "names no server")
	_, err = parseConfig("server.1=127.0.0.1:2:3;127.0.0.1:1", names)
	assert.ErrorContains(t, err, "no version")
}

func TestChangeOf(t *testing.T) {
	cur := cluster.Membership{Voters: []string{"n1", "n2", "n3"}}
	join, leave := changeOf(cur, cluster.Membership{Voters: []string{"n1", "n2"}, Observers: []string{"n3"}})
	assert.Equal(t, map[string]string{"n3": observer}, join)
	assert.Empty(t, leave)

	join, leave = changeOf(cur, cluster.Membership{Voters: []string{"n1", "n3", "n4", "n5"}})
	assert.Equal(t, map[string]string{"n4": participant, "n5": participant}, join)
	assert.Equal(t, []string{"n2"}, leave)

	join, leave = changeOf(cluster.Membership{Voters: []string{"n1", "n2"}, Observers: []string{"n3"}}, cur)
	assert.Equal(t, map[string]string{"n3": participant}, join)
	assert.Empty(t, leave)
}

// TestReconfigWalksThroughEveryMembershipChange changes the membership of
// one real ensemble, with link proxies, through every change the reconfig
// fault makes: remove the leader and add it back, turn a voter into an
// observer and back, grow to five voters (and isolate an initial member
// from the other four meanwhile) and shrink back to three. After each it
// checks /zookeeper/config and what the servers say of themselves.
func TestMarkRemovedTellsJoiningSparesFromRemovedNodes(t *testing.T) {
	e := &Ensemble{reconf: &reconf{
		current: cluster.Membership{Version: "100000003", Voters: []string{"n1", "n2", "n3"}},
		joining: map[string]bool{"n4": true},
	}}
	roles := map[string]cluster.Role{"n1": cluster.Leader, "n2": cluster.Follower, "n3": cluster.Follower,
		"n4": cluster.Follower, "n5": cluster.Follower}
	e.markRemoved(roles)
	assert.Equal(t, map[string]cluster.Role{"n1": cluster.Leader, "n2": cluster.Follower, "n3": cluster.Follower,
		"n4": cluster.Joining, "n5": cluster.Removed}, roles)

	e.reconf.current = cluster.Membership{}
	roles = map[string]cluster.Role{"n4": cluster.Follower}
	e.markRemoved(roles)
	assert.Equal(t, cluster.Follower, roles["n4"], "before the configuration is read, the initial membership holds")
}

func TestReconfigWalksThroughEveryMembershipChange(t *testing.T) {
	t.Parallel() // waits out timeouts; see waitTimeout
	cfg := testConfig(t, 3)
	cfg.Reconfig, cfg.Spares, cfg.Partitions = true, 2, true
	e := startTestEnsemble(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	require.NoError(t, e.Can(cluster.CapReconfig))
	require.Len(t, e.Nodes(), 3)
	require.Len(t, e.Spares(), 2)

	initial := e.Initial()
	m, err := e.Membership(ctx)
	require.NoError(t, err)
	require.True(t, m.Same(initial), "started as %s", m)
	versions := []string{m.Version}

	// set changes the membership and checks the configuration in force.
	set := func(want cluster.Membership) {
		t.Helper()
		got, err := e.SetMembership(ctx, want)
		require.NoError(t, err)
		require.True(t, got.Same(want), "want %s, got %s", want, got)
		read, err := e.Membership(ctx)
		require.NoError(t, err)
		require.True(t, read.Same(want), "/zookeeper/config says %s", read)
		assert.NotContains(t, versions, read.Version, "every change makes a new version")
		versions = append(versions, read.Version)
	}
	// roles waits until the servers' roles satisfy ok.
	roles := func(what string, ok func(map[string]cluster.Role) bool) map[string]cluster.Role {
		t.Helper()
		var r map[string]cluster.Role
		require.Eventually(t, func() bool { r = e.Roles(ctx); return ok(r) }, time.Minute, 200*time.Millisecond,
			"%s: roles %v", what, r)
		return r
	}
	serving := func(r map[string]cluster.Role, names ...string) bool {
		for _, n := range names {
			if r[n] != cluster.Leader && r[n] != cluster.Follower {
				return false
			}
		}
		return cluster.LeaderOf(r) != ""
	}

	leader, others := splitByLeader(t, e)
	set(cluster.Membership{Voters: []string{others[0].Name, others[1].Name}})
	roles("leader removed", func(r map[string]cluster.Role) bool {
		return r[leader.Name] == cluster.Removed && serving(r, others[0].Name, others[1].Name)
	})

	set(initial)
	_, err = e.WaitHealthy(ctx, time.Minute)
	require.NoError(t, err, "the removed leader rejoins as a voter")

	obs := others[0].Name
	var voters []string
	for _, n := range initial.Voters {
		if n != obs {
			voters = append(voters, n)
		}
	}
	set(cluster.Membership{Voters: voters, Observers: []string{obs}})
	roles("voter turned observer", func(r map[string]cluster.Role) bool {
		return r[obs] == cluster.Observer && serving(r, voters...)
	})
	reply, err := zkadmin.FourLetter(ctx, others[0].ClientAddr, "srvr")
	require.NoError(t, err)
	assert.Contains(t, reply, "Mode: observer")

	set(initial)
	_, err = e.WaitHealthy(ctx, time.Minute)
	require.NoError(t, err, "the observer votes again")

	five := cluster.Membership{Voters: []string{"n1", "n2", "n3", "n4", "n5"}}
	set(five)
	roles("grown to five", func(r map[string]cluster.Role) bool { return serving(r, five.Voters...) })
	// The spares' peer links pass their proxies too: cut off from all four
	// others, n1 stops serving while they go on, and rejoins once healed.
	require.NoError(t, e.Partition(ctx, cluster.Grudge{"n1": {"n2", "n3", "n4", "n5"},
		"n2": {"n1"}, "n3": {"n1"}, "n4": {"n1"}, "n5": {"n1"}}, cluster.LinkReset))
	roles("n1 isolated from four voters", func(r map[string]cluster.Role) bool {
		return r["n1"] == cluster.Down && serving(r, "n2", "n3", "n4", "n5")
	})
	require.NoError(t, e.HealLinks(ctx))
	roles("n1 back", func(r map[string]cluster.Role) bool { return serving(r, five.Voters...) })

	set(initial)
	r := roles("shrunk to three", func(r map[string]cluster.Role) bool {
		_, n4 := r["n4"]
		_, n5 := r["n5"]
		return !n4 && !n5 && serving(r, initial.Voters...)
	})
	assert.Len(t, r, 3)
	assert.False(t, e.Running(e.Spares()[0]) || e.Running(e.Spares()[1]), "spares stop once they left")
	t.Logf("configuration versions: %s", strings.Join(versions, " "))
}
