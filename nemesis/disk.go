package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// disk makes the target nodes' disks slow (fsync-delay, write-delay) or
// fail (disk-error, disk-full); healing clears their disk faults.
type disk struct{ base }

func (d *disk) Inject(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Injection, error) {
	disker := c.(cluster.Disker)
	nodes, detail := resolveTarget(ctx, c, d.spec.Target, draw(rng, len(c.Nodes())))
	faults := d.spec.diskFaults()
	set := func(ctx context.Context, f cluster.DiskFaults) error {
		return each(nodes, func(n cluster.Node) error { return disker.SetDiskFaults(ctx, n, f) })
	}
	inj := &injection{targets: names(nodes), detail: detail, heal: func(ctx context.Context) error {
		return set(ctx, cluster.DiskFaults{})
	}}
	return inj, set(ctx, faults)
}

// diskFaults is what a resolved disk Spec asks the target nodes' disks to
// inject.
func (s Spec) diskFaults() cluster.DiskFaults {
	switch s.Kind {
	case fault.FsyncDelay:
		return cluster.DiskFaults{FsyncDelay: s.Delay, FsyncJitter: s.Jitter}
	case fault.WriteDelay:
		return cluster.DiskFaults{WriteDelay: s.Delay, WriteJitter: s.Jitter}
	case fault.DiskError:
		var f cluster.DiskFaults
		if s.Ops != OpsFsyncs {
			f.WriteErrors = s.Share
		}
		if s.Ops != OpsWrites {
			f.FsyncErrors = s.Share
		}
		return f
	case fault.DiskFull:
		return cluster.DiskFaults{Full: true, FreeBytes: s.Free}
	}
	panic(fmt.Sprintf("nemesis: %s is not a disk fault with hooks", s.Kind))
}
