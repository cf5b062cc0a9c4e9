package k8s_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/k8s"
	"github.com/zkchaos/zkchaos/cluster/k8s/k8stest"
	"github.com/zkchaos/zkchaos/cluster/local"
	"github.com/zkchaos/zkchaos/cluster/local/localtest"
)

// TestPortForwardReachesRealZooKeeper connects the backend in port-forward
// mode to a real ensemble: three local ZooKeeper servers behind the pods of a
// stand-in kubelet, which kube-apiserver proxies the forwards to. It runs as
// the administrator and as the shipped service account, whose Role must
// allow a real port-forward.
func TestPortForwardReachesRealZooKeeper(t *testing.T) {
	localtest.RequireZooKeeper(t)
	env := k8stest.Start(t)
	zkEnsemble := startLocalEnsemble(t)

	t.Run("admin", func(t *testing.T) {
		ns := env.Namespace(t)
		checkPortForward(t, env, zkEnsemble, ns, adminClients(t, env))
	})
	t.Run("service-account", func(t *testing.T) {
		ns := env.Namespace(t)
		sa := serviceAccount(t, env, ns, func(client.Object) bool { return true })
		checkPortForward(t, env, zkEnsemble, ns, sa)
	})
}

// startLocalEnsemble starts a real three-node ensemble on loopback that the
// test's cleanup closes.
func startLocalEnsemble(t *testing.T) *local.Ensemble {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	e, err := local.Start(ctx, local.Config{Dir: t.TempDir(), Nodes: 3})
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		assert.NoError(t, e.Close(cctx))
	})
	return e
}

