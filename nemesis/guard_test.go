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
	"github.com/zkchaos/zkchaos/nemesis/fault"
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

func (b *buggyClock) ClockNote() string { return "" }

// TestPanicInAStrobeReachesTheRunsHandler: the goroutine a clock strobe
// starts hands its panic to the run, which then ends and heals, instead of
// ending the process.
func TestPanicInAStrobeReachesTheRunsHandler(t *testing.T) {
	f, err := New(Spec{Kind: fault.Clock, Clock: ClockStrobe, Target: TargetAll, Delta: time.Second, Period: 10 * time.Millisecond})
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

// countingClock is a cluster that counts clock settings.
type countingClock struct {
	*fakeCluster
	sets atomic.Int32
}

func (c *countingClock) SetClock(context.Context, cluster.Node, cluster.ClockShift) error {
	c.sets.Add(1)
	return nil
}

func (c *countingClock) ResetClock(context.Context, cluster.Node) error { return nil }

func (c *countingClock) ClockNote() string { return "" }

// TestStrobeStopsWithItsRun: a strobe stops flipping clocks once the run
// that injected it ends (a panic elsewhere cancels it), so the heal that
// follows is not undone by a strobe still running.
func TestStrobeStopsWithItsRun(t *testing.T) {
	f, err := New(Spec{Kind: fault.Clock, Clock: ClockStrobe, Target: TargetAll, Delta: time.Second, Period: 10 * time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	c := &countingClock{fakeCluster: newFake(3, "n1")}
	inj, err := f.Inject(ctx, c, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return c.sets.Load() > 6 }, 5*time.Second, time.Millisecond, "the strobe flips")
	cancel()
	time.Sleep(30 * time.Millisecond) // a flip under way may finish
	before := c.sets.Load()
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, before, c.sets.Load(), "no flip after the run ended")
	assert.NoError(t, inj.Heal(context.Background()))
}
