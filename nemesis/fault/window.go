package fault

import (
	"slices"
	"strings"

	"github.com/zkchaos/zkchaos/history"
)

// Window is one fault as a history tells it: from the record that injected
// it to the record that healed it (or, for a kind that ends itself, to its
// own completion).
type Window struct {
	// Kind is the kind of fault (OfAction of F).
	Kind Kind
	// F is the injecting action, e.g. kill.
	F string
	// Label is the fault as the records name it, e.g. "kill leader".
	Label string
	// Targets are the nodes the injection applied to.
	Targets []string
	// Start is when the fault was injected, in ns since the run started.
	Start int64
	// End is when it was healed, in ns since the run started; the end of
	// the run when it never was.
	End int64
	// Healed is false when the fault was still in force when the history
	// ended.
	Healed bool
	// HealF is the action that ended it, e.g. start; for a kind that ends
	// itself, its own action.
	HealF string
	// Outcome is the type of the injection's completion (its invoke's,
	// when it has none).
	Outcome history.Type
	// Detail is what the injection's records add, e.g. a version change
	// "3.8.0 -> 3.9.1".
	Detail string
}

// Applied reports whether the fault may have taken effect: an injection that
// failed certainly did not.
func (w Window) Applied() bool { return w.Outcome != history.Fail }

// Name is the fault's label, or its action when the records give none.
func (w Window) Name() string {
	if w.Label != "" {
		return w.Label
	}
	return w.F
}

// EndsItself reports whether the window is of a kind that its own
// completion ends, such as a version change.
func (w Window) EndsItself() bool {
	info, ok := Of(w.Kind)
	return ok && info.EndsItself()
}

// ends reports whether the healing action h ends a window opened by f: the
// heal of f's kind, or "heal" for a kind the table does not know. No healing
// action ends a kind that ends itself.
func ends(h, f string) bool {
	want := Heal
	if info, ok := Of(OfAction(f)); ok {
		if info.EndsItself() {
			return false
		}
		want = info.Heal
	}
	return word(h) == want
}

// overlaps reports whether two target lists share a node; an empty list means
// "every node", so it overlaps anything.
func overlaps(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// recordKey identifies a nemesis action so its completion can find its
// invoke. Healing records name their targets in both; an injection's invoke
// may not know them yet (kill leader finds the leader when it acts), so
// injections are matched by action and label.
func recordKey(op history.Op) string {
	if IsHeal(word(op.F)) {
		return op.F + "\x00" + strings.Join(op.Fault.Targets, "\x00")
	}
	return op.F + "\x00" + op.Fault.Name
}

// Windows pairs a history's nemesis records into windows. An injection opens
// a window (its completion, if written, records the outcome); the next healing
// record of the kind's heal action whose targets overlap closes it (kill ->
// start, pause -> resume, partition -> heal), and the healing record's
// completion, if written, moves the end to when healing finished. A kind that
// ends itself (upgrade, rollback) is ended by its own completion instead.
// Windows never healed end with the run. The harness's observations are left
// out.
func Windows(ops []history.Op) []Window {
	var last int64
	var ws []Window
	var open []int                  // indices into ws, in opening order
	awaitInject := map[string]int{} // injection invoked, completion not yet seen
	awaitHeal := map[string][]int{} // healing invoked, completion not yet seen
	for _, op := range ops {
		if op.Time > last {
			last = op.Time
		}
		if !op.IsNemesis() || op.Fault == nil || history.IsObservation(op.F) {
			continue // observations of the harness, not faults
		}
		key := recordKey(op)
		if IsHeal(word(op.F)) {
			if op.Type != history.Invoke {
				if idx, ok := awaitHeal[key]; ok {
					delete(awaitHeal, key)
					for _, i := range idx {
						ws[i].End = op.Time
					}
					continue
				}
			}
			var closed []int
			kept := open[:0]
			for _, i := range open {
				if ends(op.F, ws[i].F) && overlaps(op.Fault.Targets, ws[i].Targets) {
					ws[i].End, ws[i].Healed, ws[i].HealF = op.Time, true, op.F
					closed = append(closed, i)
					continue
				}
				kept = append(kept, i)
			}
			open = kept
			if op.Type == history.Invoke && len(closed) > 0 {
				awaitHeal[key] = closed
			}
			continue
		}
		if op.Type != history.Invoke {
			if i, ok := awaitInject[key]; ok {
				delete(awaitInject, key)
				ws[i].Outcome = op.Type
				if len(op.Fault.Targets) > 0 {
					ws[i].Targets = op.Fault.Targets
				}
				if op.Fault.Detail != "" {
					ws[i].Detail = op.Fault.Detail
				}
				switch {
				case op.Type == history.Fail:
					// Not applied: nothing to heal.
					ws[i].End = op.Time
					open = remove(open, i)
				case ws[i].EndsItself():
					ws[i].End, ws[i].Healed, ws[i].HealF = op.Time, true, op.F
					open = remove(open, i)
				}
				continue
			}
		}
		i := len(ws)
		ws = append(ws, Window{
			Kind: OfAction(op.F), F: op.F, Label: op.Fault.Name, Targets: op.Fault.Targets,
			Start: op.Time, Outcome: op.Type, Detail: op.Fault.Detail,
		})
		if op.Type == history.Fail {
			ws[i].End = op.Time
			continue
		}
		if op.Type != history.Invoke && ws[i].EndsItself() {
			// A completion without its invoke: the change happened by then.
			ws[i].End, ws[i].Healed, ws[i].HealF = op.Time, true, op.F
			continue
		}
		open = append(open, i)
		if op.Type == history.Invoke {
			awaitInject[key] = i
		}
	}
	for _, i := range open {
		ws[i].End = last
	}
	return ws
}

// remove returns xs without x.
func remove(xs []int, x int) []int {
	if j := slices.Index(xs, x); j >= 0 {
		return slices.Delete(xs, j, j+1)
	}
	return xs
}
