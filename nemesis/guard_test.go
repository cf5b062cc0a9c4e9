package nemesis

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/internal/guard"
)

// buggyClock is a cluster whose clock setting panics once a strobe flips it:
// a bug in a goroutine that the fault starts, not in the schedule's own.
type buggyClock struct {
	*fakeCluster
	sets atomic.Int32
}

func (b *buggyClock) SetClock(context.Context, cluster.Node, cluster.ClockShift) error {
	if b.sets.Add(1) > int32(len(b.nodes)) {
		panic("clock state corrupt")
	}
	return nil
}

func (b *buggyClock) ResetClock(context.Context, cluster.Node) error { return nil }

// TestPanicInAStrobeReachesTheRunsHandler: the goroutine a clock strobe
// starts hands its panic to the run, which then ends and heals, instead of
// ending the process.
func TestPanicInAStrobeReachesTheRunsHandler(t *testing.T) {
	f, err := New(Spec{Name: KindClock, Clock: ClockStrobe, Target: TargetAll, Delta: time.Second, Period: 10 * time.Millisecond})
	require.NoError(t, err)
	got := make(chan error, 1)
	ctx := guard.WithHandler(context.Background(), func(err error) { got <- err })
	inj, err := f.Inject(ctx, &buggyClock{fakeCluster: newFake(3, "n1")}, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)
	select {
	case err := <-got:
		assert.ErrorContains(t, err, "clock strobe on [n1 n2 n3] panicked: clock state corrupt")
	case <-time.After(5 * time.Second):
		t.Fatal("the strobe's panic never reached the handler")
	}
	assert.NoError(t, inj.Heal(context.Background()), "the fault heals after its goroutine panicked")
}
