package k8s_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/k8s"
	"github.com/zkchaos/zkchaos/cluster/k8s/k8stest"
	"github.com/zkchaos/zkchaos/deploy"
	"github.com/zkchaos/zkchaos/internal/histtest"
	"github.com/zkchaos/zkchaos/nemesis"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

func TestMain(m *testing.M) { k8stest.Main(m) }

const zkSelector = "app.kubernetes.io/name=zookeeper"

// ensemblePods creates n ready pods as the shipped StatefulSet would,
// addressed on loopback so that nothing the harness dials leaves the
// machine.
func ensemblePods(t *testing.T, env *k8stest.Env, ns string, n int) {
	for i := range n {
		env.ReadyPod(t, ns, "zk-"+strconv.Itoa(i), map[string]string{"app.kubernetes.io/name": "zookeeper"},
			fmt.Sprintf("127.0.0.%d", 100+i))
	}
}

// connect connects to the ensemble in ns, with Chaos Mesh's part played by
// actAsChaosMesh.
func connect(t *testing.T, env *k8stest.Env, clients k8s.Clients, ns string, kill k8s.KillAction) *k8s.Ensemble {
	t.Helper()
	actAsChaosMesh(t, env, ns)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	e, err := k8s.ConnectWith(ctx, k8s.Config{
		Namespace: ns, Selector: zkSelector, Nodes: 3, Connect: k8s.ConnectInCluster, Kill: kill,
		Run: "20261204T150000-" + t.Name(), Logger: slog.New(slog.DiscardHandler),
	}, clients)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e
}

// startEnsemble starts an API server holding three ready ZooKeeper pods in
// a fresh namespace, and connects to them with the given kill action.
func startEnsemble(t *testing.T, kill k8s.KillAction) (*k8stest.Env, string, *k8s.Ensemble) {
	t.Helper()
	env := k8stest.Start(t)
	ns := env.Namespace(t)
	ensemblePods(t, env, ns, 3)
	return env, ns, connect(t, env, adminClients(t, env), ns, kill)
}

func adminClients(t *testing.T, env *k8stest.Env) k8s.Clients {
	c, err := k8s.NewClients(env.Config)
	require.NoError(t, err)
	return c
}

// chaosObjects lists the harness's chaos objects in ns by kind.
func chaosObjects(t *testing.T, env *k8stest.Env, ns string) map[string][]client.Object {
	objs, err := k8s.ListChaos(t.Context(), env.Client, ns, harnessLabels)
	require.NoError(t, err)
	out := map[string][]client.Object{}
	for _, o := range objs {
		out[k8s.Kind(o)] = append(out[k8s.Kind(o)], o)
	}
	return out
}

// harnessLabels select the chaos objects the harness made.
var harnessLabels = labels.Set{k8s.ManagedByLabel: k8s.ManagedByValue}

