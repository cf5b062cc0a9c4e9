package k8s

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/zkchaos/zkchaos/cluster"
)

// Can says why the ensemble cannot do what need names, or nil: pause,
// client isolation, clock rates, upgrades and power loss have no Chaos Mesh
// action, and partitions, link shaping, clock shifts and disk I/O faults
// need Chaos Mesh's CRDs.
func (e *Ensemble) Can(need cluster.Capability) error {
	resource := ""
	switch need {
	case cluster.CapPause:
		return errors.New("the kubernetes backend cannot pause servers: Chaos Mesh has no action that freezes a process")
	case cluster.CapClients:
		return errors.New("the kubernetes backend cannot cut clients off their servers: the harness's own connections are not pods Chaos Mesh can select")
	case cluster.CapClockRate:
		return errors.New("the kubernetes backend cannot change a clock's rate: Chaos Mesh's TimeChaos only offsets clocks")
	case cluster.CapUpgrade:
		return errors.New("the kubernetes backend cannot restart servers on another distribution: change the StatefulSet's image instead")
	case cluster.CapDisk:
		return errors.New("the kubernetes backend cannot cut a node's power: a power loss needs a file system " +
			"that drops unsynced writes, which Chaos Mesh's IOChaos (delays and errors, no lost writes) does not offer")
	case cluster.CapDiskIO:
		resource = "iochaos"
	case cluster.CapPartition, cluster.CapLink:
		resource = "networkchaos"
	case cluster.CapClock:
		resource = "timechaos"
	}
	if resource != "" && slices.Contains(e.missing, resource) {
		return fmt.Errorf("%s faults need Chaos Mesh, but the API server does not serve %s", need, v1alpha1.SchemeGroupVersion.WithResource(resource).GroupResource())
	}
	return nil
}

// Kill takes the node's pod down with the configured kill action.
func (e *Ensemble) Kill(ctx context.Context, n cluster.Node) error {
	pod, ok := e.pods[n.Name]
	if !ok {
		return fmt.Errorf("no node %q", n.Name)
	}
	if e.kill == Delete {
		zero := int64(0)
		err := e.clients.Clientset.CoreV1().Pods(e.namespace).Delete(ctx, pod, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		if err != nil {
			return fmt.Errorf("delete pod %s: %w", pod, err)
		}
		e.mu.Lock()
		e.killed[n.Name] = nil
		e.mu.Unlock()
		return nil
	}
	obj, err := PodChaos(e.namespace, e.cfg.Run, n.Name, pod, e.container[n.Name], e.kill)
	if err != nil {
		return err
	}
	if err := e.clients.Client.Create(ctx, obj); err != nil {
		return fmt.Errorf("create PodChaos %s for pod %s: %w", e.kill, pod, err)
	}
	e.mu.Lock()
	e.killed[n.Name] = obj
	e.mu.Unlock()
	return e.waitInjected(ctx, obj)
}

// Start undoes a kill: it deletes the kill's PodChaos, if any, and waits
// until the node's pod is ready again.
func (e *Ensemble) Start(ctx context.Context, n cluster.Node) error {
	e.mu.Lock()
	obj, ok := e.killed[n.Name]
	e.mu.Unlock()
	if !ok {
		return nil
	}
	if obj != nil {
		if err := deleteAndWait(ctx, e.clients.Client, obj); err != nil {
			return err
		}
	}
	e.mu.Lock()
	delete(e.killed, n.Name)
	e.mu.Unlock()
	return e.waitReady(ctx, e.pods[n.Name])
}

// Running reports whether the node has no kill in force.
func (e *Ensemble) Running(n cluster.Node) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, killed := e.killed[n.Name]
	return !killed
}

