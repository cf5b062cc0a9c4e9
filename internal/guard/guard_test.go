package guard

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPanicInAGuardedGoroutineReachesTheHandlerAfterItsDefers(t *testing.T) {
	got := make(chan error, 1)
	ctx := WithHandler(context.Background(), func(err error) { got <- err })
	var wg sync.WaitGroup
	cleaned := false
	wg.Go(From(ctx).Func("worker 3", func() {
		defer func() { cleaned = true }()
		var m map[string]int
		m["boom"]++ // a nil map: a runtime panic, as a bug would cause
	}))
	wg.Wait()
	err := <-got
	assert.True(t, cleaned, "the goroutine's own deferred calls run first")
	var pe *PanicError
	require.True(t, errors.As(err, &pe))
	assert.Equal(t, "worker 3", pe.What)
	assert.Contains(t, err.Error(), "worker 3 panicked: assignment to entry in nil map")
	assert.Contains(t, err.Error(), "guard_test.go", "the stack says where")
}

func TestGoRecoversWithTheHandlerOfItsContext(t *testing.T) {
	got := make(chan error, 2)
	ctx, cancel := context.WithCancel(WithHandler(context.Background(), func(err error) { got <- err }))
	cancel() // a cancelled run still catches the panics of what it started
	Go(ctx, "poller", func() { panic("no roles") })
	assert.ErrorContains(t, <-got, "poller panicked: no roles")
	From(ctx).Go("follower", func() { panic(errors.New("bad line")) })
	assert.ErrorContains(t, <-got, "follower panicked: bad line")
}

func TestWithoutAHandlerTheGoroutineRunsAsGiven(t *testing.T) {
	ran := make(chan struct{})
	Go(context.Background(), "plain", func() { close(ran) })
	<-ran
	assert.Zero(t, From(context.Background()))
}

func TestGroupReraisesTheFirstPanicInTheWaitingParent(t *testing.T) {
	got := make(chan error, 1)
	ctx := WithHandler(context.Background(), func(err error) { got <- err })
	var finished sync.WaitGroup
	finished.Go(From(ctx).Func("final reads", func() {
		var g Group
		for i := range 8 {
			g.Go("get", func() {
				if i == 5 {
					panic("bad znode")
				}
			})
		}
		g.Wait()
		t.Error("Wait returned after a panic")
	}))
	finished.Wait()
	err := <-got
	var pe *PanicError
	require.True(t, errors.As(err, &pe))
	assert.Equal(t, "get", pe.What, "the error names where it panicked first")
	assert.Equal(t, 1, strings.Count(err.Error(), "panicked"), "not wrapped twice: %s", err)
	assert.Contains(t, err.Error(), "bad znode")
}

func TestRecoverJoinsThePanicToTheError(t *testing.T) {
	run := func() (err error) {
		defer Recover("final reads", &err)
		err = errors.New("node n2 unreachable")
		panic("nil session")
	}
	err := run()
	assert.ErrorContains(t, err, "node n2 unreachable")
	assert.ErrorContains(t, err, "final reads panicked: nil session")
}