// actAsChaosMesh plays the one part of the Chaos Mesh controller (which
// cannot run here) that the harness waits for: once a chaos object exists,
// it reports the fault in force on every selected pod (condition
// AllInjected).
func actAsChaosMesh(t *testing.T, env *k8stest.Env, ns string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			objs, _ := k8s.ListChaos(ctx, env.Client, ns, harnessLabels)
			for _, o := range objs {
				st := o.(v1alpha1.StatefulObject).GetStatus()
				if len(st.Conditions) == 0 {
					st.Conditions = []v1alpha1.ChaosCondition{{Type: v1alpha1.ConditionAllInjected, Status: corev1.ConditionTrue}}
					// The generated CRDs have no status subresource, like
					// Chaos Mesh's own: the status is updated with the object.
					if err := env.Client.Update(ctx, o); err != nil && ctx.Err() == nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
						t.Errorf("mark %s injected: %v", o.GetName(), err)
					}
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
}

func TestConnectFindsTheEnsemblesPods(t *testing.T) {
	env := k8stest.Start(t)
	ns := env.Namespace(t)
	ensemblePods(t, env, ns, 3)
	// A pod of another application in the same namespace is not a server.
	env.ReadyPod(t, ns, "web-0", map[string]string{"app.kubernetes.io/name": "web"}, "127.0.0.99")

	e := connect(t, env, adminClients(t, env), ns, k8s.KillAuto)
	nodes := e.Nodes()
	require.Len(t, nodes, 3)
	for i, n := range nodes {
		assert.Equal(t, i+1, n.ID, "myid is the StatefulSet ordinal plus one")
		assert.Equal(t, fmt.Sprintf("n%d", i+1), n.Name)
		assert.Equal(t, fmt.Sprintf("127.0.0.%d:2181", 100+i), n.ClientAddr)
		assert.Equal(t, fmt.Sprintf("zk-%d", i), e.Pod(n))
	}
	assert.Equal(t, k8s.PodFailure, e.KillAction(), "with Chaos Mesh's CRDs served, kills are pod-failures")
	assert.Equal(t, ns, e.Namespace())
	missing, err := k8s.MissingChaosResources(adminClients(t, env).Clientset)
	require.NoError(t, err)
	assert.Empty(t, missing)
}

func TestConnectWaitsForEveryPodAndSaysWhatIsMissing(t *testing.T) {
	env := k8stest.Start(t)
	ns := env.Namespace(t)
	ensemblePods(t, env, ns, 2)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, err := k8s.ConnectWith(ctx, k8s.Config{Namespace: ns, Selector: zkSelector, Nodes: 3, Connect: k8s.ConnectInCluster}, adminClients(t, env))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2 pods match, want 3")

	// A third pod that never becomes ready.
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "zk-2", Namespace: ns, Labels: map[string]string{"app.kubernetes.io/name": "zookeeper"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "zookeeper", Image: "zookeeper:3.8.0"}}}}
	require.NoError(t, env.Client.Create(t.Context(), pod))
	ctx, cancel = context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, err = k8s.ConnectWith(ctx, k8s.Config{Namespace: ns, Selector: zkSelector, Nodes: 3, Connect: k8s.ConnectInCluster}, adminClients(t, env))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not ready: zk-2")
}

func TestKillIsAPodFailureUntilStarted(t *testing.T) {
	env, ns, e := startEnsemble(t, k8s.PodFailure)
	n2 := e.Nodes()[1]

	require.NoError(t, e.Kill(t.Context(), n2))
	assert.False(t, e.Running(n2))
	objs := chaosObjects(t, env, ns)
	require.Len(t, objs["PodChaos"], 1)
	pc := objs["PodChaos"][0].(*v1alpha1.PodChaos)
	assert.Equal(t, v1alpha1.PodFailureAction, pc.Spec.Action)
	assert.Equal(t, map[string][]string{ns: {"zk-1"}}, pc.Spec.Selector.Pods)
	assert.Equal(t, "n2", pc.Labels[k8s.NodeLabel])
	assert.Equal(t, k8s.RunLabelValue("20261204T150000-"+t.Name()), pc.Labels[k8s.RunLabel])

	require.NoError(t, e.Start(t.Context(), n2))
	assert.True(t, e.Running(n2))
	assert.Empty(t, chaosObjects(t, env, ns)["PodChaos"], "starting the node deletes its PodChaos")
}

func TestKillByDeleteWaitsForTheRecreatedPod(t *testing.T) {
	env, ns, e := startEnsemble(t, k8s.Delete)
	n1 := e.Nodes()[0]

	require.NoError(t, e.Kill(t.Context(), n1))
	assert.Empty(t, chaosObjects(t, env, ns), "a plain delete needs no chaos object")
	_, err := env.Clientset.CoreV1().Pods(ns).Get(t.Context(), "zk-0", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "the pod is deleted at once: %v", err)

	started := make(chan error, 1)
	go func() { started <- e.Start(t.Context(), n1) }()
	select {
	case err := <-started:
		t.Fatalf("Start returned before the pod came back: %v", err)
	case <-time.After(time.Second):
	}
	// No StatefulSet controller runs here: recreate the pod as it would.
	env.ReadyPod(t, ns, "zk-0", map[string]string{"app.kubernetes.io/name": "zookeeper"}, "127.0.0.100")
	select {
	case err := <-started:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Start did not see the recreated pod")
	}
	assert.True(t, e.Running(n1))
}

