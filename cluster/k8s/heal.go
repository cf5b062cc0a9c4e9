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
	objs, err := ListChaos(ctx, c, namespace, set)
	errs := []error{err}
	var out []Leftover
	for _, o := range objs {
		if err := deleteAndWait(ctx, c, o); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, Leftover{Kind: Kind(o), Namespace: o.GetNamespace(), Name: o.GetName(), Run: o.GetLabels()[RunLabel]})
	}
	return out, errors.Join(errs...)
}

// ListChaos lists the PodChaos, NetworkChaos and TimeChaos objects whose
// labels hold set, in the namespace (all namespaces when empty). A kind that
// cannot be listed is an error; the others are still returned.
func ListChaos(ctx context.Context, c client.Client, namespace string, set labels.Set) ([]client.Object, error) {
	opts := []client.ListOption{client.MatchingLabels(set)}
	if namespace != "" {
		opts = append(opts, client.InNamespace(namespace))
	}
	var pods v1alpha1.PodChaosList
	var nets v1alpha1.NetworkChaosList
	var times v1alpha1.TimeChaosList
	var errs []error
	for _, l := range []client.ObjectList{&pods, &nets, &times} {
		if err := c.List(ctx, l, opts...); err != nil {
			errs = append(errs, fmt.Errorf("list %T: %w", l, err))
		}
	}
	var out []client.Object
	for i := range pods.Items {
		out = append(out, &pods.Items[i])
	}
	for i := range nets.Items {
		out = append(out, &nets.Items[i])
	}
	for i := range times.Items {
		out = append(out, &times.Items[i])
	}
	return out, errors.Join(errs...)
}
