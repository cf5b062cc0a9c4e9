package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/internal/guard"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// New builds the fault a resolved Spec describes.
func New(s Spec) (Fault, error) {
	if problems := s.Validate(); len(problems) > 0 {
		return nil, fmt.Errorf("fault %s: %s: %s", s.Kind, problems[0].Field, problems[0].Msg)
	}
	b := base{spec: s}
	switch s.Kind {
	case fault.Kill:
		return &kill{b}, nil
	case fault.Pause:
		return &pause{b}, nil
	case fault.Partition:
		return &partition{b}, nil
	case fault.Clients:
		return &clients{b}, nil
	case fault.Link:
		return &link{b}, nil
	case fault.Clock:
		return &clock{b}, nil
	case fault.Upgrade, fault.Rollback:
		return &upgrade{b}, nil
	case fault.Reconfig:
		return &reconfig{b}, nil
	case fault.PowerLoss:
		return &powerLoss{b}, nil
	case fault.FsyncDelay, fault.WriteDelay, fault.DiskError, fault.DiskFull:
		return &disk{b}, nil
	case fault.Wipe:
		return &wipe{b}, nil
	case fault.Corrupt:
		return &corrupt{b}, nil
	}
	return nil, fmt.Errorf("unknown fault %q", s.Kind)
}

// base is what every fault has: its spec, which names its kind and its
// label.
type base struct{ spec Spec }

// Kind is the spec's kind.
func (b base) Kind() fault.Kind { return b.spec.Kind }

// Label is the spec's label, e.g. "kill leader".
func (b base) Label() string { return b.spec.Label() }

// info is the fault's entry in fault.Table.
func info(f Fault) fault.Info {
	i, _ := fault.Of(f.Kind())
	return i
}

// injection is the Injection every fault returns: what was done, and how to
// undo it.
type injection struct {
	targets []string
	grudge  cluster.Grudge
	detail  string
	heal    func(ctx context.Context) error
}

func (i *injection) Targets() []string              { return i.targets }
func (i *injection) Grudge() map[string][]string    { return i.grudge }
func (i *injection) Detail() string                 { return i.detail }
func (i *injection) Heal(ctx context.Context) error { return i.heal(ctx) }

// each applies f to every node and joins the errors.
func each(nodes []cluster.Node, f func(cluster.Node) error) error {
	var errs []error
	for _, n := range nodes {
		if err := f(n); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
		}
	}
	return errors.Join(errs...)
}

// kill SIGKILLs the target nodes; healing starts them again.
type kill struct{ base }

func (k *kill) Inject(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Injection, error) {
	killer := c.(cluster.Killer)
	return takeDown(ctx, c, killer, k.spec.Target, rng, killer.Kill)
}

// takeDown stops the nodes target names with down; healing starts them.
func takeDown(ctx context.Context, c cluster.Cluster, k cluster.Killer, target string, rng *rand.Rand,
	down func(context.Context, cluster.Node) error) (Injection, error) {
	nodes, detail := resolveTarget(ctx, c, target, draw(rng, len(c.Nodes())))
	err := each(nodes, func(n cluster.Node) error { return down(ctx, n) })
	return &injection{targets: names(nodes), detail: detail, heal: func(ctx context.Context) error {
		return startStopped(ctx, k, nodes)
	}}, err
}

// startStopped starts those of nodes that are not running.
func startStopped(ctx context.Context, k cluster.Killer, nodes []cluster.Node) error {
	return each(nodes, func(n cluster.Node) error {
		if k.Running(n) {
			return nil
		}
		return k.Start(ctx, n)
	})
}

// powerLoss kills the target nodes and drops what their disks had not
// synced, as a power cut; healing starts them again on what was durable.
type powerLoss struct{ base }

func (p *powerLoss) Inject(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Injection, error) {
	disker := c.(cluster.Disker)
	return takeDown(ctx, c, disker, p.spec.Target, rng, disker.PowerLoss)
}

// wipe kills the target nodes and empties their data directories, as a
// replaced disk; healing starts them, and they resync from the leader.
type wipe struct{ base }

func (w *wipe) Inject(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Injection, error) {
	wiper := c.(cluster.Wiper)
	return takeDown(ctx, c, wiper, w.spec.Target, rng, wiper.Wipe)
}

// corrupt kills the target nodes and flips bits in a region of their
// newest transaction log or snapshot; healing starts them.
type corrupt struct{ base }

func (k *corrupt) Inject(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Injection, error) {
	wiper := c.(cluster.Wiper)
	damage := cluster.Damage{File: k.spec.File, Region: k.spec.Region}
	var flipped []string
	inj, err := takeDown(ctx, c, wiper, k.spec.Target, rng, func(ctx context.Context, n cluster.Node) error {
		what, err := wiper.Corrupt(ctx, n, damage)
		if what != "" {
			flipped = append(flipped, n.Name+": "+what)
		}
		return err
	})
	i := inj.(*injection)
	for _, f := range flipped {
		i.detail = joinDetail(i.detail, f)
	}
	return i, err
}

