package harness

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/reports"
	"github.com/zkchaos/zkchaos/scenarios"
)

// huntOf is a hunt over variants named by their first seed, whose runs are
// judged by verdict (by seed) and recorded in order as variant:seed.
func huntOf(ran *[]string, verdict func(seed int64) checker.Verdict, seeds ...int64) Hunt {
	h := Hunt{run: func(_ context.Context, o Options) (Outcome, error) {
		*ran = append(*ran, fmt.Sprintf("%s:%d", o.OutDir, o.Scenario.Seed))
		return Outcome{Results: reports.Results{Verdict: verdict(o.Scenario.Seed)}}, nil
	}}
	for i, seed := range seeds {
		h.Variants = append(h.Variants, Variant{Scenario: &scenarios.Scenario{Seed: seed}, OutDir: string(rune('a' + i))})
	}
	return h
}

func valid(int64) checker.Verdict { return checker.Valid }

func TestHuntRunsEverySeedOnEveryVariantInTurn(t *testing.T) {
	var ran []string
	h := huntOf(&ran, valid, 10, 20)
	h.Runs = 3
	var started, finished int
	h.Started = func(Trial) { started++ }
	h.Finished = func(Trial, Outcome, error) { finished++ }
	res := h.Run(t.Context(), Options{})
	assert.Equal(t, AllRun, res.End)
	assert.Equal(t, 3, res.Seeds)
	assert.Equal(t, []string{"a:10", "b:20", "a:11", "b:21", "a:12", "b:22"}, ran)
	assert.Equal(t, 6, started)
	assert.Equal(t, 6, finished)
	assert.Equal(t, int64(10), h.Variants[0].Scenario.Seed, "the variant's scenario keeps its seed")
}

func TestHuntStopsAtTheFirstInvalidRun(t *testing.T) {
	var ran []string
	h := huntOf(&ran, func(seed int64) checker.Verdict {
		if seed == 6 {
			return checker.Invalid
		}
		return checker.Valid
	}, 5)
	h.Runs, h.UntilInvalid = 10, true
	res := h.Run(t.Context(), Options{})
	assert.Equal(t, FoundInvalid, res.End)
	assert.Equal(t, 2, res.Seeds)
	assert.Equal(t, int64(6), res.Last.Scenario.Seed)
	assert.Len(t, ran, 2)
}

func TestHuntKeepsGoingPastInvalidAndFailedRunsUnlessAsked(t *testing.T) {
	var ran []string
	h := huntOf(&ran, func(int64) checker.Verdict { return checker.Invalid }, 1)
	h.Runs = 3
	assert.Equal(t, AllRun, h.Run(t.Context(), Options{}).End)
	assert.Len(t, ran, 3)

	failures := 0
	h.run = func(context.Context, Options) (Outcome, error) { return Outcome{}, errors.New("no ensemble") }
	h.Finished = func(_ Trial, _ Outcome, err error) {
		if err != nil {
			failures++
		}
	}
	assert.Equal(t, AllRun, h.Run(t.Context(), Options{}).End)
	assert.Equal(t, 3, failures, "a failed run does not end the hunt")
}

func TestHuntStartsNoSeedOnceTheBudgetIsSpent(t *testing.T) {
	var ran []string
	h := huntOf(&ran, valid, 1)
	inner := h.run
	h.Runs, h.Budget = 100, 200*time.Millisecond
	h.run = func(ctx context.Context, o Options) (Outcome, error) {
		if len(ran) == 1 {
			time.Sleep(h.Budget) // the second run spends the budget
		}
		return inner(ctx, o)
	}
	res := h.Run(t.Context(), Options{})
	assert.Equal(t, BudgetSpent, res.End)
	assert.Equal(t, 2, res.Seeds, "the seed that spent the budget finishes; no other starts")
	assert.Len(t, ran, 2)
}

func TestHuntStopsWhenInterrupted(t *testing.T) {
	var ran []string
	ctx, cancel := context.WithCancel(t.Context())
	h := huntOf(&ran, valid, 1, 2)
	h.Runs = 5
	h.run = func(context.Context, Options) (Outcome, error) {
		ran = append(ran, "run")
		cancel()
		return Outcome{}, ErrInterrupted
	}
	res := h.Run(ctx, Options{})
	assert.Equal(t, Interrupted, res.End)
	require.Len(t, ran, 1, "nothing starts after an interrupt, not even the other variant")
}
