package nemesis

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/history"
)

// upgradeStepTimeout bounds each step of a rolling upgrade: the wait for a
// healthy ensemble with one leader before a node is picked, and the restart
// of that node until it has synced.
const upgradeStepTimeout = time.Minute

// upgrade restarts every node, one at a time, on another distribution, as an
// operator rolls out a release: followers first, in a seeded random order,
// the leader last, the roles looked up before each step, and each step only
// once the ensemble is healthy again. One injection is the whole sequence;
// it stops at the first step that fails. An upgrade is not healed back (a
// rollback is a fault of its own); healing starts any node a failed step
// left down. The rollback kind is the same sequence under its own name.
type upgrade struct{ base }

// stepper is a Fault whose injection is a sequence of steps, each recorded
// on its own (an invoke and a completion per node) in place of the one pair
// the schedule records for other faults.
type stepper interface {
	Fault
	injectSteps(ctx context.Context, c cluster.Cluster, rng *rand.Rand, rec Recorder, log *slog.Logger) (Injection, error)
}

var _ stepper = (*upgrade)(nil)

// Inject performs the rolling sequence without recording its steps; the
// schedule records each one (injectSteps).
func (u *upgrade) Inject(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Injection, error) {
	return u.injectSteps(ctx, c, rng, discard{}, nil)
}

// injectSteps performs the rolling sequence and records every step: for
// each node an invoke when it is picked and a completion once it has synced
// (ok), or with the error that stopped the sequence (info). A failure before
// a node is picked (the distribution does not resolve, the ensemble is not
// healthy with one leader) is recorded as such a pair without targets.
func (u *upgrade) injectSteps(ctx context.Context, c cluster.Cluster, rng *rand.Rand, rec Recorder, log *slog.Logger) (Injection, error) {
	log = orDiscard(log)
	up := c.(cluster.Upgrader)
	all := c.Nodes()
	ch := draw(rng, len(all))
	order := make([]cluster.Node, len(all))
	for i, p := range ch.perm {
		order[i] = all[p]
	}
	var done []cluster.Node
	inj := &injection{heal: func(ctx context.Context) error { return startStopped(ctx, up, done) }}
	finish := func(err error) (Injection, error) {
		inj.targets = names(done)
		return inj, err
	}

	prepCtx, cancel := context.WithTimeout(ctx, upgradeStepTimeout)
	to, err := up.Describe(prepCtx, u.spec.To)
	cancel()
	if err != nil {
		return finish(u.failed(rec, log, fmt.Errorf("%s: %w", u.spec.To, err)))
	}
	for len(done) < len(all) {
		prepCtx, cancel := context.WithTimeout(ctx, upgradeStepTimeout)
		next, leader, err := pickNext(prepCtx, c, order, done)
		cancel()
		if err != nil {
			return finish(u.failed(rec, log, err))
		}
		done = append(done, next)
		detail := up.Version(next) + " -> " + to
		log.Info("restarting node on another distribution", "fault", u.Label(), "node", next.Name,
			"leader", next.Name == leader, "change", detail)
		if err := u.restart(ctx, rec, log, up, next, detail); err != nil {
			return finish(err)
		}
	}
	return finish(nil)
}

// restart records an invoke, restarts node on the fault's distribution
// (bounded by upgradeStepTimeout) and records the completion: ok once the
// node has synced, info with the error otherwise.
func (u *upgrade) restart(ctx context.Context, rec Recorder, log *slog.Logger, up cluster.Upgrader, node cluster.Node, detail string) error {
	fault := func() *history.Fault {
		return &history.Fault{Name: u.Label(), Targets: []string{node.Name}, Detail: detail}
	}
	op := history.Op{Type: history.Invoke, F: info(u).Action, Process: history.NemesisProcess, Fault: fault()}
	record(rec, log, op)
	stepCtx, cancel := context.WithTimeout(ctx, upgradeStepTimeout)
	started := time.Now()
	err := up.Restart(stepCtx, node, u.spec.To)
	cancel()
	op.Type, op.Fault = history.OK, fault()
	if err != nil {
		op.Type, op.Error = history.Info, err.Error()
		log.Warn("rolling sequence stopped", "fault", u.Label(), "node", node.Name, "err", err)
	} else {
		log.Info("node restarted and in sync", "fault", u.Label(), "node", node.Name, "change", detail,
			"took", time.Since(started).Round(time.Millisecond))
	}
	record(rec, log, op)
	return err
}

// failed records a failure that stopped the sequence before it touched a
// node, as an invoke and an info completion without targets, and returns
// err.
func (u *upgrade) failed(rec Recorder, log *slog.Logger, err error) error {
	op := history.Op{Type: history.Invoke, F: info(u).Action, Process: history.NemesisProcess, Fault: &history.Fault{Name: u.Label()}}
	record(rec, log, op)
	op.Type, op.Error, op.Fault = history.Info, err.Error(), &history.Fault{Name: u.Label()}
	record(rec, log, op)
	log.Warn("rolling sequence stopped", "fault", u.Label(), "err", err)
	return err
}

// pickNext waits until the ensemble is healthy with one leader, then picks
// the first node of order not yet done that is not the leader, or else the
// leader. It also returns the leader's name.
func pickNext(ctx context.Context, c cluster.Cluster, order, done []cluster.Node) (cluster.Node, string, error) {
	for {
		if _, err := c.WaitHealthy(ctx, upgradeStepTimeout); err != nil {
			return cluster.Node{}, "", fmt.Errorf("waiting for a healthy ensemble before the next node: %w", err)
		}
		leader := cluster.LeaderOf(c.Roles(ctx))
		if leader != "" {
			var rest []cluster.Node
			for _, n := range order {
				if !slices.ContainsFunc(done, func(d cluster.Node) bool { return d.Name == n.Name }) {
					rest = append(rest, n)
				}
			}
			i := slices.IndexFunc(rest, func(n cluster.Node) bool { return n.Name != leader })
			if i < 0 {
				i = 0 // only the leader is left
			}
			return rest[i], leader, nil
		}
		// The roles changed between the two looks (an election): look again.
		if !sleep(ctx, 100*time.Millisecond) {
			return cluster.Node{}, "", fmt.Errorf("waiting for a single leader: %w", ctx.Err())
		}
	}
}

// record appends op, logging a failure to record.
func record(rec Recorder, log *slog.Logger, op history.Op) {
	if _, err := rec.Append(op); err != nil {
		log.Error("record nemesis action", "err", err)
	}
}

// discard is a Recorder that keeps nothing.
type discard struct{}

// Append drops op.
func (discard) Append(op history.Op) (history.Op, error) { return op, nil }
