package linearizable

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// StartByKey judges one key at a time: keys are independent. The budget
// bounds the time spent searching the keys, summed over them; reading the
// history, the version order of each key (which takes time in proportion to
// its calls) and judging the keys with other checkers do not count, so a
// history of any length whose keys the version order decides is decided.
func (l Checker) StartByKey(ctx context.Context) checker.KeyJudgement {
	return &judgement{l: l, ctx: ctx}
}

type judgement struct {
	l        Checker
	ctx      context.Context
	once     sync.Once
	start    time.Time
	run      *keyRun
	mu       sync.Mutex
	tally    tally
	outcomes []keyOutcome
}

func (*judgement) Record(*checker.Keys, *history.Op) {}

func (j *judgement) Key(_ context.Context, h *checker.Keys, _ string, ops []history.Op) {
	mode, refused := j.l.mode()
	if refused != nil {
		return
	}
	j.once.Do(func() {
		j.start = time.Now()
		j.run = j.l.startKeys(j.ctx, j.start, int(h.Records), nemesisAnnotations(h.Others))
	})
	began := time.Now()
	run := *j.run
	if j.l.Budget > 0 {
		run.deadline = began.Add(j.l.Budget - time.Duration(j.run.searched.Load()))
		if d, ok := j.ctx.Deadline(); ok && d.Before(run.deadline) {
			run.deadline = d
		}
	}
	keys, t := splitByKey(ops, mode == ReadQuorum)
	outcomes := make([]keyOutcome, len(keys))
	for i, kh := range keys {
		outcomes[i] = run.checkKey(kh)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.tally.okReads += t.okReads
	j.tally.okWrites += t.okWrites
	j.tally.readsLeftOut += t.readsLeftOut
	j.outcomes = append(j.outcomes, outcomes...)
}

func (j *judgement) Result(ctx context.Context, _ *checker.Keys) checker.Result {
	mode, refused := j.l.mode()
	if refused != nil {
		return *refused
	}
	if j.run != nil {
		j.run.release()
	} else {
		j.start = time.Now()
	}
	slices.SortFunc(j.outcomes, func(a, b keyOutcome) int { return strings.Compare(a.details.Key, b.details.Key) })
	res := j.l.conclude(ctx, mode, j.tally, j.outcomes)
	res.Checker = j.l.Name()
	res.Duration = time.Since(j.start)
	return res
}
