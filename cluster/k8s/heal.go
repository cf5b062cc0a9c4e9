package k8s

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Leftover is an object HealLeftovers or RemoveDeployed deleted.
type Leftover struct {
	// Kind is the object's kind, e.g. "NetworkChaos" or "StatefulSet".
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
	objs, err := ListChaos(ctx, c, namespace, harnessSet(run))
	errs := []error{err}
	var out []Leftover
	for _, o := range objs {
		if err := deleteAndWait(ctx, c, o); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, leftover(o))
	}
	return out, errors.Join(errs...)
}

// RemoveDeployed deletes the StatefulSets, Services and volume claims the
// harness deployed for an ensemble (cluster.kubernetes.deploy) in the
// namespace (all namespaces when empty), or only those of one run when run
// is not empty: what a harness killed before it removed its ensemble leaves
// behind. It deletes the StatefulSets first and lets the garbage collector
// remove their pods; it does not wait for the objects to be gone, since the
// claims' protection finalizer holds each until no pod uses it. The kinds it
// may not list (an account without the zkchaos-deploy Role, which then
// deployed nothing) are returned as forbidden, not as errors.
func RemoveDeployed(ctx context.Context, c client.Client, namespace, run string) (removed []Leftover, forbidden []string, err error) {
	opts := listOptions(namespace, harnessSet(run))
	var sets appsv1.StatefulSetList
	var services corev1.ServiceList
	var claims corev1.PersistentVolumeClaimList
	var errs []error
	for _, k := range []struct {
		resource string
		list     client.ObjectList
	}{{"statefulsets", &sets}, {"services", &services}, {"persistentvolumeclaims", &claims}} {
		err := c.List(ctx, k.list, opts...)
		switch {
		case apierrors.IsForbidden(err):
			forbidden = append(forbidden, k.resource)
		case err != nil:
			errs = append(errs, fmt.Errorf("list %s: %w", k.resource, err))
		}
	}
	objs := slices.Concat(objects(sets.Items), objects(services.Items), objects(claims.Items))
	for _, o := range objs {
		if o.GetDeletionTimestamp() != nil {
			continue // a claim still in use by a pod, deleted before
		}
		err := c.Delete(ctx, o, client.PropagationPolicy(metav1.DeletePropagationBackground))
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s %s/%s: %w", Kind(o), o.GetNamespace(), o.GetName(), err))
			continue
		}
		removed = append(removed, leftover(o))
	}
	return removed, forbidden, errors.Join(errs...)
}

// harnessSet is the label set of the harness's objects, or of one run's.
func harnessSet(run string) labels.Set {
	set := labels.Set{ManagedByLabel: ManagedByValue}
	if run != "" {
		set[RunLabel] = RunLabelValue(run)
	}
	return set
}

// listOptions select the objects whose labels hold set in the namespace
// (all namespaces when empty).
func listOptions(namespace string, set labels.Set) []client.ListOption {
	opts := []client.ListOption{client.MatchingLabels(set)}
	if namespace != "" {
		opts = append(opts, client.InNamespace(namespace))
	}
	return opts
}

// leftover describes a deleted object.
func leftover(o client.Object) Leftover {
	return Leftover{Kind: Kind(o), Namespace: o.GetNamespace(), Name: o.GetName(), Run: o.GetLabels()[RunLabel]}
}

// ListChaos lists the PodChaos, NetworkChaos, TimeChaos and IOChaos objects whose
// labels hold set, in the namespace (all namespaces when empty). A kind that
// cannot be listed is an error; the others are still returned.
func ListChaos(ctx context.Context, c client.Client, namespace string, set labels.Set) ([]client.Object, error) {
	opts := listOptions(namespace, set)
	var pods v1alpha1.PodChaosList
	var nets v1alpha1.NetworkChaosList
	var times v1alpha1.TimeChaosList
	var ios v1alpha1.IOChaosList
	var errs []error
	for _, l := range []client.ObjectList{&pods, &nets, &times, &ios} {
		if err := c.List(ctx, l, opts...); err != nil {
			errs = append(errs, fmt.Errorf("list %T: %w", l, err))
		}
	}
	return slices.Concat(objects(pods.Items), objects(nets.Items), objects(times.Items), objects(ios.Items)), errors.Join(errs...)
}

// objects points at each item of a list.
func objects[T any, P interface {
	*T
	client.Object
}](items []T) []client.Object {
	out := make([]client.Object, len(items))
	for i := range items {
		out[i] = P(&items[i])
	}
	return out
}