func TestPartitionShapeAndClockObjectsAreDeletedOnHeal(t *testing.T) {
	env, ns, e := startEnsemble(t, k8s.PodFailure)
	ctx := t.Context()

	g := cluster.Grudge{"n1": {"n2", "n3"}, "n2": {"n1"}, "n3": {"n1"}}
	require.NoError(t, e.Partition(ctx, g, cluster.LinkHang))
	nets := chaosObjects(t, env, ns)["NetworkChaos"]
	require.Len(t, nets, 2, "one NetworkChaos per side")
	for _, o := range nets {
		nc := o.(*v1alpha1.NetworkChaos)
		assert.Equal(t, v1alpha1.PartitionAction, nc.Spec.Action)
		assert.Equal(t, v1alpha1.Both, nc.Spec.Direction)
	}
	// A new partition replaces the old one.
	require.NoError(t, e.Partition(ctx, cluster.Grudge{"n3": {"n1", "n2"}}, cluster.LinkReset))
	nets = chaosObjects(t, env, ns)["NetworkChaos"]
	require.Len(t, nets, 1)
	assert.Equal(t, v1alpha1.From, nets[0].(*v1alpha1.NetworkChaos).Spec.Direction)

	require.NoError(t, e.Shape(ctx, []string{"n2"}, cluster.LinkShape{Delay: 100 * time.Millisecond}))
	assert.Len(t, chaosObjects(t, env, ns)["NetworkChaos"], 2)
	require.NoError(t, e.HealLinks(ctx))
	assert.Empty(t, chaosObjects(t, env, ns)["NetworkChaos"])

	n3 := e.Nodes()[2]
	require.NoError(t, e.SetClock(ctx, n3, cluster.ClockShift{Offset: -time.Minute}))
	require.NoError(t, e.SetClock(ctx, n3, cluster.ClockShift{Offset: time.Minute}))
	times := chaosObjects(t, env, ns)["TimeChaos"]
	require.Len(t, times, 1, "a new shift replaces the old one")
	assert.Equal(t, "1m0s", times[0].(*v1alpha1.TimeChaos).Spec.TimeOffset)
	require.Error(t, e.SetClock(ctx, n3, cluster.ClockShift{Rate: 2}), "TimeChaos cannot change a clock's rate")
	require.NoError(t, e.ResetClock(ctx, n3))
	assert.Empty(t, chaosObjects(t, env, ns))
}

func TestCloseDeletesEveryFaultInForce(t *testing.T) {
	env, ns, e := startEnsemble(t, k8s.PodFailure)
	ctx := t.Context()
	require.NoError(t, e.Kill(ctx, e.Nodes()[0]))
	require.NoError(t, e.Partition(ctx, cluster.Grudge{"n2": {"n3"}, "n3": {"n2"}}, cluster.LinkHang))
	require.NoError(t, e.SetClock(ctx, e.Nodes()[2], cluster.ClockShift{Offset: time.Hour}))
	require.Len(t, chaosObjects(t, env, ns), 3)
	require.NoError(t, e.Close(ctx))
	assert.Empty(t, chaosObjects(t, env, ns))
}

func TestInterruptedScheduleLeavesNoChaosObject(t *testing.T) {
	env, ns, e := startEnsemble(t, k8s.PodFailure)
	specs := []nemesis.Spec{{Kind: fault.Kill, Target: "one"}, {Kind: fault.Partition, Grudge: nemesis.GrudgeHalves, Mode: "hang"}}
	faults, err := nemesis.FromSpecs(specs, e)
	require.NoError(t, err)

	// The schedule is interrupted while a fault is in force.
	ctx, cancel := context.WithCancel(t.Context())
	rec := &histtest.Memory{}
	done := make(chan error, 1)
	go func() {
		done <- nemesis.Schedule{Faults: faults, Seed: 3, MinQuiet: 10 * time.Millisecond, MaxQuiet: 10 * time.Millisecond,
			MinDuration: time.Minute, MaxDuration: time.Minute}.Run(ctx, e, rec)
	}()
	require.Eventually(t, func() bool { return len(chaosObjects(t, env, ns)) > 0 }, 10*time.Second, 50*time.Millisecond)
	cancel()
	<-done
	require.NoError(t, nemesis.HealAll(context.Background(), e, rec, slog.New(slog.DiscardHandler)))
	assert.Empty(t, chaosObjects(t, env, ns), "healing after an interrupt deletes every chaos object")
}

