package k8s

import (
	"strings"
	"testing"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/zkchaos/zkchaos/cluster"
)

var testPods = map[string]string{"n1": "zk-0", "n2": "zk-1", "n3": "zk-2", "n4": "zk-3", "n5": "zk-4"}

func TestPodChaosActions(t *testing.T) {
	for _, tc := range []struct {
		action KillAction
		want   v1alpha1.PodChaosAction
	}{
		{PodFailure, v1alpha1.PodFailureAction},
		{PodKill, v1alpha1.PodKillAction},
		{ContainerKill, v1alpha1.ContainerKillAction},
	} {
		t.Run(string(tc.action), func(t *testing.T) {
			obj, err := PodChaos("zk", "run-1", "n2", "zk-1", "zookeeper", tc.action)
			require.NoError(t, err)
			assert.Equal(t, tc.want, obj.Spec.Action)
			assert.Equal(t, map[string][]string{"zk": {"zk-1"}}, obj.Spec.Selector.Pods)
			assert.Equal(t, v1alpha1.AllMode, obj.Spec.Mode)
			assert.Equal(t, "zk", obj.Namespace)
			assert.Equal(t, map[string]string{ManagedByLabel: ManagedByValue, RunLabel: "run-1", NodeLabel: "n2"}, obj.Labels)
			assert.True(t, strings.HasPrefix(obj.GenerateName, "zkchaos-"+string(tc.action)+"-"), obj.GenerateName)
			// Defaulting by the type's own webhook code filled the namespace in.
			if tc.action == ContainerKill {
				assert.Equal(t, []string{"zookeeper"}, obj.Spec.ContainerNames)
			} else {
				assert.Empty(t, obj.Spec.ContainerNames)
			}
		})
	}
}

func TestObjectsAreCheckedByChaosMeshsOwnValidation(t *testing.T) {
	_, err := PodChaos("zk", "r", "n1", "zk-0", "zookeeper", Delete)
	require.Error(t, err, "a plain delete is not a PodChaos")

	// What Chaos Mesh's admission webhook would refuse, check refuses.
	obj, err := TimeChaos("zk", "r", "n1", "zk-0", time.Minute)
	require.NoError(t, err)
	obj.Spec.TimeOffset = "soon"
	require.ErrorContains(t, check(obj), "invalid TimeChaos")
	nc, err := Netem("zk", "r", []string{"zk-0"}, []string{"zk-0", "zk-1"}, cluster.LinkShape{Delay: time.Second})
	require.NoError(t, err)
	nc.Spec.Delay.Latency = "a while"
	require.ErrorContains(t, check(nc), "invalid NetworkChaos")

	// Defaulting fills in what the webhook would.
	nc, err = Netem("zk", "r", []string{"zk-0"}, []string{"zk-0", "zk-1"}, cluster.LinkShape{Loss: 0.5})
	require.NoError(t, err)
	nc.Spec.Direction = ""
	require.NoError(t, check(nc))
	assert.Equal(t, v1alpha1.To, nc.Spec.Direction)
}

func TestPartitionsHalvesAreOneObjectPerSideBothWays(t *testing.T) {
	g := cluster.Grudge{"n1": {"n3", "n4", "n5"}, "n2": {"n3", "n4", "n5"}, "n3": {"n1", "n2"}, "n4": {"n1", "n2"}, "n5": {"n1", "n2"}}
	objs, err := Partitions("zk", "r", g, cluster.LinkHang, testPods)
	require.NoError(t, err)
	require.Len(t, objs, 2)
	sides := map[string][]string{}
	for _, o := range objs {
		assert.Equal(t, v1alpha1.PartitionAction, o.Spec.Action)
		assert.Equal(t, v1alpha1.Both, o.Spec.Direction)
		assert.Equal(t, v1alpha1.DropPartitionBehavior, o.Spec.PartitionBehavior)
		require.NotNil(t, o.Spec.Target)
		sides[strings.Join(o.Spec.Selector.Pods["zk"], ",")] = o.Spec.Target.Selector.Pods["zk"]
	}
	assert.Equal(t, map[string][]string{
		"zk-0,zk-1":      {"zk-2", "zk-3", "zk-4"},
		"zk-2,zk-3,zk-4": {"zk-0", "zk-1"},
	}, sides)
}