// pause freezes the target nodes (SIGSTOP); healing thaws them.
type pause struct{ base }

func (p *pause) Inject(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Injection, error) {
	pauser := c.(cluster.Pauser)
	nodes, detail := resolveTarget(ctx, c, p.spec.Target, draw(rng, len(c.Nodes())))
	err := each(nodes, func(n cluster.Node) error { return pauser.Pause(ctx, n) })
	return &injection{targets: names(nodes), detail: detail, heal: func(ctx context.Context) error {
		return each(nodes, func(n cluster.Node) error { return pauser.Resume(ctx, n) })
	}}, err
}

// partition cuts server-to-server links in a grudge's shape; healing restores
// every link.
type partition struct{ base }

func (p *partition) Inject(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Injection, error) {
	parter := c.(cluster.Partitioner)
	ch := draw(rng, len(c.Nodes()))
	ordered := make([]string, len(ch.perm))
	for i, j := range ch.perm {
		ordered[i] = c.Nodes()[j].Name
	}
	var targets []string
	var detail string
	if p.spec.Target != "" {
		var nodes []cluster.Node
		nodes, detail = resolveTarget(ctx, c, p.spec.Target, ch)
		targets = names(nodes)
	}
	g, err := buildGrudge(p.spec.Grudge, ordered, targets)
	if err != nil {
		return nil, err
	}
	inj := &injection{targets: grudgeNodes(g), grudge: g, detail: detail, heal: parter.HealLinks}
	return inj, parter.Partition(ctx, g, cluster.LinkMode(p.spec.Mode))
}

// clients cuts the clients pinned to the target nodes off from them.
type clients struct{ base }

func (p *clients) Inject(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Injection, error) {
	parter := c.(cluster.Partitioner)
	nodes, detail := resolveTarget(ctx, c, p.spec.Target, draw(rng, len(c.Nodes())))
	inj := &injection{targets: names(nodes), detail: detail, heal: parter.HealLinks}
	return inj, parter.IsolateClients(ctx, names(nodes))
}

// link degrades the links of the target nodes with delay, jitter and loss.
type link struct{ base }

func (l *link) Inject(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Injection, error) {
	parter := c.(cluster.Partitioner)
	nodes, detail := resolveTarget(ctx, c, l.spec.Target, draw(rng, len(c.Nodes())))
	shape := cluster.LinkShape{Delay: l.spec.Delay, Jitter: l.spec.Jitter, Loss: l.spec.Loss}
	detail = joinDetail(detail, fmt.Sprintf("delay %s, jitter %s, loss %g", shape.Delay, shape.Jitter, shape.Loss))
	inj := &injection{targets: names(nodes), detail: detail, heal: parter.HealLinks}
	return inj, parter.Shape(ctx, names(nodes), shape)
}

// clock moves the target nodes' clocks: a bump, a strobe flipping between
// the offset and real time, or a different rate. Healing resets them.
type clock struct{ base }

func (k *clock) Inject(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Injection, error) {
	clk := c.(cluster.Clock)
	nodes, detail := resolveTarget(ctx, c, k.spec.Target, draw(rng, len(c.Nodes())))
	shift := cluster.ClockShift{Offset: k.spec.Delta}
	if k.spec.Clock == ClockRate {
		shift = cluster.ClockShift{Rate: k.spec.Rate}
	}
	set := func(s cluster.ClockShift) error {
		return each(nodes, func(n cluster.Node) error { return clk.SetClock(ctx, n, s) })
	}
	err := set(shift)
	var strobe sync.WaitGroup
	stop := make(chan struct{})
	if err == nil && k.spec.Clock == ClockStrobe {
		strobe.Go(guard.From(ctx).Func(fmt.Sprintf("clock strobe on %v", names(nodes)), func() {
			t := time.NewTicker(k.spec.Period)
			defer t.Stop()
			on := true
			for {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return // the run ended (a panic elsewhere); its heal resets the clocks
				case <-t.C:
					on = !on
					s := cluster.ClockShift{}
					if on {
						s = shift
					}
					_ = each(nodes, func(n cluster.Node) error { return clk.SetClock(context.Background(), n, s) })
				}
			}
		}))
	}
	detail = joinDetail(detail, fmt.Sprintf("%s: offset %s rate %g; %s", k.spec.Clock, shift.Offset, shift.Rate, clk.ClockNote()))
	return &injection{targets: names(nodes), detail: detail, heal: func(ctx context.Context) error {
		close(stop)
		strobe.Wait()
		return each(nodes, func(n cluster.Node) error { return clk.ResetClock(ctx, n) })
	}}, err
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
