package checker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zkchaos/zkchaos/history"
)

func TestWorst(t *testing.T) {
	tests := []struct {
		in   []Verdict
		want Verdict
	}{
		{nil, Unknown},
		{[]Verdict{Valid}, Valid},
		{[]Verdict{Valid, Valid}, Valid},
		{[]Verdict{Valid, Unknown}, Unknown},
		{[]Verdict{Unknown, Valid}, Unknown},
		{[]Verdict{Valid, Invalid, Unknown}, Invalid},
		{[]Verdict{Invalid, Valid}, Invalid},
		{[]Verdict{Unknown, Unknown}, Unknown},
		{[]Verdict{Valid, "garbage"}, Unknown}, // a corrupt verdict never reads as valid
		{[]Verdict{""}, Unknown},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Worst(tt.in...), "Worst(%v)", tt.in)
	}
}

// fixed is a checker with a fixed verdict.
type fixed struct {
	name    string
	verdict Verdict
	delay   time.Duration
}

func (f fixed) Name() string { return f.name }

func (f fixed) Check(context.Context, []history.Op) Result {
	time.Sleep(f.delay)
	return Result{Checker: f.name, Verdict: f.verdict, Message: "fixed",
		Visualizations: []Visualization{{Title: f.name}}}
}

type panics struct{}

func (panics) Name() string                               { return "panics" }
func (panics) Check(context.Context, []history.Op) Result { panic("boom") }

func TestComposeGivesWorstAndKeepsOrder(t *testing.T) {
	tests := []struct {
		name string
		cs   []Checker
		want Verdict
	}{
		{"all valid", []Checker{fixed{"a", Valid, 0}, fixed{"b", Valid, 0}}, Valid},
		{"one unknown", []Checker{fixed{"a", Valid, 0}, fixed{"b", Unknown, 0}}, Unknown},
		{"one invalid", []Checker{fixed{"a", Unknown, 0}, fixed{"b", Invalid, 0}, fixed{"c", Valid, 0}}, Invalid},
		{"nothing", nil, Unknown},
		{"a panic is unknown", []Checker{fixed{"a", Valid, 0}, panics{}}, Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Compose("all", tt.cs...)
			assert.Equal(t, "all", c.Name())
			r := c.Check(context.Background(), nil)
			assert.Equal(t, tt.want, r.Verdict)
			assert.Equal(t, "all", r.Checker)
			require.Len(t, r.Children, len(tt.cs))
			for i, ch := range tt.cs {
				assert.Equal(t, ch.Name(), r.Children[i].Checker, "children in the given order")
			}
		})
	}
}

func TestComposeReportsAPanic(t *testing.T) {
	r := Compose("all", panics{}).Check(context.Background(), nil)
	require.Len(t, r.Children, 1)
	assert.Equal(t, Unknown, r.Children[0].Verdict)
	assert.Contains(t, r.Children[0].Message, "checker panics panicked: boom")
	assert.Contains(t, r.Message, "panics unknown")
}

func TestComposeKeepsOrderWhenChildrenFinishOutOfOrder(t *testing.T) {
	// Slow children ordered slow-first still come back in the given order.
	c := Compose("all", fixed{"slow", Valid, 50 * time.Millisecond}, fixed{"fast", Invalid, 0})
	r := c.Check(context.Background(), nil)
	assert.Equal(t, Invalid, r.Verdict)
	assert.Equal(t, []string{"slow", "fast"}, []string{r.Children[0].Checker, r.Children[1].Checker})
	assert.Equal(t, "2 checks: slow valid, fast invalid.", r.Message)
}

func TestAllVisualizationsWalksChildren(t *testing.T) {
	inner := Compose("inner", fixed{"b", Valid, 0}, fixed{"c", Valid, 0})
	r := Compose("outer", fixed{"a", Valid, 0}, inner).Check(context.Background(), nil)
	var titles []string
	for _, v := range r.AllVisualizations() {
		titles = append(titles, v.Title)
	}
	assert.Equal(t, []string{"a", "b", "c"}, titles)
}

func TestFindAndMessagesWalkTheWholeTree(t *testing.T) {
	r := Result{Checker: "run", Verdict: Invalid, Message: "m0", Children: []Result{
		{Checker: "register", Verdict: Invalid, Message: "m1", Children: []Result{
			{Checker: "linearizable", Verdict: Invalid, Message: "m2"},
		}},
		{Checker: "recovery", Verdict: Valid, Message: "m3"},
	}}
	f, ok := r.Find("linearizable")
	require.True(t, ok)
	assert.Equal(t, "m2", f.Message)
	_, ok = r.Find("watches")
	assert.False(t, ok)
	assert.Equal(t, "run invalid: m0\nregister invalid: m1\nlinearizable invalid: m2\nrecovery valid: m3\n", r.Messages())
}
