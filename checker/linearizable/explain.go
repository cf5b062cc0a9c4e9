package linearizable

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/anishathalye/porcupine"
	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// explain fills in why a key is not linearizable, from Porcupine's partial
// linearizations: the longest one, the state it leaves, and the operations
// that could have come next but did not fit that state.
func explain(d *KeyDetails, kh *keyHistory, info porcupine.LinearizationInfo) {
	var lins [][]int
	if p := info.PartialLinearizations(); len(p) > 0 {
		lins = p[0]
	}
	// The longest, ties broken by content so the explanation is stable.
	var best []int
	for _, lin := range lins {
		if best == nil || len(lin) > len(best) || (len(lin) == len(best) && slices.Compare(lin, best) < 0) {
			best = lin
		}
	}
	n := len(kh.ops)
	placed := make([]bool, n)
	state := regState{}
	for _, id := range best {
		placed[id] = true
		_, state = step(state, kh.ops[id].Input.(regInput), kh.ops[id].Output.(regOutput))
	}
	// After the prefix, an operation can come next if no other remaining
	// operation returned before it was called.
	minReturn := int64(math.MaxInt64)
	for id, op := range kh.ops {
		if !placed[id] {
			minReturn = min(minReturn, op.Return)
		}
	}
	var next []int
	for id, op := range kh.ops {
		if !placed[id] && op.Call <= minReturn {
			next = append(next, id)
		}
	}
	sort.SliceStable(next, func(i, j int) bool { return kh.ops[next[i]].Call < kh.ops[next[j]].Call })

	descs := make([]string, len(next))
	for i, id := range next {
		descs[i] = describeCall(kh, id)
	}

	d.LongestPrefix = len(best)
	d.StateAfterPrefix = state.String()
	d.NotPlaceable = descs[:min(len(descs), maxNotPlaceable)]
	d.cited = cite(roleNotPlaceable, kh.invokedAt, next[:min(len(next), maxNotPlaceable)]...)
	d.Explanation = fmt.Sprintf("no linearization; the longest linearizable prefix has %d of %d operations and leaves the register at %s; these operations could not be placed next: %s",
		len(best), n, state, listOps(descs))

	inSome := make([]bool, n)
	for _, lin := range lins {
		for _, id := range lin {
			inSome[id] = true
		}
	}
	never := -1
	for id, op := range kh.ops {
		if !inSome[id] && (never < 0 || op.Call < kh.ops[never].Call) {
			never = id
		}
	}
	if never >= 0 {
		d.NeverLinearized = describeCall(kh, never)
		d.cited = append(d.cited, cite(roleNeverLinearized, kh.invokedAt, never)...)
	}
}

// maxNotPlaceable bounds KeyDetails.NotPlaceable.
const maxNotPlaceable = 20

// listOps joins operation descriptions for a message: the first five, then
// how many more.
func listOps(descs []string) string {
	const most = 5
	if len(descs) <= most {
		return strings.Join(descs, "; ")
	}
	return strings.Join(descs[:most], "; ") + fmt.Sprintf("; and %d more", len(descs)-most)
}

// describeCall renders one operation for an explanation: process, node,
// what it did, and when (milliseconds since the run started).
func describeCall(kh *keyHistory, id int) string {
	op, c := kh.ops[id], kh.calls[id]
	who := "process " + c.Invoke.Process.String()
	if c.Invoke.Node != "" {
		who += " on " + c.Invoke.Node
	}
	when := fmt.Sprintf("%s-%s ms", checker.Millis(op.Call), checker.Millis(op.Return))
	if op.Output.(regOutput).typ == history.Info {
		when = fmt.Sprintf("from %s ms, never confirmed", checker.Millis(op.Call))
	}
	return fmt.Sprintf("%s: %s (%s)", who, describeOp(op.Input.(regInput), op.Output.(regOutput)), when)
}

// keyList names keys for a message, at most ten.
func keyList(ds []KeyDetails) string {
	const most = 10
	names := make([]string, 0, most+1)
	for i, d := range ds {
		if i == most {
			names = append(names, fmt.Sprintf("and %d more", len(ds)-most))
			break
		}
		names = append(names, d.Key)
	}
	return strings.Join(names, ", ")
}
