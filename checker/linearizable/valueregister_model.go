package linearizable

import (
	"fmt"
	"strconv"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/linsearch"
	"github.com/zkchaos/zkchaos/history"
)

// valueOp is one operation of a value register: its input, and for a
// definite read the value it returned. It is comparable, so identical
// indeterminate operations are recognised as interchangeable.
type valueOp struct {
	f             byte // 'r', 'w' or 'c'
	value         int64
	old           int64 // a cas's expected value
	indeterminate bool
}

func valueStep(s int64, in valueOp) (int64, bool) {
	switch in.f {
	case 'r':
		return s, s == in.value
	case 'w':
		return in.value, true
	default:
		if s == in.old {
			return in.value, true
		}
		return s, in.indeterminate
	}
}

var valueSearchModel = linsearch.Model[int64, valueOp]{
	Step: valueStep,
	Pure: func(in valueOp) bool { return in.f == 'r' },
	Needs: func(in valueOp) (int64, bool) {
		switch in.f {
		case 'r':
			return in.value, true
		case 'c':
			return in.old, true
		}
		return 0, false
	},
}

func (in valueOp) String() string {
	switch in.f {
	case 'r':
		return "read " + describeValue(in.value)
	case 'w':
		return "write " + describeValue(in.value)
	}
	return fmt.Sprintf("cas %s→%s", describeValue(in.old), describeValue(in.value))
}

func describeValue(v int64) string {
	if v == history.EDNNil {
		return "nil"
	}
	return strconv.FormatInt(v, 10)
}

// porcupineKey decides one key with Porcupine alone.
func (v ValueRegister) porcupineKey(k *valueKey, deadline time.Time) keyOutcome {
	start := time.Now()
	d := KeyDetails{Key: k.key, Ops: len(k.ops), Verdict: checker.Unknown, Method: MethodPorcupine}
	switch porcupine.CheckOperationsTimeout(v.porcupineModel(), v.porcupineOps(k), time.Until(deadline)) {
	case porcupine.Ok:
		d.Verdict = checker.Valid
	case porcupine.Illegal:
		d.Verdict = checker.Invalid
		d.Explanation = "Porcupine found no linearization"
	default:
		d.Explanation = "the budget ran out before the search finished"
	}
	d.Duration = time.Since(start)
	return keyOutcome{details: d}
}

// porcupineOps are a key's operations for Porcupine (an indeterminate one
// already returns after every record: see split).
func (v ValueRegister) porcupineOps(k *valueKey) []porcupine.Operation {
	pops := make([]porcupine.Operation, len(k.ops))
	for i, op := range k.ops {
		pops[i] = porcupine.Operation{ClientId: int(k.calls[i].Invoke.Process), Input: op.Input, Call: op.Call, Return: op.Return, Metadata: k.calls[i]}
	}
	return pops
}

// porcupineModel is the value register for Porcupine's visualization.
func (v ValueRegister) porcupineModel() porcupine.Model {
	return porcupine.Model{
		Init: func() any { return v.initial() },
		Step: func(state, input, _ any) (bool, any) {
			next, ok := valueStep(state.(int64), input.(valueOp))
			return ok, next
		},
		DescribeOperation: func(input, _ any) string {
			in := input.(valueOp)
			if in.indeterminate {
				return in.String() + " (indeterminate)"
			}
			return in.String()
		},
		DescribeState: func(state any) string { return describeValue(state.(int64)) },
		DescribeOperationMetadata: func(meta any) string {
			c := meta.(history.Call)
			return fmt.Sprintf("process %s, records %d and %d", c.Invoke.Process, c.Invoke.Index+1, c.Complete.Index+1)
		},
	}
}
