package linearizable

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// panicsInParallel is a checker whose parallel work panics.
type panicsInParallel struct{}

func (panicsInParallel) Name() string { return "panics-in-parallel" }

func (panicsInParallel) Check(context.Context, []history.Op) checker.Result {
	inParallel(8, func(i int) {
		if i == 5 {
			panic("bug in key 5")
		}
	})
	return checker.Result{Verdict: checker.Valid}
}

// A panic in a checker's parallel work is the checker's unknown result, not
// a crash of the process.
func TestPanicInParallelWorkIsUnknown(t *testing.T) {
	r := checker.Compose("all", panicsInParallel{}).Check(context.Background(), nil)
	require.Len(t, r.Children, 1)
	assert.Equal(t, checker.Unknown, r.Children[0].Verdict)
	assert.Contains(t, r.Children[0].Message, "bug in key 5")
}
