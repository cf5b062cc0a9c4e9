package queue

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNamesAreTakenInSequenceOrder(t *testing.T) {
	names := []string{"q-0000000010", "x", "q-0000000002", "q-2147483647", "q-0000000100"}
	slices.SortFunc(names, compareNames)
	assert.Equal(t, []string{"q-0000000002", "q-0000000010", "q-0000000100", "q-2147483647", "x"}, names)
}
