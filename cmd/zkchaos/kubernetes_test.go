package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/zkchaos/zkchaos/cluster/k8s"
	"github.com/zkchaos/zkchaos/cluster/k8s/k8stest"
)

func TestHealKubernetesDeletesLeftoverChaosObjects(t *testing.T) {
	env := k8stest.Start(t)
	ns := env.Namespace(t)
	kubeconfig := env.Kubeconfig(t)
	// What a harness killed in the middle of a fault leaves behind.
	obj, err := k8s.PodChaos(ns, "20261204T150000-register-kill", "n1", "zk-0", "zookeeper", k8s.PodFailure)
	require.NoError(t, err)
	require.NoError(t, env.Client.Create(t.Context(), obj))

	code, stdout, stderr := zkchaos(t, "heal", "--kubernetes", "--kubeconfig", kubeconfig, "--namespace", ns)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, fmt.Sprintf("deleted PodChaos %s/%s (run 20261204T150000-register-kill)", ns, obj.Name))
	var left v1alpha1.PodChaosList
	require.NoError(t, env.Client.List(t.Context(), &left, client.InNamespace(ns)))
	assert.Empty(t, left.Items)

	code, stdout, _ = zkchaos(t, "heal", "--kubernetes", "--kubeconfig", kubeconfig, "--namespace", ns)
	assert.Equal(t, 0, code)
	assert.Contains(t, stdout, "nothing left behind")
}

// TestRunKubernetesFailsClearlyWhenServersDoNotAnswer runs a kubernetes
// scenario whose pods exist and are ready but serve nothing (no kubelet
// runs here): the run must say so, keep its directory and exit 3.
func TestRunKubernetesFailsClearlyWhenServersDoNotAnswer(t *testing.T) {
	env := k8stest.Start(t)
	ns := env.Namespace(t)
	for i := range 3 {
		env.ReadyPod(t, ns, "zk-"+strconv.Itoa(i), map[string]string{"app.kubernetes.io/name": "zookeeper"},
			fmt.Sprintf("127.0.0.%d", 110+i))
	}
	dir := t.TempDir()
	scenario := filepath.Join(dir, "k.yaml")
	require.NoError(t, os.WriteFile(scenario, fmt.Appendf(nil, `name: k
time-limit: 5s
cluster:
  backend: kubernetes
  start-timeout: 3s
  kubernetes:
    namespace: %s
    connect: in-cluster
    client-port: 2
nemesis:
  faults: [kill-leader]
`, ns), 0o644))
	out := filepath.Join(dir, "runs")
	code, _, stderr := zkchaos(t, "run", scenario, "--out", out, "--kubeconfig", env.Kubeconfig(t))
	assert.Equal(t, 3, code, stderr)
	assert.Contains(t, stderr, "ensemble not healthy")
	runs, err := filepath.Glob(filepath.Join(out, "k", "2*", "scenario.yaml"))
	require.NoError(t, err)
	assert.Len(t, runs, 1, "the run directory stays, with the resolved scenario")

	code, _, stderr = zkchaos(t, "run", "../../scenarios/smoke.yaml", "--kubeconfig", "/nonexistent")
	assert.Equal(t, 4, code, "--kubeconfig on a local scenario is bad input: %s", stderr)
}
