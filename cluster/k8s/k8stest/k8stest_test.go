package k8stest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestMain(m *testing.M) { Main(m) }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestChaosCRDsEstablished(t *testing.T) {
	env := Start(t)
	ns := env.Namespace(t)
	c := ctx(t)

	for _, list := range []client.ObjectList{
		&chaosv1alpha1.PodChaosList{},
		&chaosv1alpha1.NetworkChaosList{},
		&chaosv1alpha1.TimeChaosList{},
	} {
		require.NoError(t, env.Client.List(c, list, client.InNamespace(ns)), "%T", list)
	}
	var pods chaosv1alpha1.PodChaosList
	require.NoError(t, env.Client.List(c, &pods, client.InNamespace(ns)))
	assert.Empty(t, pods.Items)

	// Every CRD of crds/ is served.
	entries, err := os.ReadDir("crds")
	require.NoError(t, err)
	var files int
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml") {
			files++
		}
	}
	var crds apiextensionsv1.CustomResourceDefinitionList
	require.NoError(t, env.Client.List(c, &crds))
	var established int
	for _, crd := range crds.Items {
		if crd.Spec.Group != chaosv1alpha1.SchemeGroupVersion.Group {
			continue
		}
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				established++
			}
		}
	}
	assert.Equal(t, files, established, "established Chaos Mesh CRDs")
}

func TestCreatePodChaos(t *testing.T) {
	env := Start(t)
	ns := env.Namespace(t)
	c := ctx(t)

	pc := &chaosv1alpha1.PodChaos{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kill-one"},
		Spec: chaosv1alpha1.PodChaosSpec{
			Action: chaosv1alpha1.PodKillAction,
			ContainerSelector: chaosv1alpha1.ContainerSelector{
				PodSelector: chaosv1alpha1.PodSelector{
					Mode: chaosv1alpha1.OneMode,
					Selector: chaosv1alpha1.PodSelectorSpec{
						GenericSelectorSpec: chaosv1alpha1.GenericSelectorSpec{
							Namespaces:     []string{ns},
							LabelSelectors: map[string]string{"app": "zookeeper"},
						},
					},
				},
			},
		},
	}
	require.NoError(t, env.Client.Create(c, pc))
	var got chaosv1alpha1.PodChaos
	require.NoError(t, env.Client.Get(c, client.ObjectKeyFromObject(pc), &got))
	assert.Equal(t, chaosv1alpha1.PodKillAction, got.Spec.Action)
	assert.Equal(t, map[string]string{"app": "zookeeper"}, got.Spec.Selector.LabelSelectors)
}

func TestReadyPod(t *testing.T) {
	env := Start(t)
	ns := env.Namespace(t)
	c := ctx(t)

	env.ReadyPod(t, ns, "zk-1", map[string]string{"app": "zookeeper"}, "10.1.0.11")

	pod, err := env.Clientset.CoreV1().Pods(ns).Get(c, "zk-1", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, corev1.PodRunning, pod.Status.Phase)
	assert.Equal(t, "10.1.0.11", pod.Status.PodIP)
	assert.Equal(t, "zookeeper", pod.Labels["app"])
	assert.Equal(t, "1", pod.Labels[appsv1.PodIndexLabel])
	assert.Equal(t, "zk-1", pod.Labels["statefulset.kubernetes.io/pod-name"])
	ready := false
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodReady {
			ready = cond.Status == corev1.ConditionTrue
		}
	}
	assert.True(t, ready, "Ready condition: %+v", pod.Status.Conditions)
	require.Len(t, pod.Spec.Containers, 1)
	assert.Equal(t, "zookeeper", pod.Spec.Containers[0].Name)
	require.NotEmpty(t, pod.Spec.Containers[0].Ports)
	assert.EqualValues(t, 2181, pod.Spec.Containers[0].Ports[0].ContainerPort)
	assert.Empty(t, pod.OwnerReferences, "no StatefulSet zk")
}

func TestReadyPodOwnedByStatefulSet(t *testing.T) {
	env := Start(t)
	ns := env.Namespace(t)
	c := ctx(t)

	labels := map[string]string{"app": "zookeeper"}
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "zk"},
		Spec: appsv1.StatefulSetSpec{
			ServiceName: "zk-hs",
			Selector:    &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "zookeeper", Image: "zookeeper:3.9",
				}}},
			},
		},
	}
	require.NoError(t, env.Client.Create(c, sts))
	pod := env.ReadyPod(t, ns, "zk-0", labels, "10.1.0.10")
	require.Len(t, pod.OwnerReferences, 1)
	assert.Equal(t, sts.UID, pod.OwnerReferences[0].UID)
	assert.Equal(t, "zk-hs", pod.Spec.Subdomain)

	pods, err := env.Clientset.CoreV1().Pods(ns).List(c, metav1.ListOptions{LabelSelector: "app=zookeeper"})
	require.NoError(t, err)
	require.Len(t, pods.Items, 1)
	assert.Equal(t, "10.1.0.10", pods.Items[0].Status.PodIP)
}

func TestServiceAccountConfigRBAC(t *testing.T) {
	env := Start(t)
	ns := env.Namespace(t)
	c := ctx(t)
	const sa = "zkchaos"

	cs, err := kubernetes.NewForConfig(env.ServiceAccountConfig(ns, sa))
	require.NoError(t, err)
	_, err = cs.CoreV1().Pods(ns).List(c, metav1.ListOptions{})
	require.Error(t, err)
	assert.True(t, apierrors.IsForbidden(err), "want Forbidden, got %v", err)

	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pod-reader"},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{""},
			Resources: []string{"pods"},
			Verbs:     []string{"list"},
		}},
	}
	require.NoError(t, env.Client.Create(c, role))
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pod-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: sa}},
	}
	require.NoError(t, env.Client.Create(c, binding))

	// RBAC reads roles from an informer: the grant takes effect shortly.
	err = wait.PollUntilContextTimeout(c, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if apierrors.IsForbidden(err) {
			return false, nil
		}
		return err == nil, err
	})
	require.NoError(t, err, "listing pods after the RoleBinding")

	// The grant is for pods list only, and for this namespace only.
	_, err = cs.CoreV1().Pods(ns).Get(c, "any", metav1.GetOptions{})
	assert.True(t, apierrors.IsForbidden(err), "get: want Forbidden, got %v", err)
	_, err = cs.CoreV1().Pods("default").List(c, metav1.ListOptions{})
	assert.True(t, apierrors.IsForbidden(err), "other namespace: want Forbidden, got %v", err)
}

func TestKubeconfig(t *testing.T) {
	env := Start(t)
	path := env.Kubeconfig(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	require.NoError(t, err)
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	_, err = cs.CoreV1().Namespaces().Get(ctx(t), "default", metav1.GetOptions{})
	require.NoError(t, err)
}

func TestNamespaceFresh(t *testing.T) {
	env := Start(t)
	a, b := env.Namespace(t), env.Namespace(t)
	assert.NotEqual(t, a, b)
	assert.Regexp(t, `^testnamespacefresh-[a-z0-9]+$`, a)
}
