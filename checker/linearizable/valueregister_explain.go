package linearizable

import (
	"fmt"
	"sort"

	"github.com/zkchaos/zkchaos/checker/linsearch"
)

// explainWindow says which stretch of the history no state explains.
func explainWindow(d *KeyDetails, k *valueKey, w []int) {
	first, last := k.calls[w[0]], k.calls[w[len(w)-1]]
	descs := make([]string, len(w))
	for j, i := range w {
		descs[j] = describeValueCall(k, i)
	}
	d.NeverLinearized = descs[len(descs)-1]
	d.NotPlaceable = descs[:min(len(descs), maxNotPlaceable)]
	d.cited = append(cite(roleNotPlaceable, k.invokedAt, w[:min(len(w), maxNotPlaceable)]...), cite(roleNeverLinearized, k.invokedAt, w[len(w)-1])...)
	d.Explanation = fmt.Sprintf("the %d operations invoked and completed between records %d and %d cannot be ordered from any value the register could hold before them, whatever the operations around them did: %s",
		len(w), first.Invoke.Index+1, last.Complete.Index+1, listOps(descs))
}

// explainValue says why a key is not linearizable, from the longest prefix
// the search could linearize: the state it leaves, and the operations that
// could have come next but did not fit it.
func explainValue(d *KeyDetails, k *valueKey, out linsearch.Outcome[int64]) {
	placed := make([]bool, len(k.ops))
	definite := 0
	for _, i := range out.Order {
		placed[i] = true
		if !k.ops[i].Indeterminate {
			definite++
		}
	}
	total := 0
	bound := int64(-1)
	for i, op := range k.ops {
		if op.Indeterminate {
			continue
		}
		total++
		if !placed[i] && (bound < 0 || op.Return < bound) {
			bound = op.Return
		}
	}
	var next []int
	for i, op := range k.ops {
		if !placed[i] && !op.Indeterminate && op.Call <= bound {
			if _, ok := valueStep(out.State, op.Input); !ok {
				next = append(next, i)
			}
		}
	}
	sort.SliceStable(next, func(a, b int) bool { return k.ops[next[a]].Call < k.ops[next[b]].Call })
	descs := make([]string, len(next))
	for i, id := range next {
		descs[i] = describeValueCall(k, id)
	}
	d.LongestPrefix = len(out.Order)
	d.StateAfterPrefix = describeValue(out.State)
	d.NotPlaceable = descs[:min(len(descs), maxNotPlaceable)]
	d.cited = cite(roleNotPlaceable, k.invokedAt, next[:min(len(next), maxNotPlaceable)]...)
	if len(next) > 0 {
		d.NeverLinearized = descs[0]
		d.cited = append(d.cited, cite(roleNeverLinearized, k.invokedAt, next[0])...)
	}
	d.Explanation = fmt.Sprintf("no order of the operations fits the register; the longest linearizable prefix places %d of %d definite operations and leaves the register at %s, and none of these fits next: %s",
		definite, total, describeValue(out.State), listOps(descs))
}

// describeValueCall renders one operation with its process and records,
// e.g. "process 3: read 5 (records 12-14)".
func describeValueCall(k *valueKey, i int) string {
	c, op := k.calls[i], k.ops[i]
	when := fmt.Sprintf("records %d-%d", c.Invoke.Index+1, c.Complete.Index+1)
	if op.Indeterminate {
		when = fmt.Sprintf("record %d, never confirmed", c.Invoke.Index+1)
	}
	return fmt.Sprintf("process %s: %s (%s)", c.Invoke.Process, op.Input, when)
}
