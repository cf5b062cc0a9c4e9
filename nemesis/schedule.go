package nemesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// Recorder takes history records; *history.Writer is one.
type Recorder interface {
	Append(op history.Op) (history.Op, error)
}

// healTimeout bounds healing after the schedule's context has ended.
const healTimeout = 2 * time.Minute

// Schedule injects one fault at a time: a quiet period, a fault picked at
// random (or the next in order) for a while, healed, and again, until the
// context ends. Quiet periods and fault durations are drawn uniformly from
// their bounds (equal bounds give a fixed interval). The seed fixes the
// sequence of faults, targets and times.
type Schedule struct {
	// Faults are picked from uniformly; none means the schedule only waits.
	Faults []Fault
	// InOrder takes the faults in the order listed, starting over after the
	// last, instead of at random: an upgrade then its rollback.
	InOrder bool
	// Warmup is the quiet time before the first fault.
	Warmup time.Duration
	// MinQuiet and MaxQuiet bound the quiet time between faults.
	MinQuiet, MaxQuiet time.Duration
	// MinDuration and MaxDuration bound how long a fault stays in force.
	MinDuration, MaxDuration time.Duration
	// Seed seeds the schedule's generator.
	Seed int64
	// Logger receives a line per action.
	Logger *slog.Logger
}

// Step is one planned fault: when it starts and how long it lasts, relative
// to the previous heal.
type Step struct {
	// Quiet is the time before the fault.
	Quiet time.Duration
	// Fault is the index into Faults.
	Fault int
	// Duration is how long the fault stays in force.
	Duration time.Duration
}

// Run drives the schedule until ctx ends, then heals the fault in force and
// returns. Every inject and heal is recorded; an inject that fails is recorded
// with its error and the schedule goes on. A heal that fails is returned.
func (s Schedule) Run(ctx context.Context, c cluster.Cluster, rec Recorder) error {
	if len(s.Faults) == 0 {
		<-ctx.Done()
		return nil
	}
	rng := rand.New(rand.NewPCG(uint64(s.Seed), 0x6e656d65736973)) // "nemesis"
	for i := 0; ; i++ {
		step := s.next(rng, i)
		if !sleep(ctx, step.Quiet) {
			return nil
		}
		f := s.Faults[step.Fault]
		inj := s.inject(ctx, f, c, rng, rec)
		if inj == nil {
			continue
		}
		sleep(ctx, step.Duration)
		healCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healTimeout)
		err := heal(healCtx, f.Label(), info(f).Heal, inj, rec, s.logger())
		cancel()
		if err != nil {
			return err
		}
	}
}

// Plan returns the first n steps the schedule will take with its seed,
// without running them.
func (s Schedule) Plan(n, nodes int) []Step {
	rng := rand.New(rand.NewPCG(uint64(s.Seed), 0x6e656d65736973))
	steps := make([]Step, n)
	for i := range steps {
		steps[i] = s.next(rng, i)
		draw(rng, nodes) // what an injection draws
	}
	return steps
}

// next draws the i-th step. It always draws the same amount from rng.
func (s Schedule) next(rng *rand.Rand, i int) Step {
	quiet := between(rng, s.MinQuiet, s.MaxQuiet)
	if i == 0 && s.Warmup > 0 {
		quiet = s.Warmup
	}
	fault := rng.IntN(max(1, len(s.Faults)))
	if s.InOrder {
		fault = i % max(1, len(s.Faults))
	}
	return Step{Quiet: quiet, Fault: fault, Duration: between(rng, s.MinDuration, s.MaxDuration)}
}

func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		_ = rng.Int64() // keep the draw count fixed
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}

func (s Schedule) logger() *slog.Logger { return orDiscard(s.Logger) }

// orDiscard returns log, or a logger that drops everything when log is nil.
func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

