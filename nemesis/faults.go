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
)

// New builds the fault a resolved Spec describes.
func New(s Spec) (Fault, error) {
	if problems := s.Validate(); len(problems) > 0 {
		return nil, fmt.Errorf("fault %s: %s: %s", s.Name, problems[0].Field, problems[0].Msg)
	}
	switch s.Name {
	case KindKill:
		return &kill{spec: s}, nil
	case KindPause:
		return &pause{spec: s}, nil
	case KindPartition:
		return &partition{spec: s}, nil
	case KindClients:
		return &clients{spec: s}, nil
	case KindLink:
		return &link{spec: s}, nil
	case KindClock:
		return &clock{spec: s}, nil
	case KindUpgrade, KindRollback:
		return &upgrade{spec: s}, nil
	}
	return nil, fmt.Errorf("unknown fault %q", s.Name)
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
type kill struct{ spec Spec }

func (k *kill) Name() string       { return k.spec.Label() }
func (k *kill) Action() string     { return "kill" }
func (k *kill) HealAction() string { return "start" }
func (k *kill) Available(c cluster.Cluster) error {
	if _, ok := c.(cluster.Killer); !ok {
		return errors.New("this cluster backend cannot kill nodes")
	}
	return nil
}

func (k *kill) Inject(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Injection, error) {
	killer := c.(cluster.Killer)
	nodes, detail := resolveTarget(ctx, c, k.spec.Target, draw(rng, len(c.Nodes())))
	err := each(nodes, func(n cluster.Node) error { return killer.Kill(ctx, n) })
	return &injection{targets: names(nodes), detail: detail, heal: func(ctx context.Context) error {
		return startStopped(ctx, killer, nodes)
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

// pause freezes the target nodes (SIGSTOP); healing thaws them.
type pause struct{ spec Spec }

func (p *pause) Name() string       { return p.spec.Label() }
func (p *pause) Action() string     { return "pause" }
func (p *pause) HealAction() string { return "resume" }
func (p *pause) Available(c cluster.Cluster) error {
	if _, ok := c.(cluster.Pauser); !ok {
		return errors.New("this cluster backend cannot pause nodes")
	}
	return nil
}

func (p *pause) Inject(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Injection, error) {
	pauser := c.(cluster.Pauser)
	nodes, detail := resolveTarget(ctx, c, p.spec.Target, draw(rng, len(c.Nodes())))
	err := each(nodes, func(n cluster.Node) error { return pauser.Pause(ctx, n) })
	return &injection{targets: names(nodes), detail: detail, heal: func(ctx context.Context) error {
		return each(nodes, func(n cluster.Node) error { return pauser.Resume(ctx, n) })
	}}, err
}

// partitionCapable is a Partitioner that can say whether it was set up for
// partitions (the local backend needs its proxies started with the nodes).
type partitionCapable interface{ CanPartition() bool }

func partitionAvailable(c cluster.Cluster) error {
	if _, ok := c.(cluster.Partitioner); !ok {
		return errors.New("this cluster backend cannot partition the network")
	}
	if pc, ok := c.(partitionCapable); ok && !pc.CanPartition() {
		return errors.New("the ensemble was started without partition support")
	}
	return nil
}

// partition cuts server-to-server links in a grudge's shape; healing restores
// every link.
type partition struct{ spec Spec }

func (p *partition) Name() string       { return p.spec.Label() }
func (p *partition) Action() string     { return "partition" }
func (p *partition) HealAction() string { return "heal" }
func (p *partition) Available(c cluster.Cluster) error {
	if err := partitionAvailable(c); err != nil {
		return err
	}
	if p.spec.Grudge == GrudgeMajoritiesRing && len(c.Nodes()) < 5 {
		return fmt.Errorf("a majorities ring needs at least 5 nodes, the ensemble has %d", len(c.Nodes()))
	}
	return nil
}

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
type clients struct{ spec Spec }

func (p *clients) Name() string                      { return p.spec.Label() }
func (p *clients) Action() string                    { return "isolate-clients" }
func (p *clients) HealAction() string                { return "heal" }
func (p *clients) Available(c cluster.Cluster) error { return partitionAvailable(c) }

func (p *clients) Inject(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Injection, error) {
	parter := c.(cluster.Partitioner)
	nodes, detail := resolveTarget(ctx, c, p.spec.Target, draw(rng, len(c.Nodes())))
	inj := &injection{targets: names(nodes), detail: detail, heal: parter.HealLinks}
	return inj, parter.IsolateClients(ctx, names(nodes))
}

// link degrades the links of the target nodes with delay, jitter and loss.
type link struct{ spec Spec }

func (l *link) Name() string                      { return l.spec.Label() }
func (l *link) Action() string                    { return "shape-links" }
func (l *link) HealAction() string                { return "heal" }
func (l *link) Available(c cluster.Cluster) error { return partitionAvailable(c) }

func (l *link) Inject(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Injection, error) {
	parter := c.(cluster.Partitioner)
	nodes, detail := resolveTarget(ctx, c, l.spec.Target, draw(rng, len(c.Nodes())))
	shape := cluster.LinkShape{Delay: l.spec.Delay, Jitter: l.spec.Jitter, Loss: l.spec.Loss}
	detail = joinDetail(detail, fmt.Sprintf("delay %s, jitter %s, loss %g", shape.Delay, shape.Jitter, shape.Loss))
	inj := &injection{targets: names(nodes), detail: detail, heal: parter.HealLinks}
	return inj, parter.Shape(ctx, names(nodes), shape)
}

// clockCapable is a Clock that can say whether it was set up for clock
// faults (the local backend preloads libfaketime when the nodes start).
type clockCapable interface{ CanShiftClock() bool }

// clockNoter is a Clock that says how far its shifts reach, for the
// records of clock faults.
type clockNoter interface{ ClockNote() string }

// clock moves the target nodes' clocks: a bump, a strobe flipping between
// the offset and real time, or a different rate. Healing resets them.
type clock struct{ spec Spec }

func (k *clock) Name() string       { return k.spec.Label() }
func (k *clock) Action() string     { return "clock" }
func (k *clock) HealAction() string { return "heal" }
func (k *clock) Available(c cluster.Cluster) error {
	if _, ok := c.(cluster.Clock); !ok {
		return errors.New("this cluster backend cannot move clocks")
	}
	if cc, ok := c.(clockCapable); ok && !cc.CanShiftClock() {
		return errors.New("the ensemble was started without clock support")
	}
	return nil
}

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
	note := "the JVM's monotonic clock moves too"
	if cn, ok := c.(clockNoter); ok {
		note = cn.ClockNote()
	}
	detail = joinDetail(detail, fmt.Sprintf("%s: offset %s rate %g; %s", k.spec.Clock, shift.Offset, shift.Rate, note))
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
