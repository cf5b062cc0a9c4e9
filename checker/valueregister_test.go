package checker

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/history"
)

func jepsen(t *testing.T, text string) []history.Op {
	t.Helper()
	ops, err := history.ReadEDN(strings.NewReader(text))
	require.NoError(t, err)
	return ops
}

func TestValueRegisterOnJepsenHistories(t *testing.T) {
	ctx := context.Background()
	valid := jepsen(t, `{:type :invoke, :f :write, :value 1, :process 0, :time 1}
{:type :ok, :f :write, :value 1, :process 0, :time 2}
{:type :invoke, :f :cas, :value [1 2], :process 1, :time 3}
{:type :invoke, :f :read, :value nil, :process 2, :time 4}
{:type :ok, :f :read, :value 2, :process 2, :time 5}
{:type :info, :f :cas, :value [1 2], :process 1, :time 6}
{:type :invoke, :f :cas, :value [1 3], :process 3, :time 7}
{:type :fail, :f :cas, :value [1 3], :process 3, :time 8}`)
	assert.Equal(t, Valid, ValueRegister{CAS: true}.Check(ctx, valid).Verdict, "the info cas happened, the later cas from 1 failed")

	stale := jepsen(t, `{:type :invoke, :f :write, :value [:k 1], :process 0, :time 1}
{:type :ok, :f :write, :value [:k 1], :process 0, :time 2}
{:type :invoke, :f :read, :value [:k nil], :process 1, :time 3}
{:type :ok, :f :read, :value [:k nil], :process 1, :time 4}`)
	r := ValueRegister{}.Check(ctx, stale)
	assert.Equal(t, Invalid, r.Verdict)
	assert.Contains(t, r.Message, "k")
	assert.NotEmpty(t, r.Visualizations)

	noReads := jepsen(t, `[{:type :invoke, :f :write, :value 1, :process 0, :time 1} {:type :ok, :f :write, :value 1, :process 0, :time 2}]`)
	assert.Equal(t, Unknown, ValueRegister{}.Check(ctx, noReads).Verdict)
	assert.Equal(t, Unknown, ValueRegister{}.Check(ctx, valid).Verdict, "cas outside the register model")
}
