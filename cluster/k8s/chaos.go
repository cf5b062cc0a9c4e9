package k8s

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/zkchaos/zkchaos/cluster"
)

// Labels every chaos object of the harness carries.
const (
	// ManagedByLabel marks objects the harness created; `zkchaos heal
	// --kubernetes` deletes every chaos object carrying it.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// ManagedByValue is ManagedByLabel's value.
	ManagedByValue = "zkchaos"
	// RunLabel names the run that created the object.
	RunLabel = "zkchaos.io/run"
	// NodeLabel names the node (e.g. "n2") a per-node object acts on.
	NodeLabel = "zkchaos.io/node"
)

// KillAction is how a kill fault takes a ZooKeeper pod down.
type KillAction string

// Kill actions. PodFailure keeps the node down until it is healed, as a
// local SIGKILL does; the others end by themselves and healing waits for
// the pod to serve again.
const (
	// KillAuto is PodFailure when Chaos Mesh is installed and Delete
	// otherwise.
	KillAuto KillAction = "auto"
	// PodFailure is Chaos Mesh's pod-failure: the pod's containers run a
	// pause image until the PodChaos is deleted; the pod and its data stay.
	PodFailure KillAction = "pod-failure"
	// PodKill is Chaos Mesh's pod-kill: the pod is deleted once and the
	// StatefulSet recreates it.
	PodKill KillAction = "pod-kill"
	// ContainerKill is Chaos Mesh's container-kill: the ZooKeeper container
	// is killed and the kubelet restarts it.
	ContainerKill KillAction = "container-kill"
	// Delete deletes the pod through the API with no grace period; it needs
	// no Chaos Mesh.
	Delete KillAction = "delete"
)

// KillActions lists the valid kill actions, for scenario validation.
var KillActions = []KillAction{KillAuto, PodFailure, PodKill, ContainerKill, Delete}

// objectMeta is what every chaos object of a run starts with: a generated
// name and the harness's labels.
func objectMeta(namespace, run, kind, node string) metav1.ObjectMeta {
	labels := map[string]string{ManagedByLabel: ManagedByValue, RunLabel: run}
	if node != "" {
		labels[NodeLabel] = node
	}
	return metav1.ObjectMeta{Namespace: namespace, GenerateName: "zkchaos-" + kind + "-", Labels: labels}
}

// podsSelector selects exactly the named pods.
func podsSelector(namespace string, pods []string) v1alpha1.PodSelector {
	return v1alpha1.PodSelector{
		Selector: v1alpha1.PodSelectorSpec{Pods: map[string][]string{namespace: slices.Clone(pods)}},
		Mode:     v1alpha1.AllMode,
	}
}

// PodChaos builds the PodChaos that kills one pod with a Chaos Mesh action;
// container names the ZooKeeper container for container-kill.
func PodChaos(namespace, run, node, pod, container string, action KillAction) (*v1alpha1.PodChaos, error) {
	var a v1alpha1.PodChaosAction
	switch action {
	case PodFailure:
		a = v1alpha1.PodFailureAction
	case PodKill:
		a = v1alpha1.PodKillAction
	case ContainerKill:
		a = v1alpha1.ContainerKillAction
	default:
		return nil, fmt.Errorf("kill action %q is not a Chaos Mesh PodChaos action", action)
	}
	sel := v1alpha1.ContainerSelector{PodSelector: podsSelector(namespace, []string{pod})}
	if action == ContainerKill {
		sel.ContainerNames = []string{container}
	}
	obj := &v1alpha1.PodChaos{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: v1alpha1.KindPodChaos},
		ObjectMeta: objectMeta(namespace, run, string(action), node),
		Spec:       v1alpha1.PodChaosSpec{ContainerSelector: sel, Action: a},
	}
	return obj, check(obj)
}

