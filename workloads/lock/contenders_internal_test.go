package lock

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestContendersQueueInSequenceOrder(t *testing.T) {
	got := contenders([]string{"lock-0000000012", "other", "lock-0000000003", "lock-x", "lock-0000000100"})
	assert.Equal(t, []string{"lock-0000000003", "lock-0000000012", "lock-0000000100"}, got)
	assert.Empty(t, contenders(nil))
}
