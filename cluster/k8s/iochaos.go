package k8s

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/zkchaos/zkchaos/cluster"
)

// DataVolumes are the mount points of ZooKeeper's data (snapshots) and
// transaction log in the pods of deploy/zookeeper.yaml.tmpl, where IOChaos
// injects disk faults.
var DataVolumes = []string{"/data", "/datalog"}

// Errnos IOChaos fails operations with.
const (
	errnoEIO    = 5
	errnoENOSPC = 28
)

var (
	fsyncMethods = []v1alpha1.IoMethod{v1alpha1.Fsync}
	writeMethods = []v1alpha1.IoMethod{v1alpha1.Write}
)

// ioFault is one IOChaos action on some methods.
type ioFault struct {
	action  v1alpha1.IOChaosType
	delay   time.Duration
	errno   uint32
	share   float64
	methods []v1alpha1.IoMethod
}

// ioFaults maps disk faults to IOChaos actions. IOChaos has no jitter and
// counts no bytes, so a jitter or a disk that fills after some bytes is
// refused.
func ioFaults(f cluster.DiskFaults) ([]ioFault, error) {
	if f.FsyncJitter > 0 || f.WriteJitter > 0 {
		return nil, errors.New("IOChaos delays by a fixed latency: it has no jitter")
	}
	if f.Full && f.FreeBytes > 0 {
		return nil, errors.New("IOChaos cannot fill a disk after a number of bytes, only at once (free 0)")
	}
	var out []ioFault
	if f.FsyncDelay > 0 {
		out = append(out, ioFault{action: v1alpha1.IoLatency, delay: f.FsyncDelay, share: 1, methods: fsyncMethods})
	}
	if f.WriteDelay > 0 {
		out = append(out, ioFault{action: v1alpha1.IoLatency, delay: f.WriteDelay, share: 1, methods: writeMethods})
	}
	if f.FsyncErrors > 0 {
		out = append(out, ioFault{action: v1alpha1.IoFaults, errno: errnoEIO, share: f.FsyncErrors, methods: fsyncMethods})
	}
	if f.WriteErrors > 0 {
		out = append(out, ioFault{action: v1alpha1.IoFaults, errno: errnoEIO, share: f.WriteErrors, methods: writeMethods})
	}
	if f.Full {
		out = append(out, ioFault{action: v1alpha1.IoFaults, errno: errnoENOSPC, share: 1, methods: writeMethods})
	}
	return out, nil
}

// IOChaos builds the IOChaos objects that make one pod's disk inject f:
// one per action and data volume. A share of operations becomes a whole
// percentage, at least 1.
func IOChaos(namespace, run, node, pod, container string, f cluster.DiskFaults) ([]*v1alpha1.IOChaos, error) {
	faults, err := ioFaults(f)
	if err != nil {
		return nil, err
	}
	var out []*v1alpha1.IOChaos
	for _, io := range faults {
		for _, vol := range DataVolumes {
			sel := v1alpha1.ContainerSelector{PodSelector: podsSelector(namespace, []string{pod})}
			if container != "" {
				sel.ContainerNames = []string{container}
			}
			spec := v1alpha1.IOChaosSpec{ContainerSelector: sel, Action: io.action, Errno: io.errno,
				Percent: max(1, int(io.share*100+0.5)), Methods: io.methods, VolumePath: vol}
			if io.action == v1alpha1.IoLatency {
				spec.Delay = goDuration(io.delay)
			}
			obj := &v1alpha1.IOChaos{
				TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: v1alpha1.KindIOChaos},
				ObjectMeta: objectMeta(namespace, run, "io-"+string(io.action), node),
				Spec:       spec,
			}
			if err := check(obj); err != nil {
				return nil, err
			}
			out = append(out, obj)
		}
	}
	return out, nil
}

var _ cluster.Disker = (*Ensemble)(nil)

// PowerLoss is refused: IOChaos delays and fails I/O but loses no writes
// (see Can).
func (e *Ensemble) PowerLoss(context.Context, cluster.Node) error { return e.Can(cluster.CapDisk) }

// SetDiskFaults replaces the node's IOChaos objects with those that inject
// f; the zero DiskFaults only deletes them.
func (e *Ensemble) SetDiskFaults(ctx context.Context, n cluster.Node, f cluster.DiskFaults) error {
	if err := e.clearDisk(ctx, n); err != nil {
		return err
	}
	objs, err := IOChaos(e.namespace, e.cfg.Run, n.Name, e.pods[n.Name], e.container[n.Name], f)
	if err != nil {
		return fmt.Errorf("disk faults on %s: %w", n.Name, err)
	}
	for _, o := range objs {
		if err := e.clients.Client.Create(ctx, o); err != nil {
			return fmt.Errorf("create IOChaos %s for %s: %w", o.Spec.Action, n.Name, err)
		}
		e.mu.Lock()
		e.disks[n.Name] = append(e.disks[n.Name], o)
		e.mu.Unlock()
	}
	for _, o := range objs {
		if err := e.waitInjected(ctx, o); err != nil {
			return err
		}
	}
	return nil
}

// clearDisk deletes the node's IOChaos objects, if any.
func (e *Ensemble) clearDisk(ctx context.Context, n cluster.Node) error {
	e.mu.Lock()
	objs := e.disks[n.Name]
	delete(e.disks, n.Name)
	e.mu.Unlock()
	return e.removeAll(ctx, objs)
}

// diskObjects takes every IOChaos object still in force, for Close.
func (e *Ensemble) diskObjects() []client.Object {
	var out []client.Object
	for _, objs := range e.disks {
		out = append(out, objs...)
	}
	e.disks = map[string][]client.Object{}
	return out
}
