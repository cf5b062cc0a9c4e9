// Package oracle holds reference answers for zkchaos's checkers: slow,
// plain implementations of each guarantee that share no code with the
// production path (no pairing, pruning or search of the checker package),
// written to be obviously right on small inputs. Tests compare the
// production verdict with the oracle's on many random histories.
package oracle

import (
	"fmt"
	"math"

	"github.com/zkchaos/zkchaos/history"
)

// Nil is Jepsen's nil as a register value (history.EDNNil's value, spelled
// out so the oracle depends on no constant of the production path).
const Nil = math.MinInt64

// regOp is one operation of a Jepsen register, ready for the brute force.
type regOp struct {
	f        string
	value    int64 // written, cas's new value, or the value read
	old      int64 // cas's expected value
	call     int   // position of the invocation in the history
	ret      int   // position of the completion; math.MaxInt for indeterminate
	optional bool  // indeterminate: may be left out
}

// JepsenRegister reports whether a Jepsen register history (as
// history.ReadEDN returns it) is linearizable with Knossos' meaning: :ok
// happened, :fail did not, :info may have happened at any time after its
// invocation; a read of nil fits every state; the order is the order of the
// records. Keys ([key value] tuples) are independent. It tries every order
// of every key's operations, so keep keys to about ten operations.
func JepsenRegister(ops []history.Op, cas bool, initial int64) (bool, error) {
	byKey := map[string][]regOp{}
	open := map[history.Process]int{}
	for i, op := range ops {
		if op.Process == history.NemesisProcess {
			continue
		}
		if op.Type == history.Invoke {
			open[op.Process] = i
			continue
		}
		j, ok := open[op.Process]
		if !ok {
			return false, fmt.Errorf("record %d completes nothing", i)
		}
		delete(open, op.Process)
		if err := add(byKey, ops[j], op, j, i, cas); err != nil {
			return false, err
		}
	}
	for _, j := range open {
		info := ops[j]
		info.Type = history.Info
		if err := add(byKey, ops[j], info, j, math.MaxInt, cas); err != nil {
			return false, err
		}
	}
	for _, kops := range byKey {
		if len(kops) > 62 {
			return false, fmt.Errorf("%d operations on one key are too many for brute force", len(kops))
		}
		if !linearizable(kops, 0, initial) {
			return false, nil
		}
	}
	return true, nil
}

func add(byKey map[string][]regOp, inv, done history.Op, call, ret int, cas bool) error {
	o := regOp{f: inv.F, call: call, ret: ret}
	switch inv.F {
	case history.Read:
		if done.Type != history.OK {
			return nil
		}
		if done.Value == nil {
			return fmt.Errorf("read without value at record %d", ret)
		}
		if *done.Value == Nil {
			return nil // unknown value
		}
		o.value = *done.Value
	case history.Write:
		if inv.Value == nil {
			return fmt.Errorf("write without value at record %d", call)
		}
		o.value = *inv.Value
	case history.CAS:
		if !cas || len(inv.Values) != 2 {
			return fmt.Errorf("cas the model cannot take at record %d", call)
		}
		o.old, o.value = inv.Values[0], inv.Values[1]
	default:
		return fmt.Errorf("operation %q at record %d", inv.F, call)
	}
	switch done.Type {
	case history.OK:
	case history.Fail:
		return nil
	default:
		o.optional, o.ret = true, math.MaxInt
	}
	byKey[inv.Key] = append(byKey[inv.Key], o)
	return nil
}

// linearizable tries every next operation from the set already placed:
// one may come next when no unplaced operation returned before it was
// invoked. Done when every definite operation is placed.
func linearizable(ops []regOp, placed uint64, state int64) bool {
	done := true
	for i, o := range ops {
		if placed&(1<<i) == 0 && !o.optional {
			done = false
		}
	}
	if done {
		return true
	}
	for i, o := range ops {
		if placed&(1<<i) != 0 {
			continue
		}
		blocked := false
		for j, p := range ops {
			if placed&(1<<j) == 0 && j != i && p.ret < o.call {
				blocked = true
				break
			}
		}
		if blocked {
			continue
		}
		next := state
		switch o.f {
		case history.Read:
			if state != o.value {
				continue
			}
		case history.Write:
			next = o.value
		case history.CAS:
			switch {
			case state == o.old:
				next = o.value
			case !o.optional:
				continue
			}
		}
		if linearizable(ops, placed|1<<i, next) {
			return true
		}
	}
	return false
}