// inject applies f and records it: one invoke and one completion, or, for a
// fault made of steps, whatever its steps record.
func (s Schedule) inject(ctx context.Context, f Fault, c cluster.Cluster, rng *rand.Rand, rec Recorder) Injection {
	if st, ok := f.(stepper); ok {
		inj, err := st.injectSteps(ctx, c, rng, rec, s.logger())
		if err != nil {
			s.logger().Warn("fault not (fully) injected", "fault", f.Label(), "err", err)
		} else {
			s.logger().Info("fault injected", "fault", f.Label(), "action", info(f).Action, "targets", inj.Targets())
		}
		return inj
	}
	op := history.Op{Type: history.Invoke, F: info(f).Action, Process: history.NemesisProcess, Fault: &history.Fault{Name: f.Label()}}
	if _, err := rec.Append(op); err != nil {
		s.logger().Error("record nemesis action", "err", err)
	}
	inj, err := f.Inject(ctx, c, rng)
	done := op
	done.Type = history.Info
	done.Fault = &history.Fault{Name: f.Label()}
	if inj != nil {
		done.Fault.Targets = inj.Targets()
		done.Fault.Grudge = inj.Grudge()
		done.Fault.Detail = inj.Detail()
		done.Fault.Membership = membershipOf(inj)
	}
	if err != nil {
		done.Error = err.Error()
		s.logger().Warn("fault not (fully) injected", "fault", f.Label(), "err", err)
	} else {
		s.logger().Info("fault injected", "fault", f.Label(), "action", op.F, "targets", inj.Targets())
	}
	if _, err := rec.Append(done); err != nil {
		s.logger().Error("record nemesis action", "err", err)
	}
	return inj
}

// heal undoes one injection and records the heal, under the fault's label
// and the heal action of its kind.
func heal(ctx context.Context, label, action string, inj Injection, rec Recorder, log *slog.Logger) error {
	log = orDiscard(log)
	op := history.Op{Type: history.Invoke, F: action, Process: history.NemesisProcess,
		Fault: &history.Fault{Name: label, Targets: inj.Targets()}}
	_, recErr := rec.Append(op)
	err := inj.Heal(ctx)
	done := op
	done.Type = history.Info
	if m := membershipOf(inj); m != nil {
		done.Fault = &history.Fault{Name: label, Targets: inj.Targets(), Membership: m}
	}
	if err != nil {
		done.Error = err.Error()
		log.Error("heal failed", "fault", label, "targets", inj.Targets(), "err", err)
	} else {
		log.Info("fault healed", "fault", label, "action", action, "targets", inj.Targets())
	}
	_, recErr2 := rec.Append(done)
	if err != nil {
		return fmt.Errorf("heal %s on %v: %w", label, inj.Targets(), err)
	}
	if recErr := errors.Join(recErr, recErr2); recErr != nil {
		return fmt.Errorf("record heal: %w", recErr)
	}
	return nil
}

// HealAll is the safety net run after every schedule and on interrupt: it
// undoes whatever any fault may have left, whatever did it, and records each
// step: every link restored and every clock reset (when the cluster can cut
// links and move clocks), every disk's faults cleared (when it can inject
// them), every paused node resumed, every stopped node
// started, and last, once the nodes run, the initial membership restored
// (when the cluster can change it), spares stopped.
func HealAll(ctx context.Context, c cluster.Cluster, rec Recorder, log *slog.Logger) error {
	var errs []error
	healAll := func(action string, targets []string, undo func(context.Context) error) {
		inj := &injection{targets: targets, heal: undo}
		errs = append(errs, heal(ctx, "heal-all", action, inj, rec, log))
	}
	if (Spec{Kind: fault.Partition}).available(c) == nil {
		healAll(fault.Heal, names(c.Nodes()), c.(cluster.Partitioner).HealLinks)
	}
	clocks := (Spec{Kind: fault.Clock}).available(c) == nil
	disks := (Spec{Kind: fault.FsyncDelay}).available(c) == nil
	for _, n := range c.Nodes() {
		if clocks {
			clk := c.(cluster.Clock)
			healAll(fault.Heal, []string{n.Name}, func(ctx context.Context) error { return clk.ResetClock(ctx, n) })
		}
		if disks {
			d := c.(cluster.Disker)
			healAll(fault.Heal, []string{n.Name}, func(ctx context.Context) error {
				return d.SetDiskFaults(ctx, n, cluster.DiskFaults{})
			})
		}
		if p, ok := c.(cluster.Pauser); ok && p.Paused(n) {
			healAll(fault.HealResume, []string{n.Name}, func(ctx context.Context) error { return p.Resume(ctx, n) })
		}
		if k, ok := c.(cluster.Killer); ok && !k.Running(n) {
			healAll(fault.HealStart, []string{n.Name}, func(ctx context.Context) error { return k.Start(ctx, n) })
		}
	}
	if inj, ok := healMembership(c); ok {
		errs = append(errs, heal(ctx, "heal-all", fault.Heal, inj, rec, log))
	}
	return errors.Join(errs...)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
