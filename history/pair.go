package history

// Call is a client operation with its invocation and its completion. Both
// point into the history the call was paired from, which a Call's users must
// not modify: a history of millions of records is paired by many checkers at
// once, and pointers keep each pairing small.
type Call struct {
	// Invoke is the invocation record.
	Invoke *Op
	// Complete is the completion record. An invocation that never completed
	// (the harness stopped first, or its process invoked again) gets a
	// synthetic info completion with Index -1 and the time of the last
	// record in the history.
	Complete *Op
}

// Type returns how the call ended: ok, fail or info.
func (c Call) Type() Type { return c.Complete.Type }

// Records returns the indexes of the call's records in the history: its
// invocation's, then its completion's when one was written.
func (c Call) Records() []int64 {
	if c.Complete.Index < 0 {
		return []int64{c.Invoke.Index}
	}
	return []int64{c.Invoke.Index, c.Complete.Index}
}

// Calls matches every client invocation with the next completion of the same
// process, in invocation order. Nemesis records are skipped.
func Calls(ops []Op) []Call {
	n := 0
	for i := range ops {
		if ops[i].Type == Invoke && !ops[i].IsNemesis() {
			n++
		}
	}
	calls := make([]Call, 0, n) // sized once
	open := map[Process]int{}   // process -> index into calls
	var last int64
	for i := range ops {
		op := &ops[i]
		if op.Time > last {
			last = op.Time
		}
		if op.IsNemesis() {
			continue
		}
		if op.Type == Invoke {
			open[op.Process] = len(calls)
			calls = append(calls, Call{Invoke: op})
			continue
		}
		j, ok := open[op.Process]
		if !ok {
			continue // a completion without invocation: nothing to pair
		}
		calls[j].Complete = op
		delete(open, op.Process)
	}
	// Calls still open when the history ends, or abandoned by a process
	// that invoked again (a malformed history), are indeterminate.
	for j := range calls {
		if calls[j].Complete != nil {
			continue
		}
		inv := calls[j].Invoke
		calls[j].Complete = &Op{
			Index: -1, Type: Info, F: inv.F, Process: inv.Process, Time: last,
			Key: inv.Key, Node: inv.Node, Session: inv.Session,
			Error: "no completion recorded (run ended while in flight)",
		}
	}
	return calls
}
