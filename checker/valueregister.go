package checker

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/zkchaos/zkchaos/history"
)

// ValueRegister checks Jepsen-style register histories for linearizability
// per key with Porcupine: reads return a value, writes set one, and (with
// CAS) cas [old new] succeeds only when the register holds old. It judges
// histories imported from Jepsen's history.edn, where registers carry values
// but no znode versions; zkchaos's own runs use Linearizable, which also
// checks versions.
type ValueRegister struct {
	// CAS allows cas operations (Jepsen's cas-register model).
	CAS bool
	// Budget bounds the search; when spent the verdict is Unknown.
	Budget time.Duration
}

// Name returns "cas-register" or "register".
func (v ValueRegister) Name() string {
	if v.CAS {
		return "cas-register"
	}
	return "register"
}

type valueInput struct {
	f        string
	value    int64 // written, or new value of a cas
	old      int64 // a cas's expected value
	unknown  bool  // indeterminate: output not checked
	readBack int64 // value a read returned
	failed   bool  // a cas that certainly failed
}

var valueModel = porcupine.Model{
	Init: func() any { return int64(history.EDNNil) },
	Step: func(state, input, _ any) (bool, any) {
		s, in := state.(int64), input.(valueInput)
		switch in.f {
		case history.Write:
			return true, in.value
		case history.CAS:
			switch {
			case in.unknown:
				if s == in.old {
					return true, in.value
				}
				return true, s
			case in.failed:
				return s != in.old, s
			default:
				return s == in.old, in.value
			}
		default:
			return in.readBack == s, s
		}
	},
	DescribeOperation: func(input, _ any) string {
		in := input.(valueInput)
		switch in.f {
		case history.Write:
			return "write " + describeValue(in.value)
		case history.CAS:
			return fmt.Sprintf("cas %s→%s", describeValue(in.old), describeValue(in.value))
		default:
			return "read " + describeValue(in.readBack)
		}
	},
	DescribeState: func(state any) string { return describeValue(state.(int64)) },
}

func describeValue(v int64) string {
	if v == history.EDNNil {
		return "nil"
	}
	return strconv.FormatInt(v, 10)
}

// Check judges each key independently.
func (v ValueRegister) Check(ctx context.Context, ops []history.Op) Result {
	start := time.Now()
	r := Result{Checker: v.Name()}
	byKey := map[string][]porcupine.Operation{}
	var last int64
	for _, op := range ops {
		last = max(last, op.Time)
	}
	okWrites, okReads := 0, 0
	for _, c := range history.Calls(ops) {
		inv, done := c.Invoke, c.Complete
		in := valueInput{f: inv.F}
		switch inv.F {
		case history.Write:
			if inv.Value == nil {
				continue
			}
			in.value = *inv.Value
		case history.CAS:
			if !v.CAS || len(inv.Values) != 2 {
				r.Verdict, r.Message = Unknown, fmt.Sprintf("cas without [old new] or outside the cas-register model: %s", inv)
				return r
			}
			in.old, in.value = inv.Values[0], inv.Values[1]
		case history.Read:
		default:
			continue
		}
		ret := done.Time
		switch done.Type {
		case history.OK:
			if inv.F == history.Read {
				if done.Value == nil {
					continue
				}
				in.readBack = *done.Value
				okReads++
			} else {
				okWrites++
			}
		case history.Fail:
			if inv.F != history.CAS {
				continue // certainly did not happen
			}
			in.failed = true
		default:
			if inv.F == history.Read {
				continue // no effect
			}
			in.unknown, ret = true, math.MaxInt64
		}
		byKey[inv.Key] = append(byKey[inv.Key], porcupine.Operation{
			ClientId: int(inv.Process), Input: in, Call: inv.Time, Output: nil, Return: ret,
		})
	}
	if okReads == 0 || okWrites == 0 {
		r.Verdict = Unknown
		r.Message = fmt.Sprintf("no evidence: %d ok reads and %d ok writes", okReads, okWrites)
		r.Duration = time.Since(start)
		return r
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	budget := v.Budget
	if budget <= 0 {
		budget = time.Minute
	}
	deadline := time.Now().Add(budget)
	var bad, unknown []string
	for _, k := range keys {
		remaining := time.Until(deadline)
		if remaining <= 0 || ctx.Err() != nil {
			unknown = append(unknown, k)
			continue
		}
		res, info := porcupine.CheckOperationsVerbose(valueModel, byKey[k], remaining)
		switch res {
		case porcupine.Illegal:
			bad = append(bad, k)
			var buf strings.Builder
			if err := porcupine.Visualize(valueModel, info, &buf); err == nil {
				r.Visualizations = append(r.Visualizations, Visualization{Title: "key " + k, HTML: []byte(buf.String())})
			}
		case porcupine.Unknown:
			unknown = append(unknown, k)
		}
	}
	switch {
	case len(bad) > 0:
		r.Verdict = Invalid
		r.Message = fmt.Sprintf("keys not linearizable: %s", strings.Join(bad, ", "))
	case len(unknown) > 0:
		r.Verdict = Unknown
		r.Message = fmt.Sprintf("the time budget ran out before keys %s were decided", strings.Join(unknown, ", "))
	default:
		r.Verdict = Valid
		r.Message = fmt.Sprintf("all %d keys are linearizable (%d ok reads, %d ok writes)", len(keys), okReads, okWrites)
	}
	r.Details = map[string]any{"keys": len(keys), "not_linearizable": bad, "undecided": unknown}
	r.Duration = time.Since(start)
	return r
}