func TestFaultsChaosMeshCannotDoAreRefusedUpFront(t *testing.T) {
	_, _, e := startEnsemble(t, k8s.PodFailure)
	for _, spec := range []nemesis.Spec{{Kind: fault.Pause}, {Kind: fault.Clients}, {Kind: fault.Clock, Clock: nemesis.ClockRate, Rate: 2}} {
		_, err := nemesis.FromSpecs([]nemesis.Spec{spec}, e)
		require.Error(t, err, spec.Kind)
		assert.Contains(t, err.Error(), "kubernetes backend cannot")
	}
}

func TestHealLeftoversDeletesOnlyTheHarnesssObjects(t *testing.T) {
	env := k8stest.Start(t)
	ns := env.Namespace(t)
	ensemblePods(t, env, ns, 3)
	ctx := t.Context()
	// Two runs' worth of faults, as a killed harness leaves them.
	for _, run := range []string{"run-a", "run-b"} {
		obj, err := k8s.PodChaos(ns, run, "n1", "zk-0", "zookeeper", k8s.PodFailure)
		require.NoError(t, err)
		require.NoError(t, env.Client.Create(ctx, obj))
		nets, err := k8s.Partitions(ns, run, cluster.Grudge{"n1": {"n2"}, "n2": {"n1"}}, cluster.LinkHang, map[string]string{"n1": "zk-0", "n2": "zk-1"})
		require.NoError(t, err)
		for _, o := range nets {
			require.NoError(t, env.Client.Create(ctx, o))
		}
	}
	// A chaos object somebody else made stays.
	other := &v1alpha1.PodChaos{ObjectMeta: metav1.ObjectMeta{Name: "someone-elses", Namespace: ns},
		Spec: v1alpha1.PodChaosSpec{Action: v1alpha1.PodKillAction, ContainerSelector: v1alpha1.ContainerSelector{
			PodSelector: v1alpha1.PodSelector{Mode: v1alpha1.OneMode}}}}
	require.NoError(t, env.Client.Create(ctx, other))

	left, err := k8s.HealLeftovers(ctx, env.Client, ns, "run-a")
	require.NoError(t, err)
	assert.Len(t, left, 3)
	for _, l := range left {
		assert.Equal(t, "run-a", l.Run)
	}
	left, err = k8s.HealLeftovers(ctx, env.Client, ns, "")
	require.NoError(t, err)
	assert.Len(t, left, 3)
	var all v1alpha1.PodChaosList
	require.NoError(t, env.Client.List(ctx, &all, client.InNamespace(ns)))
	require.Len(t, all.Items, 1)
	assert.Equal(t, "someone-elses", all.Items[0].Name)
}

