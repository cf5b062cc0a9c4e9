package local

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/internal/guard"
)

// TestPanicWhenAProcessExitsReachesTheRunsHandler: the goroutine that waits
// for a server and logs its exit hands a panic to the run that started the
// ensemble, and the process still counts as exited.
func TestPanicWhenAProcessExitsReachesTheRunsHandler(t *testing.T) {
	got := make(chan error, 1)
	g := guard.From(guard.WithHandler(context.Background(), func(err error) { got <- err }))
	dir := t.TempDir()
	p, err := startProcess(g, []string{"true"}, dir, nil, filepath.Join(dir, "zookeeper.log"), func(*process) {
		panic("exit bookkeeping bug")
	})
	require.NoError(t, err)
	select {
	case err := <-got:
		assert.ErrorContains(t, err, "exit bookkeeping bug")
		assert.ErrorContains(t, err, "wait for process")
	case <-time.After(10 * time.Second):
		t.Fatal("the panic never reached the handler")
	}
	assert.True(t, p.exited())
}
