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
)

// Recorder takes history records; *history.Writer is one.
type Recorder interface {
	Append(op history.Op) (history.Op, error)
}

// healTimeout bounds healing after the schedule's context has ended.
const healTimeout = 2 * time.Minute

// Interval is the fixed-interval schedule: Quiet time, then a fault picked at
// random for Duration, healed, and again, until the context ends. The seed
// fixes the sequence of faults and of random targets.
type Interval struct {
	// Faults are picked from uniformly; none means the schedule only waits.
	Faults []Fault
	// Quiet is the time before each fault.
	Quiet time.Duration
	// Duration is how long each fault stays in force.
	Duration time.Duration
	// Seed seeds the schedule's generator.
	Seed int64
	// Logger receives a line per action.
	Logger *slog.Logger
}

// Run drives the schedule until ctx ends, then heals the fault in force and
// returns. Every inject and heal is recorded; an inject that fails is recorded
// with its error and the schedule goes on. A heal that fails is returned.
func (s Interval) Run(ctx context.Context, c cluster.Cluster, rec Recorder) error {
	if len(s.Faults) == 0 {
		<-ctx.Done()
		return nil
	}
	rng := rand.New(rand.NewPCG(uint64(s.Seed), 0x6e656d65736973)) // "nemesis"
	for {
		if !sleep(ctx, s.Quiet) {
			return nil
		}
		f := s.Faults[rng.IntN(len(s.Faults))]
		inj := s.inject(ctx, f, c, rng, rec)
		if inj == nil {
			continue
		}
		sleep(ctx, s.Duration)
		healCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healTimeout)
		err := Heal(healCtx, f, inj, rec, s.logger())
		cancel()
		if err != nil {
			return err
		}
	}
}

func (s Interval) logger() *slog.Logger { return orDiscard(s.Logger) }

// orDiscard returns log, or a logger that drops everything when log is nil.
func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

func (s Interval) inject(ctx context.Context, f Fault, c cluster.Cluster, rng *rand.Rand, rec Recorder) Injection {
	op := history.Op{Type: history.Invoke, F: f.Action(), Process: history.NemesisProcess, Fault: &history.Fault{Name: f.Name()}}
	if _, err := rec.Append(op); err != nil {
		s.logger().Error("record nemesis action", "err", err)
	}
	inj, err := f.Inject(ctx, c, rng)
	done := op
	done.Type = history.Info
	done.Fault = &history.Fault{Name: f.Name()}
	if err != nil {
		done.Error = err.Error()
		s.logger().Warn("fault not injected", "fault", f.Name(), "err", err)
	} else {
		done.Fault.Targets = inj.Targets()
		done.Fault.Detail = inj.Detail()
		s.logger().Info("fault injected", "fault", f.Name(), "action", f.Action(), "targets", inj.Targets())
	}
	if _, err := rec.Append(done); err != nil {
		s.logger().Error("record nemesis action", "err", err)
	}
	return inj
}

// Heal undoes one injection and records the heal.
func Heal(ctx context.Context, f Fault, inj Injection, rec Recorder, log *slog.Logger) error {
	log = orDiscard(log)
	fault := &history.Fault{Name: f.Name(), Targets: inj.Targets()}
	op := history.Op{Type: history.Invoke, F: f.HealAction(), Process: history.NemesisProcess, Fault: fault}
	_, recErr := rec.Append(op)
	err := inj.Heal(ctx)
	done := op
	done.Type = history.Info
	if err != nil {
		done.Error = err.Error()
		log.Error("heal failed", "fault", f.Name(), "targets", inj.Targets(), "err", err)
	} else {
		log.Info("fault healed", "fault", f.Name(), "action", f.HealAction(), "targets", inj.Targets())
	}
	_, recErr2 := rec.Append(done)
	if err != nil {
		return fmt.Errorf("heal %s on %v: %w", f.Name(), inj.Targets(), err)
	}
	if recErr := errors.Join(recErr, recErr2); recErr != nil {
		return fmt.Errorf("record heal: %w", recErr)
	}
	return nil
}

// HealAll is the safety net run after every schedule: it starts every node
// of a Killer cluster that is not running, whatever stopped it, and records
// each start.
func HealAll(ctx context.Context, c cluster.Cluster, rec Recorder, log *slog.Logger) error {
	killer, ok := c.(cluster.Killer)
	if !ok {
		return nil
	}
	var errs []error
	for _, n := range killer.Nodes() {
		if killer.Running(n) {
			continue
		}
		inj := &killed{c: killer, node: n}
		errs = append(errs, Heal(ctx, kill{name: "heal-all"}, inj, rec, log))
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
