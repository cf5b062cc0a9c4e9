package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/zkchaos/zkchaos/cluster/k8s"
	"github.com/zkchaos/zkchaos/cluster/k8s/k8stest"
	"github.com/zkchaos/zkchaos/deploy"
)

func TestHealKubernetesDeletesLeftoverChaosObjects(t *testing.T) {
	t.Parallel() // beside the other tests that start ensembles, two at a time
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

// deployAndDie deploys the shipped ensemble as a run with
// cluster.kubernetes.deploy does, plays the StatefulSet controller (ready
// pods and their volume claims), and never closes the ensemble: what a
// harness killed mid-run leaves behind.
func deployAndDie(t *testing.T, env *k8stest.Env, ns, name, run string) {
	t.Helper()
	clients, err := k8s.NewClients(env.Config)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		_, err := k8s.ConnectWith(ctx, k8s.Config{Namespace: ns, Nodes: 3, Connect: k8s.ConnectInCluster, Kill: k8s.Delete,
			Run: run, Deploy: &k8s.Deployment{Name: name, Image: "zookeeper:3.8.0"}}, clients)
		done <- err
	}()
	var sts appsv1.StatefulSet
	require.Eventually(t, func() bool {
		return env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &sts) == nil
	}, 10*time.Second, 50*time.Millisecond, "the StatefulSet is created")
	for i := range 3 {
		env.ReadyPod(t, ns, fmt.Sprintf("%s-%d", name, i), sts.Spec.Template.Labels, fmt.Sprintf("127.0.0.%d", 130+i))
	}
	env.StatefulSetClaims(t, ns, name, 3)
	require.NoError(t, <-done)
}

// ensembleObjects names the StatefulSets, Services and volume claims in ns
// that are not being deleted.
func ensembleObjects(t *testing.T, env *k8stest.Env, ns string) []string {
	t.Helper()
	var out []string
	var sets appsv1.StatefulSetList
	var services corev1.ServiceList
	var claims corev1.PersistentVolumeClaimList
	for _, l := range []client.ObjectList{&sets, &services, &claims} {
		require.NoError(t, env.Client.List(t.Context(), l, client.InNamespace(ns)))
	}
	for _, o := range sets.Items {
		out = append(out, "StatefulSet "+o.Name)
	}
	for _, o := range services.Items {
		out = append(out, "Service "+o.Name)
	}
	for _, o := range claims.Items {
		// The claims' protection finalizer keeps them until a controller
		// sees no pod uses them; none runs here.
		if o.DeletionTimestamp == nil {
			out = append(out, "PersistentVolumeClaim "+o.Name)
		}
	}
	return out
}

func TestHealKubernetesRemovesTheEnsembleARunDeployed(t *testing.T) {
	t.Parallel() // beside the other tests that start ensembles, two at a time
	env := k8stest.Start(t)
	ns := env.Namespace(t)
	kubeconfig := env.Kubeconfig(t)
	const killed, other = "20261204T150000-register-kill", "20261204T160000-register-kill"
	deployAndDie(t, env, ns, "zk", killed)
	deployAndDie(t, env, ns, "zk2", other)
	// An ensemble the harness did not deploy stays whatever happens.
	z, err := deploy.ZooKeeper{Namespace: ns, Name: "theirs", Image: "zookeeper:3.8.0", Replicas: 1}.Objects()
	require.NoError(t, err)
	for _, o := range z {
		require.NoError(t, env.Client.Create(t.Context(), o))
	}
	env.StatefulSetClaims(t, ns, "theirs", 1)
	theirs := []string{"StatefulSet theirs", "Service theirs-hl", "Service theirs-cs", "PersistentVolumeClaim data-theirs-0"}

	code, stdout, stderr := zkchaos(t, "heal", "--kubernetes", "--kubeconfig", kubeconfig, "--namespace", ns, "--run", killed)
	require.Equal(t, 0, code, stderr)
	for _, want := range []string{"StatefulSet %s/zk", "Service %s/zk-hl", "Service %s/zk-cs",
		"PersistentVolumeClaim %s/data-zk-0", "PersistentVolumeClaim %s/data-zk-2"} {
		assert.Contains(t, stdout, "deleted "+fmt.Sprintf(want, ns)+" (run "+killed+")")
	}
	assert.NotContains(t, stdout, "zk2")
	assert.ElementsMatch(t, append([]string{"StatefulSet zk2", "Service zk2-hl", "Service zk2-cs",
		"PersistentVolumeClaim data-zk2-0", "PersistentVolumeClaim data-zk2-1", "PersistentVolumeClaim data-zk2-2"}, theirs...),
		ensembleObjects(t, env, ns), "only the killed run's ensemble is removed")

	code, stdout, stderr = zkchaos(t, "heal", "--kubernetes", "--kubeconfig", kubeconfig, "--namespace", ns)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, fmt.Sprintf("deleted StatefulSet %s/zk2 (run %s)", ns, other))
	assert.ElementsMatch(t, theirs, ensembleObjects(t, env, ns))
	var pods corev1.PodList
	require.NoError(t, env.Client.List(t.Context(), &pods, client.InNamespace(ns)))
	assert.Len(t, pods.Items, 6, "no garbage collector runs here: the pods stay, owned by the deleted StatefulSets")

	code, stdout, _ = zkchaos(t, "heal", "--kubernetes", "--kubeconfig", kubeconfig, "--namespace", ns)
	assert.Equal(t, 0, code)
	assert.Contains(t, stdout, "nothing left behind")
}

// TestRunKubernetesFailsClearlyWhenServersDoNotAnswer runs a kubernetes
// scenario whose pods exist and are ready but serve nothing (no kubelet
// runs here): the run must say so, keep its directory and exit 3.
func TestRunKubernetesFailsClearlyWhenServersDoNotAnswer(t *testing.T) {
	t.Parallel() // beside the other tests that start ensembles, two at a time
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
	assert.Contains(t, stderr, "--kubeconfig: field cluster.kubernetes")
}
