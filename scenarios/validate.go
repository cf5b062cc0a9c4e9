package scenarios

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/nemesis"
)

// validate checks values that decode but make no sense.
func (s *Scenario) validate(at func(path, format string, args ...any) error, present func(path string) bool) []error {
	var errs []error
	var check cluster.Check = func(ok bool, path, format string, args ...any) {
		if !ok {
			errs = append(errs, at(path, format, args...))
		}
	}
	oneOf := check.OneOf
	check(s.Name != "" && !strings.ContainsAny(s.Name, `/\`) && s.Name != "." && s.Name != ".." && !hasControl(s.Name, false),
		"name", "must be a non-empty name without slashes or control characters (it names the run directory)")
	if err := CheckTimeLimit(s.TimeLimit); err != nil {
		errs = append(errs, at("time-limit", "%v", err))
	}
	check(s.Recovery >= 0, "recovery", "must not be negative, got %s", s.Recovery)

	c := s.Cluster
	c.validateCluster(check, present)

	w := s.Workload
	oneOf(w.Name, "workload.name", knownWorkloads)
	for _, f := range []string{"keys", "read-mode", "mix", "hold"} {
		if present("workload."+f) && slices.Contains(knownWorkloads, w.Name) && !slices.Contains(workloadParams[w.Name], f) {
			errs = append(errs, at("workload."+f, "does not apply to the %s workload", w.Name))
		}
	}
	check(w.Hold >= 0, "workload.hold", "must not be negative, got %s", w.Hold)
	if slices.Contains(workloadParams[w.Name], "keys") {
		check(w.Keys >= 1, "workload.keys", "must be at least 1, got %d", w.Keys)
		check(w.Keys <= maxKeys, "workload.keys", "must be at most %d, got %d", maxKeys, w.Keys)
		check(w.Name != "multi" || w.Keys != 1, "workload.keys",
			"must be at least 2 for the multi workload (a transaction sets two or three keys), got %d", w.Keys)
	}
	check(w.Workers >= 1, "workload.workers", "must be at least 1, got %d", w.Workers)
	check(w.Workers <= maxWorkers, "workload.workers", "must be at most %d (each worker holds a session), got %d", maxWorkers, w.Workers)
	if err := CheckRate(w.Rate); err != nil {
		errs = append(errs, at("workload.rate", "%v", err))
	}
	if slices.Contains(workloadParams[w.Name], "read-mode") {
		oneOf(w.ReadMode, "workload.read-mode", knownReadModes)
	}
	check(w.OpTimeout > 0, "workload.op-timeout", "must be positive, got %s", w.OpTimeout)
	bounds := c.sessionBounds()
	if bounds.MinWhy != "" {
		check(w.SessionTimeout >= bounds.Min, "workload.session-timeout",
			"must be at least %s (%s), got %s", bounds.MinWhy, bounds.Min, w.SessionTimeout)
	} else {
		check(w.SessionTimeout >= 0, "workload.session-timeout", "must not be negative, got %s", w.SessionTimeout)
	}
	check(w.SessionTimeout <= bounds.Max, "workload.session-timeout", "must be at most %s (%s), got %s",
		bounds.Max, bounds.MaxWhy, w.SessionTimeout)
	if m := w.Mix; slices.Contains(workloadParams[w.Name], "mix") {
		check(m.Read >= 0 && m.Write >= 0 && m.CAS >= 0, "workload.mix", "weights must not be negative")
		check(max(m.Read, m.Write, m.CAS) <= maxWeight, "workload.mix", "each weight must be at most %g", float64(maxWeight))
		check(m.Read+m.Write+m.CAS > 0, "workload.mix", "at least one weight must be positive")
	}

	n := s.Nemesis
	for i, f := range n.Faults {
		item := fmt.Sprintf("nemesis.faults[%d]", i)
		for _, p := range f.Validate() {
			path := item + "." + p.Field
			if !present(path) {
				path = item // a shorthand, or a default: point at the entry
			}
			errs = append(errs, at(path, "%s", p.Msg))
		}
	}
	for _, p := range nemesis.ValidateScript(n.Script) {
		path := fmt.Sprintf("nemesis.script[%d]", p.Step)
		if p.Field != "" && present(path+"."+p.Field) {
			path += "." + p.Field
		} else if p.Field != "" {
			// A field left out or with a default: name it, point at the step.
			errs = append(errs, at(path, "%s: %s", p.Field, p.Msg))
			continue
		}
		errs = append(errs, at(path, "%s", p.Msg))
	}
	check(len(n.Script) == 0 || len(n.Faults) == 0, "nemesis.script",
		"a scenario has either faults (a seeded schedule) or a script (steps in order), not both")
	oneOf(n.Schedule, "nemesis.schedule", knownSchedules)
	check(n.Warmup >= 0, "nemesis.warmup", "must not be negative, got %s", n.Warmup)
	check(n.Interval > 0, "nemesis.interval", "must be positive, got %s", n.Interval)
	check(n.Duration > 0, "nemesis.duration", "must be positive, got %s", n.Duration)
	if n.Schedule == ScheduleRandom {
		check(n.MaxInterval >= n.Interval, "nemesis.max-interval", "must be at least interval (%s), got %s", n.Interval, n.MaxInterval)
		check(n.MaxDuration >= n.Duration, "nemesis.max-duration", "must be at least duration (%s), got %s", n.Duration, n.MaxDuration)
	}

	check(s.Checker.TimeBudget > 0, "checker.time-budget", "must be positive, got %s", s.Checker.TimeBudget)
	return errs
}

// Bounds of the workload's numbers: far beyond what one machine's ensemble
// serves, and small enough that pacing intervals and weight sums stay exact.
const (
	maxWorkers = 1000
	maxKeys    = 10_000
	maxWeight  = 1e6
	// MinRate and MaxRate bound a workload rate other than 0 (unlimited),
	// in operations per second over all workers.
	MinRate = 0.01
	MaxRate = 1e6
	// maxSessionTimeout bounds a session timeout where no server setting
	// does: go-zookeeper sends it as 32-bit milliseconds.
	maxSessionTimeout = 24 * time.Hour
)

// CheckRate says what is wrong with a workload rate (scenario field
// workload.rate, run flag --rate), or returns nil.
func CheckRate(r float64) error {
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0):
		return fmt.Errorf("must be a finite number, got %g", r)
	case r < 0:
		return fmt.Errorf("must not be negative (0 means unlimited), got %g", r)
	case r > 0 && r < MinRate:
		return fmt.Errorf("must be 0 (unlimited) or at least %g ops/s, got %g", MinRate, r)
	case r > MaxRate:
		return fmt.Errorf("must be at most %g ops/s, got %g", MaxRate, r)
	}
	return nil
}

// CheckTimeLimit says what is wrong with a time limit (scenario field
// time-limit, run flag --time-limit), or returns nil.
func CheckTimeLimit(d time.Duration) error {
	switch {
	case d <= 0:
		return fmt.Errorf("must be positive, got %s", d)
	case d > MaxDuration:
		return fmt.Errorf("must be at most %s, got %s", MaxDuration, d)
	}
	return nil
}
