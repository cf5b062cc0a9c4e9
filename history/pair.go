package history

// Call is a client operation with its invocation and its completion.
type Call struct {
	// Invoke is the invocation record.
	Invoke Op
	// Complete is the completion record. An invocation that never completed
	// (the harness stopped first) gets a synthetic info completion with
	// Index -1 and the time of the last record in the history.
	Complete Op
}

// Type returns how the call ended: ok, fail or info.
func (c Call) Type() Type { return c.Complete.Type }

// Calls matches every client invocation with the next completion of the same
// process, in invocation order. Nemesis records are skipped.
func Calls(ops []Op) []Call {
	n := 0
	for _, op := range ops {
		if op.Type == Invoke && !op.IsNemesis() {
			n++
		}
	}
	calls := make([]Call, 0, n) // sized once: a Call is two records
	open := map[Process]int{}   // process -> index into calls
	var last int64
	for _, op := range ops {
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
		i, ok := open[op.Process]
		if !ok {
			continue // a completion without invocation: nothing to pair
		}
		calls[i].Complete = op
		delete(open, op.Process)
	}
	for _, i := range open {
		inv := calls[i].Invoke
		calls[i].Complete = Op{
			Index: -1, Type: Info, F: inv.F, Process: inv.Process, Time: last,
			Key: inv.Key, Node: inv.Node, Session: inv.Session,
			Error: "no completion recorded (run ended while in flight)",
		}
	}
	return calls
}