// waitReady waits until the pod exists and is ready.
func (e *Ensemble) waitReady(ctx context.Context, pod string) error {
	var last string
	for {
		p, err := e.clients.Clientset.CoreV1().Pods(e.namespace).Get(ctx, pod, metav1.GetOptions{})
		switch {
		case err != nil:
			last = err.Error()
		case podReady(p):
			return nil
		default:
			last = "phase " + string(p.Status.Phase) + ", not ready"
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pod %s: %s: %w", pod, last, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Partition replaces any earlier partition by NetworkChaos objects that
// make the grudge true.
func (e *Ensemble) Partition(ctx context.Context, g cluster.Grudge, mode cluster.LinkMode) error {
	objs, err := Partitions(e.namespace, e.cfg.Run, g, mode, e.pods)
	if err != nil {
		return err
	}
	e.mu.Lock()
	old := e.partitions
	e.partitions = nil
	e.mu.Unlock()
	if err := e.removeAll(ctx, old); err != nil {
		return err
	}
	return e.createAll(ctx, objs, &e.partitions)
}

// Shape replaces any earlier shaping by one NetworkChaos that delays or
// drops traffic between the given nodes (all when empty) and every server.
func (e *Ensemble) Shape(ctx context.Context, nodes []string, s cluster.LinkShape) error {
	if len(nodes) == 0 {
		for _, n := range e.nodes {
			nodes = append(nodes, n.Name)
		}
	}
	selected, err := podNames(e.pods, nodes)
	if err != nil {
		return err
	}
	all := make([]string, 0, len(e.nodes))
	for _, n := range e.nodes {
		all = append(all, e.pods[n.Name])
	}
	obj, err := Netem(e.namespace, e.cfg.Run, selected, all, s)
	if err != nil {
		return err
	}
	e.mu.Lock()
	old := e.shapes
	e.shapes = nil
	e.mu.Unlock()
	if err := e.removeAll(ctx, old); err != nil {
		return err
	}
	return e.createAll(ctx, []*v1alpha1.NetworkChaos{obj}, &e.shapes)
}

// IsolateClients is not available on Kubernetes; see Can.
func (e *Ensemble) IsolateClients(context.Context, []string) error {
	return e.Can(cluster.CapClients)
}

// HealLinks deletes every partition and shaping object.
func (e *Ensemble) HealLinks(ctx context.Context) error {
	e.mu.Lock()
	objs := append(e.partitions, e.shapes...)
	e.partitions, e.shapes = nil, nil
	e.mu.Unlock()
	return e.removeAll(ctx, objs)
}

// ClientDialer is a plain dialer: partitions act inside the cluster, not on
// the harness's connections.
func (e *Ensemble) ClientDialer(cluster.Node) func(network, address string, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout
}

// SetClock shifts the node's clocks by shift.Offset with a TimeChaos,
// replacing an earlier shift; Chaos Mesh cannot change a clock's rate.
func (e *Ensemble) SetClock(ctx context.Context, n cluster.Node, shift cluster.ClockShift) error {
	if shift.Rate != 0 && shift.Rate != 1 {
		return e.Can(cluster.CapClockRate)
	}
	if err := e.ResetClock(ctx, n); err != nil {
		return err
	}
	if shift.Offset == 0 {
		return nil
	}
	obj, err := TimeChaos(e.namespace, e.cfg.Run, n.Name, e.pods[n.Name], shift.Offset)
	if err != nil {
		return err
	}
	if err := e.clients.Client.Create(ctx, obj); err != nil {
		return fmt.Errorf("create TimeChaos for %s: %w", n.Name, err)
	}
	e.mu.Lock()
	e.clocks[n.Name] = obj
	e.mu.Unlock()
	return e.waitInjected(ctx, obj)
}

// ResetClock deletes the node's TimeChaos, if any.
func (e *Ensemble) ResetClock(ctx context.Context, n cluster.Node) error {
	e.mu.Lock()
	obj := e.clocks[n.Name]
	delete(e.clocks, n.Name)
	e.mu.Unlock()
	if obj == nil {
		return nil
	}
	return deleteAndWait(ctx, e.clients.Client, obj)
}

// createAll creates the objects, appending each created one to *into.
func (e *Ensemble) createAll(ctx context.Context, objs []*v1alpha1.NetworkChaos, into *[]client.Object) error {
	for _, o := range objs {
		if err := e.clients.Client.Create(ctx, o); err != nil {
			return fmt.Errorf("create NetworkChaos %s: %w", o.Spec.Action, err)
		}
		e.mu.Lock()
		*into = append(*into, o)
		e.mu.Unlock()
	}
	for _, o := range objs {
		if err := e.waitInjected(ctx, o); err != nil {
			return err
		}
	}
	return nil
}

// waitInjected waits until Chaos Mesh reports the object's fault in force
// on every pod it selects (condition AllInjected), bounded by
// InjectTimeout: the fault's record then tells when it took effect, and a
// fault that no Chaos Mesh controller applies fails the run instead of
// letting it be judged as if the fault had happened.
func (e *Ensemble) waitInjected(ctx context.Context, obj chaosObject) error {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.InjectTimeout)
	defer cancel()
	fresh := obj.DeepCopyObject().(chaosObject)
	var last string
	for {
		err := e.clients.Client.Get(ctx, client.ObjectKeyFromObject(obj), fresh)
		if err == nil {
			if injected(fresh.GetStatus()) {
				return nil
			}
			last = conditionsOf(fresh.GetStatus())
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s not in force after %s (is the Chaos Mesh controller running?): %s: %w",
				Kind(obj), obj.GetName(), e.cfg.InjectTimeout, last, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// injected reports whether Chaos Mesh says the fault is in force on every
// selected pod.
func injected(st *v1alpha1.ChaosStatus) bool {
	for _, c := range st.Conditions {
		if c.Type == v1alpha1.ConditionAllInjected {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// conditionsOf describes a chaos object's conditions for an error message.
func conditionsOf(st *v1alpha1.ChaosStatus) string {
	if len(st.Conditions) == 0 {
		return "no status conditions yet"
	}
	parts := make([]string, 0, len(st.Conditions))
	for _, c := range st.Conditions {
		p := fmt.Sprintf("%s=%s", c.Type, c.Status)
		if c.Reason != "" {
			p += " (" + c.Reason + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// removeAll deletes every object and waits until each is gone.
func (e *Ensemble) removeAll(ctx context.Context, objs []client.Object) error {
	var errs []error
	for _, o := range objs {
		errs = append(errs, deleteAndWait(ctx, e.clients.Client, o))
	}
	return errors.Join(errs...)
}

// Kind names the kind of a chaos object or of an object of a deployed
// ensemble (a typed object read from the server carries no TypeMeta).
func Kind(obj client.Object) string {
	switch obj.(type) {
	case *appsv1.StatefulSet:
		return "StatefulSet"
	case *corev1.Service:
		return "Service"
	case *corev1.PersistentVolumeClaim:
		return "PersistentVolumeClaim"
	case *v1alpha1.PodChaos:
		return v1alpha1.KindPodChaos
	case *v1alpha1.NetworkChaos:
		return v1alpha1.KindNetworkChaos
	case *v1alpha1.TimeChaos:
		return v1alpha1.KindTimeChaos
	case *v1alpha1.IOChaos:
		return v1alpha1.KindIOChaos
	}
	return fmt.Sprintf("%T", obj)
}

// deleteAndWait deletes a chaos object and waits until it is gone: Chaos
// Mesh holds it with a finalizer until it has undone the fault.
func deleteAndWait(ctx context.Context, c client.Client, obj client.Object) error {
	kind := Kind(obj)
	if err := c.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete %s %s: %w", kind, obj.GetName(), err)
	}
	key := client.ObjectKeyFromObject(obj)
	fresh := obj.DeepCopyObject().(client.Object)
	for {
		err := c.Get(ctx, key, fresh)
		if apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s still exists (Chaos Mesh has not removed its finalizer): %w", kind, obj.GetName(), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Close deletes every chaos object still in force, stops the port-forwards
// and removes a deployed ensemble with its volumes.
func (e *Ensemble) Close(ctx context.Context) error {
	e.mu.Lock()
	var objs []client.Object
	for _, o := range e.killed {
		if o != nil {
			objs = append(objs, o)
		}
	}
	for _, o := range e.clocks {
		objs = append(objs, o)
	}
	objs = append(objs, e.partitions...)
	objs = append(objs, e.shapes...)
	objs = append(objs, e.diskObjects()...)
	e.killed, e.clocks, e.partitions, e.shapes = map[string]client.Object{}, map[string]client.Object{}, nil, nil
	e.mu.Unlock()
	errs := []error{e.removeAll(ctx, objs)}
	for _, f := range e.forwards {
		f.stop()
	}
	e.forwards = nil
	for _, o := range slices.Backward(e.deployed) {
		// Background: the garbage collector deletes the pods afterwards.
		err := e.clients.Client.Delete(ctx, o, client.PropagationPolicy(metav1.DeletePropagationBackground))
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove deployed %T %s: %w", o, o.GetName(), err))
		}
	}
	if len(e.deployed) > 0 {
		// A StatefulSet leaves its volume claims behind on purpose.
		sel, err := labels.Parse(e.selector)
		if err == nil {
			err = e.clients.Client.DeleteAllOf(ctx, &corev1.PersistentVolumeClaim{}, client.InNamespace(e.namespace),
				client.MatchingLabelsSelector{Selector: sel})
		}
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove the deployed ensemble's volume claims: %w", err))
		}
		e.deployed = nil
	}
	return errors.Join(errs...)
}

// ClockNote warns, in every clock fault's record, that TimeChaos is
// reported not to move a JVM's clocks.
func (e *Ensemble) ClockNote() string {
	return "Chaos Mesh TimeChaos offsets clock_gettime through the vDSO; it is reported not to affect JVMs, and zkchaos has not verified that it does"
}

// SaveLogs copies every server's log from its pod into
// dir/nodes/NAME/zookeeper.log, where the checkers look for server logs:
// the log of the container's previous instance (if the kubelet restarted
// it) and then the current one. It returns the files written.
func (e *Ensemble) SaveLogs(ctx context.Context, dir string) ([]string, error) {
	var files []string
	var errs []error
	for _, n := range e.nodes {
		path := filepath.Join(dir, "nodes", n.Name, "zookeeper.log")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
			continue
		}
		var buf bytes.Buffer
		for _, previous := range []bool{true, false} {
			opts := &corev1.PodLogOptions{Container: e.container[n.Name], Previous: previous}
			b, err := e.clients.Clientset.CoreV1().Pods(e.namespace).GetLogs(e.pods[n.Name], opts).DoRaw(ctx)
			if err != nil {
				if !previous {
					errs = append(errs, fmt.Errorf("log of pod %s: %w", e.pods[n.Name], err))
				}
				continue
			}
			buf.Write(b)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
			continue
		}
		files = append(files, path)
	}
	return files, errors.Join(errs...)
}
