package k8stest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

// nameUnsafe matches what a namespace name cannot hold.
var nameUnsafe = regexp.MustCompile(`[^a-z0-9]+`)

// Namespace creates a namespace with a fresh name for the test.
//
// The name is made from the test's name and a random suffix. The namespace is
// not deleted: no namespace controller runs to empty it, and the server
// goes when the test binary ends.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	prefix := strings.Trim(nameUnsafe.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(prefix) > 40 {
		prefix = strings.TrimRight(prefix[:40], "-")
	}
	if prefix == "" {
		prefix = "k8stest"
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := e.Client.Create(ctx, ns); err != nil {
		t.Fatalf("k8stest: creating a namespace: %v", err)
	}
	return ns.Name
}

// ReadyPod creates a pod as a StatefulSet would (name, labels incl. apps.kubernetes.io/pod-index, a container "zookeeper" with a client port), then sets its status Running, Ready with the given pod IP through the status subresource.
//
// The name is <statefulset>-<index>. The pod gets the labels a StatefulSet
// controller sets (apps.kubernetes.io/pod-index and
// statefulset.kubernetes.io/pod-name) on top of the given ones, its hostname,
// and, when the StatefulSet exists in the namespace, a controller reference
// to it. The zookeeper container listens on client port 2181.
//
// The pod is bound to a node "k8stest-node" that does not exist: to reach
// the pod through a port-forward, bind it to a Kubelet's node with ReadyPodOn.
func (e *Env) ReadyPod(t testing.TB, namespace, name string, labels map[string]string, podIP string) *corev1.Pod {
	t.Helper()
	return e.readyPod(t, "k8stest-node", namespace, name, labels, podIP)
}

func (e *Env) readyPod(t testing.TB, node, namespace, name string, labels map[string]string, podIP string) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()

	podLabels := map[string]string{}
	for k, v := range labels {
		podLabels[k] = v
	}
	podLabels["statefulset.kubernetes.io/pod-name"] = name
	i := strings.LastIndexByte(name, '-')
	set, index := name[:max(i, 0)], name[i+1:]
	if _, err := strconv.Atoi(index); i <= 0 || err != nil {
		t.Fatalf("k8stest: pod name %q is not <statefulset>-<index>", name)
	}
	if _, given := podLabels[appsv1.PodIndexLabel]; !given {
		podLabels[appsv1.PodIndexLabel] = index
	}

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: podLabels},
		Spec: corev1.PodSpec{
			Hostname: name,
			NodeName: node,
			Containers: []corev1.Container{{
				Name:  "zookeeper",
				Image: "zookeeper:3.9",
				Ports: []corev1.ContainerPort{{Name: "client", ContainerPort: 2181, Protocol: corev1.ProtocolTCP}},
			}},
		},
	}
	var sts appsv1.StatefulSet
	switch err := e.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: set}, &sts); {
	case err == nil:
		pod.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(&sts, appsv1.SchemeGroupVersion.WithKind("StatefulSet"))}
		if sts.Spec.ServiceName != "" {
			pod.Spec.Subdomain = sts.Spec.ServiceName
		}
	case !apierrors.IsNotFound(err):
		t.Fatalf("k8stest: looking up the StatefulSet of pod %s/%s: %v", namespace, name, err)
	}
	if err := e.Client.Create(ctx, pod); err != nil {
		t.Fatalf("k8stest: creating pod %s/%s: %v", namespace, name, err)
	}

	now := metav1.Now()
	condition := func(typ corev1.PodConditionType) corev1.PodCondition {
		return corev1.PodCondition{Type: typ, Status: corev1.ConditionTrue, LastTransitionTime: now}
	}
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodRunning,
		Conditions: []corev1.PodCondition{
			condition(corev1.PodScheduled),
			condition(corev1.PodInitialized),
			condition(corev1.ContainersReady),
			condition(corev1.PodReady),
		},
		HostIP:    "127.0.0.1",
		HostIPs:   []corev1.HostIP{{IP: "127.0.0.1"}},
		PodIP:     podIP,
		PodIPs:    []corev1.PodIP{{IP: podIP}},
		StartTime: &now,
		ContainerStatuses: []corev1.ContainerStatus{{
			Name:         "zookeeper",
			Image:        "zookeeper:3.9",
			Ready:        true,
			Started:      ptr(true),
			State:        corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
			RestartCount: 0,
		}},
	}
	if err := e.Client.Status().Update(ctx, pod); err != nil {
		t.Fatalf("k8stest: marking pod %s/%s ready: %v", namespace, name, err)
	}
	return pod
}

// StatefulSetClaims creates the volume claims of the StatefulSet's first
// n pods as its controller does (no controller runs here): one claim per
// volume claim template, named TEMPLATE-STATEFULSET-ORDINAL and labelled
// with the template's labels and the StatefulSet's selector. Deleting the
// StatefulSet leaves them behind, as it does in a cluster that retains
// claims.
func (e *Env) StatefulSetClaims(t testing.TB, namespace, name string, n int) []*corev1.PersistentVolumeClaim {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var sts appsv1.StatefulSet
	if err := e.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &sts); err != nil {
		t.Fatalf("k8stest: looking up StatefulSet %s/%s: %v", namespace, name, err)
	}
	var out []*corev1.PersistentVolumeClaim
	for i := range n {
		for _, tmpl := range sts.Spec.VolumeClaimTemplates {
			labels := map[string]string{}
			for k, v := range tmpl.Labels {
				labels[k] = v
			}
			if sts.Spec.Selector != nil {
				for k, v := range sts.Spec.Selector.MatchLabels {
					labels[k] = v
				}
			}
			claim := &corev1.PersistentVolumeClaim{
				ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: fmt.Sprintf("%s-%s-%d", tmpl.Name, name, i), Labels: labels},
				Spec:       *tmpl.Spec.DeepCopy(),
			}
			if err := e.Client.Create(ctx, claim); err != nil {
				t.Fatalf("k8stest: creating volume claim %s/%s: %v", namespace, claim.Name, err)
			}
			out = append(out, claim)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// ServiceAccountConfig returns a config that acts as the given service account (impersonation), so RBAC decides what it may do.
//
// The administrator impersonates the account's user name and groups; the
// ServiceAccount object need not exist.
func (e *Env) ServiceAccountConfig(namespace, name string) *rest.Config {
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + namespace + ":" + name,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
	}
	return cfg
}

// Kubeconfig writes a kubeconfig file for the administrator's config into the test's temp dir and returns its path.
func (e *Env) Kubeconfig(t testing.TB) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(name, e.srv.kubeconfig, 0o600); err != nil {
		t.Fatalf("k8stest: writing the kubeconfig: %v", err)
	}
	return name
}