// TestShippedRoleAllowsExactlyWhatTheHarnessDoes runs the harness's
// Kubernetes calls as the shipped service account and checks that the Role
// grants them and nothing more.
func TestShippedRoleAllowsExactlyWhatTheHarnessDoes(t *testing.T) {
	env := k8stest.Start(t)
	ns := env.Namespace(t)
	ensemblePods(t, env, ns, 3)
	ctx := t.Context()
	sa := serviceAccount(t, env, ns, func(client.Object) bool { return true })

	// Everything a run does, as the service account.
	e := connect(t, env, sa, ns, k8s.PodFailure)
	n := e.Nodes()
	require.NoError(t, e.Kill(ctx, n[0]))
	require.NoError(t, e.Start(ctx, n[0]))
	require.NoError(t, e.Partition(ctx, cluster.Grudge{"n1": {"n2", "n3"}, "n2": {"n1"}, "n3": {"n1"}}, cluster.LinkHang))
	require.NoError(t, e.Shape(ctx, nil, cluster.LinkShape{Loss: 0.1}))
	require.NoError(t, e.HealLinks(ctx))
	require.NoError(t, e.SetClock(ctx, n[1], cluster.ClockShift{Offset: time.Minute}))
	require.NoError(t, e.SetDiskFaults(ctx, n[1], cluster.DiskFaults{FsyncDelay: time.Second}))
	require.NoError(t, e.Kill(ctx, n[2]))
	require.NoError(t, e.Close(ctx))
	left, err := k8s.HealLeftovers(ctx, sa.Client, ns, "")
	require.NoError(t, err)
	assert.Empty(t, left)
	del, err := connectDelete(t, env, sa, ns)
	require.NoError(t, err)
	require.NoError(t, del.Kill(ctx, del.Nodes()[0]), "a plain pod delete is allowed")

	// What the harness does not do is denied, here and cluster-wide.
	allowed := func(ra authorizationv1.ResourceAttributes) bool {
		review, err := sa.Clientset.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx,
			&authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &ra}},
			metav1.CreateOptions{})
		require.NoError(t, err)
		return review.Status.Allowed
	}
	for _, ra := range []authorizationv1.ResourceAttributes{
		{Namespace: ns, Verb: "create", Resource: "pods", Subresource: "portforward"},
		{Namespace: ns, Verb: "get", Resource: "pods", Subresource: "log"},
		{Namespace: ns, Verb: "watch", Resource: "pods"},
		{Namespace: ns, Verb: "create", Group: "chaos-mesh.org", Resource: "networkchaos"},
	} {
		assert.True(t, allowed(ra), "%+v must be allowed", ra)
	}
	for _, ra := range []authorizationv1.ResourceAttributes{
		{Namespace: ns, Verb: "get", Resource: "secrets"},
		{Namespace: ns, Verb: "create", Resource: "pods"},
		{Namespace: ns, Verb: "create", Resource: "pods", Subresource: "exec"},
		{Namespace: ns, Verb: "update", Group: "chaos-mesh.org", Resource: "podchaos"},
		{Namespace: ns, Verb: "create", Group: "chaos-mesh.org", Resource: "stresschaos"},
		{Namespace: ns, Verb: "patch", Group: "apps", Resource: "statefulsets"},
		{Namespace: "kube-system", Verb: "list", Resource: "pods"},
		{Verb: "list", Resource: "nodes"},
		{Verb: "list", Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"},
	} {
		assert.False(t, allowed(ra), "%+v must be denied", ra)
	}
}

// serviceAccount creates the objects of the shipped rbac.yaml that keep
// selects in ns and returns clients that act as its ServiceAccount, once
// its first RoleBinding has taken effect.
func serviceAccount(t *testing.T, env *k8stest.Env, ns string, keep func(client.Object) bool) k8s.Clients {
	t.Helper()
	objs, err := deploy.RBAC(ns)
	require.NoError(t, err)
	for _, o := range objs {
		if keep(o) {
			require.NoError(t, env.Client.Create(t.Context(), o), "%T %s", o, o.GetName())
		}
	}
	sa, err := k8s.NewClients(env.ServiceAccountConfig(ns, "zkchaos"))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := sa.Clientset.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
		return err == nil
	}, 10*time.Second, 100*time.Millisecond, "the RoleBinding takes effect")
	return sa
}

func connectDelete(t *testing.T, env *k8stest.Env, clients k8s.Clients, ns string) (*k8s.Ensemble, error) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	e, err := k8s.ConnectWith(ctx, k8s.Config{Namespace: ns, Selector: zkSelector, Nodes: 3, Connect: k8s.ConnectInCluster, Kill: k8s.Delete}, clients)
	if err == nil {
		t.Cleanup(func() { _ = e.Close(context.Background()) })
	}
	return e, err
}

