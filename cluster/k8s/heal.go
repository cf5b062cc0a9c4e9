package k8s

import (
	"context"
	"errors"
	"fmt"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Leftover is a chaos object HealLeftovers deleted.
type Leftover struct {
	// Kind is the object's kind, e.g. "NetworkChaos".
	Kind string `json:"kind"`
	// Namespace holds the object.
	Namespace string `json:"namespace"`
	// Name is the object's name.
	Name string `json:"name"`
	// Run is the run that created it.
	Run string `json:"run"`
}

// HealLeftovers deletes every chaos object the harness created in the
// namespace (all namespaces when empty), or only those of one run when run
// is not empty, and waits until Chaos Mesh has undone each: what a harness
// that was killed leaves behind.
func HealLeftovers(ctx context.Context, c client.Client, namespace, run string) ([]Leftover, error) {
	set := labels.Set{ManagedByLabel: ManagedByValue}
	if run != "" {
		set[RunLabel] = RunLabelValue(run)
	}
	opts := []client.ListOption{client.MatchingLabels(set)}
	if namespace != "" {
		opts = append(opts, client.InNamespace(namespace))
	}
	var pods v1alpha1.PodChaosList
	var nets v1alpha1.NetworkChaosList
	var times v1alpha1.TimeChaosList
	var errs []error
	var found []Leftover
	var objs []client.Object
	for _, l := range []struct {
		kind string
		list client.ObjectList
	}{{v1alpha1.KindPodChaos, &pods}, {v1alpha1.KindNetworkChaos, &nets}, {v1alpha1.KindTimeChaos, &times}} {
		if err := c.List(ctx, l.list, opts...); err != nil {
			errs = append(errs, fmt.Errorf("list %s: %w", l.kind, err))
		}
	}
	add := func(kind string, o client.Object) {
		objs = append(objs, o)
		found = append(found, Leftover{Kind: kind, Namespace: o.GetNamespace(), Name: o.GetName(), Run: o.GetLabels()[RunLabel]})
	}
	for i := range pods.Items {
		add(v1alpha1.KindPodChaos, &pods.Items[i])
	}
	for i := range nets.Items {
		add(v1alpha1.KindNetworkChaos, &nets.Items[i])
	}
	for i := range times.Items {
		add(v1alpha1.KindTimeChaos, &times.Items[i])
	}
	var out []Leftover
	for i, o := range objs {
		if err := deleteAndWait(ctx, c, o); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, found[i])
	}
	return out, errors.Join(errs...)
}