func TestPartitionsOneWayCutsOnlyTheGrudgedDirection(t *testing.T) {
	// n1 does not hear n2 and n3; they still hear n1.
	g := cluster.Grudge{"n1": {"n2", "n3"}}
	objs, err := Partitions("zk", "r", g, cluster.LinkReset, testPods)
	require.NoError(t, err)
	require.Len(t, objs, 1)
	o := objs[0]
	assert.Equal(t, v1alpha1.From, o.Spec.Direction, "traffic from the targets to the selected pod is cut")
	assert.Equal(t, v1alpha1.RejectPartitionBehavior, o.Spec.PartitionBehavior)
	assert.Equal(t, []string{"zk-0"}, o.Spec.Selector.Pods["zk"])
	assert.Equal(t, []string{"zk-1", "zk-2"}, o.Spec.Target.Selector.Pods["zk"])
}

func TestPartitionsRejectUnknownNodesAndModes(t *testing.T) {
	_, err := Partitions("zk", "r", cluster.Grudge{"n1": {"n9"}}, cluster.LinkHang, testPods)
	require.ErrorContains(t, err, `"n9"`)
	_, err = Partitions("zk", "r", cluster.Grudge{"n1": {"n2"}}, "sideways", testPods)
	require.ErrorContains(t, err, "sideways")
}

func TestNetem(t *testing.T) {
	all := []string{"zk-0", "zk-1", "zk-2"}
	obj, err := Netem("zk", "r", []string{"zk-1"}, all, cluster.LinkShape{Delay: 50 * time.Millisecond, Jitter: 10 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, v1alpha1.DelayAction, obj.Spec.Action)
	assert.Equal(t, "50ms", obj.Spec.Delay.Latency)
	assert.Equal(t, "10ms", obj.Spec.Delay.Jitter)
	assert.Nil(t, obj.Spec.Loss)
	assert.Equal(t, v1alpha1.Both, obj.Spec.Direction)
	assert.Equal(t, all, obj.Spec.Target.Selector.Pods["zk"])

	obj, err = Netem("zk", "r", []string{"zk-1"}, all, cluster.LinkShape{Loss: 0.2})
	require.NoError(t, err)
	assert.Equal(t, v1alpha1.LossAction, obj.Spec.Action)
	assert.Equal(t, "20", obj.Spec.Loss.Loss, "Chaos Mesh takes loss in percent")

	obj, err = Netem("zk", "r", []string{"zk-1"}, all, cluster.LinkShape{Delay: time.Second, Loss: 0.05})
	require.NoError(t, err)
	assert.Equal(t, v1alpha1.NetemAction, obj.Spec.Action)
	assert.NotNil(t, obj.Spec.Delay)
	assert.Equal(t, "5", obj.Spec.Loss.Loss)

	_, err = Netem("zk", "r", []string{"zk-1"}, all, cluster.LinkShape{})
	require.Error(t, err)
}

func TestTimeChaos(t *testing.T) {
	obj, err := TimeChaos("zk", "r", "n3", "zk-2", -90*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "-1m30s", obj.Spec.TimeOffset)
	assert.Equal(t, []string{"zk-2"}, obj.Spec.Selector.Pods["zk"])
	assert.Equal(t, "n3", obj.Labels[NodeLabel])
	_, err = TimeChaos("zk", "r", "n3", "zk-2", 0)
	require.Error(t, err)
}

func TestRunLabelValue(t *testing.T) {
	assert.Equal(t, "20261204T150000-register-kill", RunLabelValue("20261204T150000-register-kill"))
	assert.Equal(t, "a-b-c", RunLabelValue("a/b c"))
	long := RunLabelValue("_" + strings.Repeat("x", 80) + "-end")
	assert.Len(t, long, 63)
	assert.True(t, strings.HasSuffix(long, "-end"))
	assert.Equal(t, "", RunLabelValue("///"))
}

func TestMyID(t *testing.T) {
	pod := func(name string, labels, annotations map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations}}
	}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want int
		err  string
	}{
		{"annotation wins", pod("zk-0", map[string]string{podIndexLabel: "0"}, map[string]string{MyIDAnnotation: "7"}), 7, ""},
		{"pod index label", pod("zk-a", map[string]string{podIndexLabel: "2"}, nil), 3, ""},
		{"name suffix", pod("zookeeper-4", nil, nil), 5, ""},
		{"bad annotation", pod("zk-0", nil, map[string]string{MyIDAnnotation: "zero"}), 0, "not a server id"},
		{"zero annotation", pod("zk-0", nil, map[string]string{MyIDAnnotation: "0"}), 0, "not a server id"},
		{"no ordinal", pod("zookeeper", nil, nil), 0, "no ordinal"},
		{"bad ordinal", pod("zk-x", nil, nil), 0, "not a number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := MyID(tc.pod)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, id)
		})
	}
}
