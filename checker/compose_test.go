package checker

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/zkchaos/zkchaos/history"
)

func TestComposeWithTheRealCheckers(t *testing.T) {
	ops := hist(
		writeOK(1, key, 1, 0, 10, 1),
		readOK(2, key, 20, 30, 0, 0), // stale
	)
	c := Compose("register", Linearizable{ReadMode: ReadQuorum}, Stats{Need: []string{history.Read, history.Write}})
	r := c.Check(context.Background(), ops)
	assert.Equal(t, Invalid, r.Verdict)
	assert.Equal(t, Invalid, r.Children[0].Verdict)
	assert.Equal(t, Valid, r.Children[1].Verdict)
	assert.Len(t, r.AllVisualizations(), 1)
}
