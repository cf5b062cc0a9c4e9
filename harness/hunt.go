package harness

import (
	"context"
	"errors"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/scenarios"
)

// Hunt runs scenarios again and again on successive seeds: a bug that shows
// in one schedule of ten is found by running ten. It is what `run --runs`
// does with one variant and `compare` with two (the same scenario on two
// ZooKeeper builds, seed by seed).
type Hunt struct {
	// Variants are run in turn for every seed; each starts from its
	// scenario's own seed.
	Variants []Variant
	// Runs is how many seeds each variant runs (at least 1).
	Runs int
	// UntilInvalid stops the hunt after the first run judged invalid.
	UntilInvalid bool
	// Budget, when positive, starts no seed after this much time has
	// passed; the first always runs.
	Budget time.Duration
	// Started, when set, is called before each run.
	Started func(Trial)
	// Finished, when set, is called after each run with what Run returned.
	Finished func(Trial, Outcome, error)

	// run runs one trial; nil means Run. Tests of the loop set it.
	run func(context.Context, Options) (Outcome, error)
}

// Variant is one scenario of a hunt and where its runs go.
type Variant struct {
	// Scenario is the loaded scenario, overrides applied; its seed is the
	// first one run.
	Scenario *scenarios.Scenario
	// OutDir is the root of its run directories (default "runs").
	OutDir string
}

// Trial is one run of a hunt.
type Trial struct {
	// Variant indexes Hunt.Variants.
	Variant int
	// Index counts the seeds run before this one, from 0.
	Index int
	// Scenario is the variant's scenario with this run's seed.
	Scenario *scenarios.Scenario
}

// HuntEnd says why a hunt stopped.
type HuntEnd int

const (
	// AllRun means every seed of every variant ran.
	AllRun HuntEnd = iota
	// BudgetSpent means the budget ran out before the last seed.
	BudgetSpent
	// FoundInvalid means a run was judged invalid and the hunt stops there.
	FoundInvalid
	// Interrupted means the context was cancelled (SIGINT, SIGTERM).
	Interrupted
)

// HuntResult is what a hunt did.
type HuntResult struct {
	// End says why it stopped.
	End HuntEnd
	// Seeds is how many seeds were started.
	Seeds int
	// Last is the last run; with FoundInvalid, the invalid one.
	Last Trial
}

// Run runs the hunt with opts (its Scenario and OutDir are each variant's).
// A run that fails does not stop the hunt; its error reaches Finished.
func (h Hunt) Run(ctx context.Context, opts Options) HuntResult {
	runOne := h.run
	if runOne == nil {
		runOne = Run
	}
	started := time.Now()
	var res HuntResult
	for i := range max(h.Runs, 1) {
		if h.Budget > 0 && i > 0 && time.Since(started) >= h.Budget {
			res.End = BudgetSpent
			return res
		}
		res.Seeds = i + 1
		for v, variant := range h.Variants {
			sc := *variant.Scenario
			sc.Seed = variant.Scenario.Seed + int64(i)
			trial := Trial{Variant: v, Index: i, Scenario: &sc}
			res.Last = trial
			if h.Started != nil {
				h.Started(trial)
			}
			o := opts
			o.Scenario, o.OutDir = &sc, variant.OutDir
			out, err := runOne(ctx, o)
			if h.Finished != nil {
				h.Finished(trial, out, err)
			}
			if errors.Is(err, ErrInterrupted) || ctx.Err() != nil {
				// Whatever the run says, nothing more starts once
				// SIGINT or SIGTERM came.
				res.End = Interrupted
				return res
			}
			if h.UntilInvalid && err == nil && out.Results.Verdict == checker.Invalid {
				res.End = FoundInvalid
				return res
			}
		}
	}
	res.End = AllRun
	return res
}
