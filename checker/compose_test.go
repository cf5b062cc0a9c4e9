package checker_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/linearizable"
	"github.com/zkchaos/zkchaos/checker/stats"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/checkertest"
)

func TestComposeWithTheRealCheckers(t *testing.T) {
	ops := checkertest.Hist(
		checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1),
		checkertest.ReadOK(2, checkertest.Key, 20, 30, 0, 0), // stale
	)
	c := checker.Compose("register", linearizable.Checker{ReadMode: linearizable.ReadQuorum}, stats.Checker{Need: []string{history.Read, history.Write}})
	r := c.Check(context.Background(), ops)
	assert.Equal(t, checker.Invalid, r.Verdict)
	assert.Equal(t, checker.Invalid, r.Children[0].Verdict)
	assert.Equal(t, checker.Valid, r.Children[1].Verdict)
	assert.Len(t, r.AllVisualizations(), 1)
}