// checkPortForward puts pods zk-0..2 on a stand-in kubelet whose pod zk-i
// is local node i+1, connects the backend through port-forwards with the
// clients given, and checks that the servers are reached, and reached again
// after one of them is killed and started.
func checkPortForward(t *testing.T, env *k8stest.Env, zkEnsemble *local.Ensemble, ns string, clients k8s.Clients) {
	localNodes := zkEnsemble.Nodes()
	require.Len(t, localNodes, 3)
	addrs := make([]string, len(localNodes))
	for i, n := range localNodes {
		addrs[i] = n.ClientAddr
	}
	kubelet := env.ZooKeeperPods(t, ns, addrs)

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	e, err := k8s.ConnectWith(ctx, k8s.Config{
		Namespace: ns, Selector: zkSelector, Nodes: 3, Connect: k8s.ConnectPortForward, Kill: k8s.Delete,
		Run: "20261204T150000-" + t.Name(), Logger: slog.New(slog.DiscardHandler),
	}, clients)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close(context.Background()) })

	// Every server is reached on a loopback port of its own, not at its
	// own address.
	nodes := e.Nodes()
	require.Len(t, nodes, 3)
	own := map[string]bool{}
	for _, n := range localNodes {
		own[n.ClientAddr] = true
	}
	seen := map[string]bool{}
	for i, n := range nodes {
		host, _, err := net.SplitHostPort(n.ClientAddr)
		require.NoError(t, err)
		assert.Equal(t, "127.0.0.1", host, "%s is forwarded from loopback", n.Name)
		assert.False(t, own[n.ClientAddr], "%s: %s is the server's own address, not a forward", n.Name, n.ClientAddr)
		assert.False(t, seen[n.ClientAddr], "%s: %s is another node's forward", n.Name, n.ClientAddr)
		seen[n.ClientAddr] = true
		assert.Equal(t, localNodes[i].Name, n.Name, "pod zk-%d is server %d", i, i+1)
	}

	// The roles through the forwards are the ones the servers report.
	_, err = e.WaitHealthy(ctx, 20*time.Second)
	require.NoError(t, err)
	roles := e.Roles(ctx)
	leader := cluster.LeaderOf(roles)
	require.NotEmpty(t, leader, "roles %v", roles)
	direct := zkEnsemble.Roles(ctx)
	assert.Equal(t, cluster.LeaderOf(direct), leader)
	assert.Equal(t, direct, roles)

	// A client session through a forward writes and reads.
	conn := zkSession(t, nodes[0])
	path := "/portforward-" + ns
	_, err = conn.Create(path, []byte("through "+nodes[0].ClientAddr), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	data, _, err := conn.Get(path)
	require.NoError(t, err)
	assert.Equal(t, "through "+nodes[0].ClientAddr, string(data))
	conn.Close()

	// Kill a follower's server: its pod stays, its port refuses, and the
	// forward is lost; once the server is back, the same address serves it
	// again through a new forward.
	var victim cluster.Node
	for _, n := range localNodes {
		if n.Name != leader {
			victim = n
			break
		}
	}
	pod := e.Pod(victim)
	addr := nodes[victim.ID-1].ClientAddr
	forwardsBefore := kubelet.Forwards(ns, pod)
	require.NoError(t, zkEnsemble.Kill(ctx, victim))
	require.Eventually(t, func() bool { return e.Roles(ctx)[victim.Name] == cluster.Down }, 10*time.Second, 100*time.Millisecond,
		"%s is down through its forward", victim.Name)
	require.NoError(t, zkEnsemble.Start(ctx, victim))
	var last map[string]cluster.Role
	require.Eventually(t, func() bool {
		last = e.Roles(ctx)
		return last[victim.Name] == cluster.Leader || last[victim.Name] == cluster.Follower
	}, 30*time.Second, 200*time.Millisecond, "%s serves again through %s: roles %v", victim.Name, addr, last)
	assert.Equal(t, addr, e.Nodes()[victim.ID-1].ClientAddr, "the forward keeps its address")
	assert.Greater(t, kubelet.Forwards(ns, pod), forwardsBefore, "the lost forward was made again")
	_, err = e.WaitHealthy(ctx, 20*time.Second)
	require.NoError(t, err)
	conn = zkSession(t, nodes[victim.ID-1])
	data, _, err = conn.Get(path)
	require.NoError(t, err)
	assert.Equal(t, "through "+nodes[0].ClientAddr, string(data))
	conn.Close()

	// Kill by deleting the pod: its forward is lost and cannot be made
	// again until the pod is back (created again here, as its StatefulSet
	// would), then serves on the same address.
	forwardsBefore = kubelet.Forwards(ns, pod)
	require.NoError(t, e.Kill(ctx, victim))
	require.Eventually(t, func() bool { return e.Roles(ctx)[victim.Name] == cluster.Down }, 10*time.Second, 100*time.Millisecond,
		"%s is down through its forward once its pod is deleted", victim.Name)
	started := make(chan error, 1)
	go func() { started <- e.Start(ctx, victim) }()
	env.ReadyPodOn(t, kubelet.Node, ns, pod, map[string]string{"app.kubernetes.io/name": "zookeeper"},
		fmt.Sprintf("127.0.0.%d", 100+victim.ID-1))
	require.NoError(t, <-started)
	require.Eventually(t, func() bool {
		last = e.Roles(ctx)
		return last[victim.Name] == cluster.Leader || last[victim.Name] == cluster.Follower
	}, 30*time.Second, 200*time.Millisecond, "%s serves again through %s: roles %v", victim.Name, addr, last)
	assert.Greater(t, kubelet.Forwards(ns, pod), forwardsBefore, "the forward was made again to the new pod")
	require.NoError(t, e.Close(ctx))
}

// zkSession opens a ZooKeeper session through the node's forward.
func zkSession(t *testing.T, n cluster.Node) *zk.Conn {
	t.Helper()
	conn, events, err := zk.Connect([]string{n.ClientAddr}, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}))
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return conn
			}
		case <-deadline:
			t.Fatalf("no session with %s through %s", n.Name, n.ClientAddr)
		}
	}
}

// quietLogger silences the zk client's logging.
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}