func TestDeployCreatesTheEnsembleAndCloseRemovesIt(t *testing.T) {
	env := k8stest.Start(t)
	ns := env.Namespace(t)
	ctx := t.Context()
	type result struct {
		e   *k8s.Ensemble
		err error
	}
	done := make(chan result, 1)
	go func() {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		e, err := k8s.ConnectWith(cctx, k8s.Config{Namespace: ns, Nodes: 3, Connect: k8s.ConnectInCluster, Run: "run/1",
			Deploy: &k8s.Deployment{Name: "zk", Image: "zookeeper:3.8.0"}}, adminClients(t, env))
		done <- result{e, err}
	}()
	var sts appsv1.StatefulSet
	require.Eventually(t, func() bool {
		return env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "zk"}, &sts) == nil
	}, 10*time.Second, 50*time.Millisecond, "the StatefulSet is created")
	assert.Equal(t, int32(3), *sts.Spec.Replicas)
	// Labelled for `zkchaos heal --kubernetes`, the claims to come too.
	runLabels := labels.Set{k8s.ManagedByLabel: k8s.ManagedByValue, k8s.RunLabel: "run-1"}
	assert.Subset(t, sts.Labels, runLabels)
	require.Len(t, sts.Spec.VolumeClaimTemplates, 1)
	assert.Subset(t, sts.Spec.VolumeClaimTemplates[0].Labels, runLabels)
	var services corev1.ServiceList
	require.NoError(t, env.Client.List(ctx, &services, client.InNamespace(ns), client.MatchingLabels(runLabels)))
	assert.Len(t, services.Items, 2)
	// No StatefulSet controller runs here: create its pods as it would.
	for i := range 3 {
		env.ReadyPod(t, ns, "zk-"+strconv.Itoa(i), sts.Spec.Template.Labels, fmt.Sprintf("127.0.0.%d", 120+i))
	}
	r := <-done
	require.NoError(t, r.err)
	require.Len(t, r.e.Nodes(), 3)

	require.NoError(t, r.e.Close(ctx))
	err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "zk"}, &sts)
	assert.True(t, apierrors.IsNotFound(err), "the StatefulSet is removed: %v", err)
	require.NoError(t, env.Client.List(ctx, &services, client.InNamespace(ns)))
	assert.Empty(t, services.Items, "its Services are removed")
}

// TestRemoveDeployedNeedsTheDeployRoleOnlyWhereItDeploys removes what a run
// deployed as the shipped service account, and checks that an account
// without the zkchaos-deploy Role (which deploys nothing) is told which
// kinds it may not list instead of failing, as the CronJob's heal is.
func TestRemoveDeployedNeedsTheDeployRoleOnlyWhereItDeploys(t *testing.T) {
	env := k8stest.Start(t)
	ns := env.Namespace(t)
	ctx := t.Context()
	deployRole := func(o client.Object) bool { return strings.HasPrefix(o.GetName(), "zkchaos-deploy") }
	sa := serviceAccount(t, env, ns, func(o client.Object) bool { return !deployRole(o) })
	removed, forbidden, err := k8s.RemoveDeployed(ctx, sa.Client, ns, "")
	require.NoError(t, err)
	assert.Empty(t, removed)
	assert.Equal(t, []string{"statefulsets", "services", "persistentvolumeclaims"}, forbidden)

	serviceAccount(t, env, ns, deployRole)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "zk-cs", Labels: map[string]string{k8s.ManagedByLabel: k8s.ManagedByValue, k8s.RunLabel: "r1"}},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 2181}}},
	}
	require.NoError(t, env.Client.Create(ctx, svc))
	require.Eventually(t, func() bool {
		removed, forbidden, err = k8s.RemoveDeployed(ctx, sa.Client, ns, "")
		return len(forbidden) == 0
	}, 10*time.Second, 100*time.Millisecond, "the deploy RoleBinding takes effect")
	require.NoError(t, err)
	assert.Equal(t, []k8s.Leftover{{Kind: "Service", Namespace: ns, Name: "zk-cs", Run: "r1"}}, removed)
}

