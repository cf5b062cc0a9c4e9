package znodes

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSequenceOfReadsZooKeeperNames(t *testing.T) {
	for path, want := range map[string]int64{
		"/zkchaos-queue/q-0000000042": 42,
		"/a/s-2147483647":             2147483647,
		"q-0000000000":                0,
		"/a/b/-000000001":             -1,
	} {
		got, ok := SequenceOf(path)
		assert.True(t, ok, path)
		assert.Equal(t, want, got, path)
	}
	for _, path := range []string{"", "/", "/a/e17", "/a/q-00000000x1", "/a/q-000000001 "} {
		_, ok := SequenceOf(path)
		assert.False(t, ok, path)
	}
}
