package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/cluster/k8s/k8stest"
	"github.com/zkchaos/zkchaos/cluster/local"
	"github.com/zkchaos/zkchaos/cluster/local/localtest"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/scenarios"
)

func TestMain(m *testing.M) { k8stest.Main(m) }

// TestKubernetesScenarioEndToEnd runs a kubernetes scenario through the whole
// harness: pods of a stand-in kubelet behind a real kube-apiserver, each one
// a real local ZooKeeper server reached through the harness's
// port-forwards, and leader kills as PodChaos objects whose effect the test
// supplies in Chaos Mesh's place: it kills the server behind the pod while
// the object exists and starts it again when the object is deleted.
func TestKubernetesScenarioEndToEnd(t *testing.T) {
	t.Parallel() // beside the other tests that start ensembles, two at a time
	localtest.RequireZooKeeper(t)
	env := k8stest.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	zkEnsemble, err := local.Start(ctx, local.Config{Dir: t.TempDir(), Nodes: 3})
	require.NoError(t, err)
	t.Cleanup(func() { _ = zkEnsemble.Close(context.Background()) })
	servers := zkEnsemble.Nodes()
	serverOf := func(pod string) (int, bool) {
		i, err := strconv.Atoi(strings.TrimPrefix(pod, "zk-"))
		return i, err == nil && i >= 0 && i < len(servers)
	}

	ns := env.Namespace(t)
	addrs := make([]string, len(servers))
	for i, n := range servers {
		addrs[i] = n.ClientAddr
	}
	env.ZooKeeperPods(t, ns, addrs)
	injected := podFailures(t, env, ns, zkEnsemble, serverOf)

	file := filepath.Join(t.TempDir(), "k8s-e2e.yaml")
	require.NoError(t, os.WriteFile(file, fmt.Appendf(nil, `name: k8s-e2e
time-limit: 12s
recovery: 2s
cluster:
  backend: kubernetes
  start-timeout: 60s
  kubernetes:
    namespace: %s
    connect: port-forward
    kill: pod-failure
workload: {name: register, keys: 3, workers: 5, rate: 50}
nemesis:
  faults: [kill-leader]
  warmup: 3s
  interval: 4s
  duration: 5s
`, ns), 0o644))
	s, err := scenarios.Load(file, scenarios.Override{Source: "--kubeconfig", Path: "cluster.kubernetes.kubeconfig", Value: env.Kubeconfig(t)})
	require.NoError(t, err)
	out, err := Run(ctx, Options{Scenario: s, OutDir: t.TempDir()})
	require.NoError(t, err)

	checks := map[string]checker.Result{}
	for _, c := range out.Results.Check.Children {
		checks[c.Checker] = c
		t.Logf("%s: %s: %s", c.Checker, c.Verdict, c.Message)
	}
	assert.Equal(t, checker.Valid, checks["register"].Verdict, "%s", checks["register"].Message)
	assert.Equal(t, checker.Valid, checks["recovery"].Verdict, "%s", checks["recovery"].Message)
	assert.Equal(t, checker.Valid, checks["convergence"].Verdict, "%s", checks["convergence"].Message)
	assert.Equal(t, checker.Unknown, checks["server-logs"].Verdict, "the stand-in kubelet serves no logs: %s", checks["server-logs"].Message)
	assert.NotEqual(t, checker.Invalid, out.Results.Verdict)

	read, err := history.ReadFile(filepath.Join(out.Dir, history.FileName))
	require.NoError(t, err)
	kills, oks := 0, 0
	for _, op := range read.Ops {
		if op.IsNemesis() && op.F == "kill" && op.Type == history.Info && op.Error == "" {
			kills++
		}
		if !op.IsNemesis() && op.Type == history.OK {
			oks++
		}
	}
	assert.GreaterOrEqual(t, kills, 1, "a leader kill was recorded")
	assert.GreaterOrEqual(t, injected.Load(), int64(1), "a PodChaos took a server down")
	assert.Greater(t, oks, 100, "clients got answers through the port-forwards")
	var left v1alpha1.PodChaosList
	require.NoError(t, env.Client.List(ctx, &left, client.InNamespace(ns)))
	assert.Empty(t, left.Items, "every PodChaos is deleted")
	for _, n := range servers {
		assert.True(t, zkEnsemble.Running(n), "%s runs again", n.Name)
	}
}

// podFailures plays Chaos Mesh's part for pod-failure PodChaos objects in
// ns, with a real effect: it holds each new object with a finalizer, kills
// the local server behind the pod and reports the fault in force; once the
// object is deleted it starts the server again and lets the object go. It
// returns how many servers it took down.
func podFailures(t *testing.T, env *k8stest.Env, ns string, zkEnsemble *local.Ensemble, serverOf func(string) (int, bool)) *atomic.Int64 {
	const finalizer = "zkchaos.io/test-chaos-mesh"
	injected := new(atomic.Int64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	act := func(pc *v1alpha1.PodChaos) error {
		var pods []string
		for _, p := range pc.Spec.Selector.Pods {
			pods = append(pods, p...)
		}
		for _, pod := range pods {
			i, ok := serverOf(pod)
			if !ok {
				return fmt.Errorf("PodChaos %s selects %s, which is no server", pc.Name, pod)
			}
			n := zkEnsemble.Nodes()[i]
			switch {
			case pc.DeletionTimestamp == nil && !slices.Contains(pc.Finalizers, finalizer):
				if err := zkEnsemble.Kill(ctx, n); err != nil {
					return err
				}
				injected.Add(1)
			case pc.DeletionTimestamp != nil && slices.Contains(pc.Finalizers, finalizer):
				if !zkEnsemble.Running(n) {
					if err := zkEnsemble.Start(ctx, n); err != nil {
						return err
					}
				}
			}
		}
		if pc.DeletionTimestamp != nil {
			pc.Finalizers = slices.DeleteFunc(pc.Finalizers, func(f string) bool { return f == finalizer })
		} else if !slices.Contains(pc.Finalizers, finalizer) {
			pc.Finalizers = append(pc.Finalizers, finalizer)
			pc.Status.Conditions = []v1alpha1.ChaosCondition{{Type: v1alpha1.ConditionAllInjected, Status: corev1.ConditionTrue}}
		} else {
			return nil
		}
		return env.Client.Update(ctx, pc)
	}
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			var list v1alpha1.PodChaosList
			if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err == nil {
				for i := range list.Items {
					if err := act(&list.Items[i]); err != nil && ctx.Err() == nil {
						t.Logf("test chaos controller: %v", err)
					}
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return injected
}
