package reports

import (
	"strings"

	"github.com/zkchaos/zkchaos/history"
)

// healers names, for each kind of fault action, the action that ends it. A
// kind missing here is ended by a generic "heal" (partitions, clock jumps and
// faults this table does not know yet).
var healers = map[string]string{
	"kill":      "start",
	"stop":      "start",
	"crash":     "start",
	"pause":     "resume",
	"partition": "heal",
}

// healing lists the actions that end a fault rather than begin one.
var healing = map[string]bool{"start": true, "resume": true, "heal": true}

// faultWindow is one fault as the report shades it: from the record that
// injected it to the record that healed it (or, for a self-ending kind, to
// its own completion).
type faultWindow struct {
	F       string   // the injecting action, e.g. kill
	Name    string   // the fault as the scenario spells it, e.g. kill-leader
	Targets []string // nodes the injection applied to
	Start   int64    // ns since the run started
	End     int64    // ns since the run started; the end of the run when never healed
	Healed  bool     // false: still active when the history ends
	HealF   string   // the action that ended it, e.g. start; for a self-ending kind, its own
	Outcome history.Type
	Detail  string // e.g. a version change "3.8.0 -> 3.9.1"
}

// Applied reports whether the fault may have taken effect: an injection that
// failed certainly did not.
func (w faultWindow) Applied() bool { return w.Outcome != history.Fail }

// label is the fault's name as the scenario spells it, or its action.
func (w faultWindow) label() string {
	if w.Name != "" {
		return w.Name
	}
	return w.F
}

// selfEnding reports whether the window is of a kind that its own completion
// ends, such as a version change.
func (w faultWindow) selfEnding() bool { return history.EndsItself(actionKind(w.F)) }

// actionKind reduces an action to the word the tables know: kill-leader -> kill.
func actionKind(f string) string {
	if _, ok := healers[f]; ok || healing[f] {
		return f
	}
	if i := strings.IndexByte(f, '-'); i > 0 {
		return f[:i]
	}
	return f
}

// ends reports whether the healing action h ends a window opened by f. No
// healing action ends a self-ending kind.
func ends(h, f string) bool {
	if history.EndsItself(actionKind(f)) {
		return false
	}
	want, ok := healers[actionKind(f)]
	if !ok {
		want = "heal"
	}
	return actionKind(h) == want
}

// overlaps reports whether two target lists share a node; an empty list means
// "every node", so it overlaps anything.
func overlaps(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// recordKey identifies a nemesis action so its completion can find its
// invoke. Healing records name their targets in both; an injection's invoke
// may not know them yet (kill-leader finds the leader when it acts), so
// injections are matched by action and fault name.
func recordKey(op history.Op) string {
	if healing[actionKind(op.F)] {
		return op.F + "\x00" + strings.Join(op.Fault.Targets, "\x00")
	}
	return op.F + "\x00" + op.Fault.Name
}

// faultWindows pairs nemesis records into windows. An injection opens a window
// (its completion, if written, records the outcome); the next healing record of
// the counterpart action whose targets overlap closes it (kill -> start, pause ->
// resume, partition -> heal), and the healing record's completion, if written,
// moves the end to when healing finished. A self-ending kind (upgrade,
// rollback) is ended by its own completion instead. Windows never healed end
// with the run.
func faultWindows(ops []history.Op) []faultWindow {
	var last int64
	var ws []faultWindow
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
		if healing[actionKind(op.F)] {
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
				case ws[i].selfEnding():
					ws[i].End, ws[i].Healed, ws[i].HealF = op.Time, true, op.F
					open = remove(open, i)
				}
				continue
			}
		}
		i := len(ws)
		ws = append(ws, faultWindow{
			F: op.F, Name: op.Fault.Name, Targets: op.Fault.Targets,
			Start: op.Time, Outcome: op.Type, Detail: op.Fault.Detail,
		})
		if op.Type == history.Fail {
			ws[i].End = op.Time
			continue
		}
		if op.Type != history.Invoke && ws[i].selfEnding() {
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

func remove(xs []int, x int) []int {
	for j, y := range xs {
		if y == x {
			return append(xs[:j], xs[j+1:]...)
		}
	}
	return xs
}
