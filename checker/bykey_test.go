package checker_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/checkertest"
)

// keysSeen counts, one key at a time, the records of each key; it panics on
// a key named "boom".
type keysSeen struct{}

func (keysSeen) Name() string { return "keys-seen" }

func (keysSeen) Check(_ context.Context, ops []history.Op) checker.Result {
	n := 0
	for _, op := range ops {
		if op.Key == "boom" {
			panic("a key named boom")
		}
		if !op.IsNemesis() {
			n++
		}
	}
	return checker.Result{Verdict: checker.Valid, Details: n}
}

func (c keysSeen) StartByKey(context.Context) checker.KeyJudgement { return &keysJudgement{c: c} }

type keysJudgement struct {
	c       keysSeen
	mu      sync.Mutex
	records int
}

func (*keysJudgement) Record(*checker.Keys, *history.Op) {}

func (j *keysJudgement) Key(ctx context.Context, _ *checker.Keys, _ string, ops []history.Op) {
	n := j.c.Check(ctx, ops).Details.(int)
	j.mu.Lock()
	defer j.mu.Unlock()
	j.records += n
}

func (j *keysJudgement) Result(context.Context, *checker.Keys) checker.Result {
	return checker.Result{Verdict: checker.Valid, Details: j.records}
}

// nemesisCount counts the nemesis's records.
type nemesisCount struct{}

func (nemesisCount) Name() string { return "nemesis-count" }

func (nemesisCount) Check(_ context.Context, ops []history.Op) checker.Result {
	n := 0
	for _, op := range ops {
		if op.IsNemesis() {
			n++
		}
	}
	return checker.Result{Verdict: checker.Valid, Details: n}
}

func (c nemesisCount) StartByKey(context.Context) checker.KeyJudgement { return checker.Whole(c) }

func TestComposedCheckersJudgeByKeyAsTheyCheck(t *testing.T) {
	ops := []history.Op{
		{Index: 0, Type: history.Invoke, F: history.Write, Process: 1, Key: "a", Value: history.Int64(1)},
		{Index: 1, Type: history.Invoke, F: "kill", Process: history.NemesisProcess, Time: 1},
		{Index: 2, Type: history.OK, F: history.Write, Process: 1, Time: 2},
		{Index: 3, Type: history.Invoke, F: history.Read, Process: 1, Time: 3, Key: "b"},
	}
	c := checker.Compose("all", keysSeen{}, checker.Compose("inner", nemesisCount{}))
	r := checkertest.RequireSameByKey(t, c, ops)
	assert.Equal(t, checker.Valid, r.Verdict)

	ops = append(ops, history.Op{Index: 4, Type: history.Invoke, F: history.Read, Process: 2, Time: 4, Key: "boom"})
	r = checkertest.RequireSameByKey(t, c, ops)
	assert.Equal(t, checker.Unknown, r.Verdict)
	assert.Contains(t, r.Children[0].Message, "panicked: a key named boom")
	assert.Equal(t, checker.Valid, r.Children[1].Verdict, "one checker's panic leaves the others alone")

	_, ok := checker.StartByKey(context.Background(), checker.Compose("mixed", keysSeen{}, plain{}))
	require.False(t, ok, "a composition judges by key only when all its checkers can")
}

// plain checks only a whole history.
type plain struct{}

func (plain) Name() string { return "plain" }

func (plain) Check(context.Context, []history.Op) checker.Result {
	return checker.Result{Verdict: checker.Valid}
}
