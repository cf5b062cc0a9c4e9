package workloads

import (
	"errors"
	"fmt"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"

	"github.com/zkchaos/zkchaos/history"
)

func TestOutcomeSeparatesCertainFailuresFromUnknownOnes(t *testing.T) {
	op := history.Op{Type: history.Invoke, F: history.CAS, Process: 3, Key: "k1"}
	cases := []struct {
		err  error
		want history.Type
	}{
		{zk.ErrBadVersion, history.Fail},
		{zk.ErrNoNode, history.Fail},
		{zk.ErrNodeExists, history.Fail},
		{zk.ErrNoServer, history.Fail}, // flushed unsent by the client
		{fmt.Errorf("wrapped: %w", zk.ErrBadVersion), history.Fail},
		{zk.ErrConnectionClosed, history.Info},
		{zk.ErrSessionExpired, history.Info},
		{zk.ErrSessionMoved, history.Info},
		{ErrTimeout, history.Info},
		{errors.New("anything else"), history.Info},
	}
	for _, tc := range cases {
		got := Outcome(op, tc.err)
		assert.Equal(t, tc.want, got.Type, "%v", tc.err)
		assert.Equal(t, tc.err.Error(), got.Error)
		assert.Equal(t, op.Key, got.Key, "the completion keeps the invocation's fields")
	}
}

func TestProcessesAreNeverReused(t *testing.T) {
	p := NewProcesses(10)
	seen := map[history.Process]bool{}
	for i := 0; i < 100; i++ {
		n := p.Next()
		assert.GreaterOrEqual(t, int(n), 10)
		assert.False(t, seen[n])
		seen[n] = true
	}
}
