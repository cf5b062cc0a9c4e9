// Package stats counts how client operations ended, and is unknown when an
// operation a workload needs never succeeded.
package stats

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// Checker counts how client operations ended, per operation name (f). It is
// unknown ("no evidence") when an f listed in Need has no ok operation: a run
// in which, say, no read ever succeeded has tested nothing about reads.
type Checker struct {
	// Need lists the fs that must have at least one ok operation.
	Need []string
}

// Counts is how the operations of one f ended. An invocation without a
// completion counts as info.
type Counts struct {
	// OK is the number of operations that certainly happened.
	OK int `json:"ok"`
	// Fail is the number of operations that certainly did not happen.
	Fail int `json:"fail"`
	// Info is the number of indeterminate operations.
	Info int `json:"info"`
}

// Name returns "stats".
func (Checker) Name() string { return "stats" }

// Check counts ok, fail and info completions per f; Details is a
// map[string]Counts.
func (s Checker) Check(_ context.Context, ops []history.Op) checker.Result {
	start := time.Now()
	counts := map[string]Counts{}
	count(counts, ops)
	return s.result(counts, start)
}

// StartByKey counts key by key: every call is one key's.
func (s Checker) StartByKey(context.Context) checker.KeyJudgement {
	return &judgement{s: s, counts: map[string]Counts{}, start: time.Now()}
}

type judgement struct {
	s      Checker
	mu     sync.Mutex
	counts map[string]Counts
	start  time.Time
}

func (*judgement) Record(*checker.Keys, *history.Op) {}

func (j *judgement) Key(_ context.Context, _ *checker.Keys, _ string, ops []history.Op) {
	counts := map[string]Counts{}
	count(counts, ops)
	j.mu.Lock()
	defer j.mu.Unlock()
	for f, n := range counts {
		sum := j.counts[f]
		sum.OK, sum.Fail, sum.Info = sum.OK+n.OK, sum.Fail+n.Fail, sum.Info+n.Info
		j.counts[f] = sum
	}
}

func (j *judgement) Result(context.Context, *checker.Keys) checker.Result {
	return j.s.result(j.counts, j.start)
}

// count adds how the calls of ops ended to counts.
func count(counts map[string]Counts, ops []history.Op) {
	for _, c := range history.Calls(ops) {
		n := counts[c.Invoke.F]
		switch c.Type() {
		case history.OK:
			n.OK++
		case history.Fail:
			n.Fail++
		default:
			n.Info++
		}
		counts[c.Invoke.F] = n
	}
}

// result judges the counts.
func (s Checker) result(counts map[string]Counts, start time.Time) checker.Result {
	fs := make([]string, 0, len(counts))
	for f := range counts {
		fs = append(fs, f)
	}
	sort.Strings(fs)
	parts := make([]string, len(fs))
	for i, f := range fs {
		n := counts[f]
		parts[i] = fmt.Sprintf("%s %d ok / %d fail / %d info", f, n.OK, n.Fail, n.Info)
	}
	summary := "no client operations"
	if len(parts) > 0 {
		summary = strings.Join(parts, "; ")
	}

	var missing []string
	for _, f := range s.Need {
		if counts[f].OK == 0 {
			missing = append(missing, f)
		}
	}
	r := checker.Result{Checker: s.Name(), Verdict: checker.Valid, Details: counts, Message: summary + "."}
	if len(missing) > 0 {
		r.Verdict = checker.Unknown
		r.Message = fmt.Sprintf("no evidence: no %s operation completed ok (%s).",
			strings.Join(missing, ", no "), summary)
	}
	r.Duration = time.Since(start)
	return r
}