func TestAFaultChaosMeshDoesNotApplyFailsAndIsStillHealed(t *testing.T) {
	env := k8stest.Start(t)
	ns := env.Namespace(t)
	ensemblePods(t, env, ns, 3)
	// No actAsChaosMesh: the CRDs are served but nothing acts on them.
	e, err := k8s.ConnectWith(t.Context(), k8s.Config{Namespace: ns, Selector: zkSelector, Nodes: 3,
		Connect: k8s.ConnectInCluster, Kill: k8s.PodFailure, InjectTimeout: 500 * time.Millisecond}, adminClients(t, env))
	require.NoError(t, err)
	n := e.Nodes()[0]
	err = e.Kill(t.Context(), n)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not in force after 500ms (is the Chaos Mesh controller running?): no status conditions yet")
	assert.False(t, e.Running(n), "a partly applied kill is still healed")
	require.Len(t, chaosObjects(t, env, ns)["PodChaos"], 1)
	require.NoError(t, e.Start(t.Context(), n))
	assert.Empty(t, chaosObjects(t, env, ns))
	require.NoError(t, e.Close(t.Context()))
}

func TestDiskFaultsAreIOChaosObjectsDeletedOnHeal(t *testing.T) {
	env, ns, e := startEnsemble(t, k8s.PodFailure)
	ctx := t.Context()
	require.NoError(t, e.Can(cluster.CapDiskIO))
	require.ErrorContains(t, e.Can(cluster.CapDisk), "IOChaos")
	n2 := e.Nodes()[1]

	require.NoError(t, e.SetDiskFaults(ctx, n2, cluster.DiskFaults{FsyncDelay: 100 * time.Millisecond}))
	ios := chaosObjects(t, env, ns)["IOChaos"]
	require.Len(t, ios, len(k8s.DataVolumes), "one IOChaos per data volume")
	for _, o := range ios {
		io := o.(*v1alpha1.IOChaos)
		assert.Equal(t, v1alpha1.IoLatency, io.Spec.Action)
		assert.Equal(t, "100ms", io.Spec.Delay)
		assert.Equal(t, []v1alpha1.IoMethod{v1alpha1.Fsync}, io.Spec.Methods)
		assert.Equal(t, 100, io.Spec.Percent)
		assert.Contains(t, k8s.DataVolumes, io.Spec.VolumePath)
		assert.Equal(t, "n2", io.Labels[k8s.NodeLabel])
	}

	require.NoError(t, e.SetDiskFaults(ctx, n2, cluster.DiskFaults{WriteErrors: 0.25}))
	ios = chaosObjects(t, env, ns)["IOChaos"]
	require.Len(t, ios, len(k8s.DataVolumes), "new faults replace the old ones")
	io := ios[0].(*v1alpha1.IOChaos)
	assert.Equal(t, v1alpha1.IoFaults, io.Spec.Action)
	assert.Equal(t, uint32(5), io.Spec.Errno, "EIO")
	assert.Equal(t, 25, io.Spec.Percent)
	assert.Equal(t, []v1alpha1.IoMethod{v1alpha1.Write}, io.Spec.Methods)

	require.NoError(t, e.SetDiskFaults(ctx, n2, cluster.DiskFaults{Full: true}))
	io = chaosObjects(t, env, ns)["IOChaos"][0].(*v1alpha1.IOChaos)
	assert.Equal(t, uint32(28), io.Spec.Errno, "ENOSPC")
	require.ErrorContains(t, e.SetDiskFaults(ctx, n2, cluster.DiskFaults{Full: true, FreeBytes: 10}), "number of bytes")
	require.ErrorContains(t, e.SetDiskFaults(ctx, n2, cluster.DiskFaults{FsyncDelay: time.Second, FsyncJitter: time.Second}), "jitter")

	require.NoError(t, e.SetDiskFaults(ctx, n2, cluster.DiskFaults{FsyncErrors: 1}))
	require.NoError(t, nemesis.HealAll(ctx, e, &histtest.Memory{}, slog.New(slog.DiscardHandler)))
	assert.Empty(t, chaosObjects(t, env, ns), "the heal deletes every IOChaos")
	require.NoError(t, e.SetDiskFaults(ctx, n2, cluster.DiskFaults{WriteDelay: time.Second}))
	require.NoError(t, e.Close(ctx))
	assert.Empty(t, chaosObjects(t, env, ns), "closing deletes every IOChaos")
}