// Partitions builds the NetworkChaos objects that make a grudge true: one
// object per group of nodes that drop the same peers, selecting that group
// and targeting the peers. A group whose peers drop it back is cut in both
// directions; otherwise only traffic from the peers to the group is cut.
// pods maps node names to pod names. Reset links reject packets (the
// sender is told at once); hanging links drop them silently.
func Partitions(namespace, run string, g cluster.Grudge, mode cluster.LinkMode, pods map[string]string) ([]*v1alpha1.NetworkChaos, error) {
	behavior := v1alpha1.DropPartitionBehavior
	switch mode {
	case cluster.LinkReset:
		behavior = v1alpha1.RejectPartitionBehavior
	case cluster.LinkHang, "":
	default:
		return nil, fmt.Errorf("link mode %q: want %q or %q", mode, cluster.LinkReset, cluster.LinkHang)
	}
	// Group the nodes by the set of peers they drop.
	groups := map[string][]string{}
	dropped := map[string][]string{}
	for node, peers := range g {
		if len(peers) == 0 {
			continue
		}
		ps := slices.Sorted(slices.Values(peers))
		key := strings.Join(ps, ",")
		groups[key] = append(groups[key], node)
		dropped[key] = ps
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []*v1alpha1.NetworkChaos
	for _, k := range keys {
		members := slices.Sorted(slices.Values(groups[k]))
		selected, err := podNames(pods, members)
		if err != nil {
			return nil, err
		}
		targets, err := podNames(pods, dropped[k])
		if err != nil {
			return nil, err
		}
		direction := v1alpha1.From
		if mutual(g, members, dropped[k]) {
			direction = v1alpha1.Both
		}
		target := podsSelector(namespace, targets)
		obj := &v1alpha1.NetworkChaos{
			TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: v1alpha1.KindNetworkChaos},
			ObjectMeta: objectMeta(namespace, run, "partition", ""),
			Spec: v1alpha1.NetworkChaosSpec{
				PodSelector:       podsSelector(namespace, selected),
				Action:            v1alpha1.PartitionAction,
				PartitionBehavior: behavior,
				Direction:         direction,
				Target:            &target,
			},
		}
		obj.Annotations = map[string]string{"zkchaos.io/grudge": fmt.Sprintf("%s drop %s", strings.Join(members, ","), k)}
		if err := check(obj); err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}

// mutual reports whether every peer drops every member too.
func mutual(g cluster.Grudge, members, peers []string) bool {
	for _, p := range peers {
		for _, m := range members {
			if !slices.Contains(g[p], m) {
				return false
			}
		}
	}
	return true
}

// podNames maps node names to pod names.
func podNames(pods map[string]string, nodes []string) ([]string, error) {
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		p, ok := pods[n]
		if !ok {
			return nil, fmt.Errorf("grudge names %q, which is not a node of the ensemble", n)
		}
		out = append(out, p)
	}
	return out, nil
}

// Netem builds the NetworkChaos that degrades every link between the
// selected pods and all ZooKeeper pods, both ways: delay with jitter, loss,
// or both at once.
func Netem(namespace, run string, selected, all []string, s cluster.LinkShape) (*v1alpha1.NetworkChaos, error) {
	var tc v1alpha1.TcParameter
	if s.Delay > 0 || s.Jitter > 0 {
		tc.Delay = &v1alpha1.DelaySpec{Latency: goDuration(s.Delay), Jitter: goDuration(s.Jitter), Correlation: "0"}
	}
	if s.Loss > 0 {
		tc.Loss = &v1alpha1.LossSpec{Loss: fmt.Sprintf("%g", s.Loss*100), Correlation: "0"}
	}
	action := v1alpha1.NetemAction
	switch {
	case tc.Delay == nil && tc.Loss == nil:
		return nil, fmt.Errorf("link shape %+v degrades nothing", s)
	case tc.Loss == nil:
		action = v1alpha1.DelayAction
	case tc.Delay == nil:
		action = v1alpha1.LossAction
	}
	target := podsSelector(namespace, all)
	obj := &v1alpha1.NetworkChaos{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: v1alpha1.KindNetworkChaos},
		ObjectMeta: objectMeta(namespace, run, string(action), ""),
		Spec: v1alpha1.NetworkChaosSpec{
			PodSelector: podsSelector(namespace, selected),
			Action:      action,
			TcParameter: tc,
			Direction:   v1alpha1.Both,
			Target:      &target,
		},
	}
	return obj, check(obj)
}

// goDuration formats d the way Chaos Mesh parses durations ("0ms" for 0).
func goDuration(d time.Duration) string {
	if d == 0 {
		return "0ms"
	}
	return d.String()
}

// TimeChaos builds the TimeChaos that shifts one pod's clocks by offset.
func TimeChaos(namespace, run, node, pod string, offset time.Duration) (*v1alpha1.TimeChaos, error) {
	if offset == 0 {
		return nil, fmt.Errorf("a clock offset of 0 shifts nothing")
	}
	obj := &v1alpha1.TimeChaos{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: v1alpha1.KindTimeChaos},
		ObjectMeta: objectMeta(namespace, run, "time", node),
		Spec: v1alpha1.TimeChaosSpec{
			ContainerSelector: v1alpha1.ContainerSelector{PodSelector: podsSelector(namespace, []string{pod})},
			TimeOffset:        offset.String(),
		},
	}
	return obj, check(obj)
}

// chaosObject is a Chaos Mesh object with what its type offers the admission
// webhook: defaulting and validation.
type chaosObject interface {
	client.Object
	v1alpha1.StatefulObject
	webhook.CustomDefaulter
	webhook.CustomValidator
}

// check runs the type's own defaulting and validation, as Chaos Mesh's
// admission webhook would; none may run in the cluster to catch mistakes.
func check(obj chaosObject) error {
	if err := obj.Default(context.Background(), obj); err != nil {
		return fmt.Errorf("default %s: %w", Kind(obj), err)
	}
	if _, err := obj.ValidateCreate(context.Background(), obj); err != nil {
		return fmt.Errorf("invalid %s: %w", Kind(obj), err)
	}
	return nil
}

// labelValueRE matches what may not appear in a label value.
var labelValueRE = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// RunLabelValue turns a run id (a run directory's name) into a label value:
// at most 63 characters of letters, digits, '.', '_' and '-', beginning and
// ending with a letter or digit.
func RunLabelValue(run string) string {
	v := labelValueRE.ReplaceAllString(run, "-")
	if len(v) > 63 {
		v = v[len(v)-63:]
	}
	return strings.Trim(v, "._-")
}
