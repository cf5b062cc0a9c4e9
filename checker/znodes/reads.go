package znodes

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/zkchaos/zkchaos/history"
)

// elementSampleLimit bounds the elements an ElementSample lists.
const elementSampleLimit = 50

// ElementSample is a set of elements: how many, and the first of them in
// ascending order.
type ElementSample struct {
	// Count is how many elements there are.
	Count int `json:"count"`
	// First are up to 50 of them, smallest first.
	First []int64 `json:"first,omitempty"`
}

// SampleOf returns the sample of es, which it sorts.
func SampleOf(es []int64) ElementSample {
	slices.Sort(es)
	s := ElementSample{Count: len(es)}
	if len(es) > 0 {
		s.First = slices.Clone(es[:min(len(es), elementSampleLimit)])
	}
	return s
}

// String renders the sample as "3 [4 9 12]" or "60 [1 2 …]".
func (s ElementSample) String() string {
	parts := make([]string, len(s.First))
	for i, e := range s.First {
		parts[i] = fmt.Sprint(e)
	}
	more := ""
	if s.Count > len(s.First) {
		more = " …"
	}
	return fmt.Sprintf("%d [%s%s]", s.Count, strings.Join(parts, " "), more)
}

// Read is one node's final read: its call and its elements.
type Read struct {
	// Node is the server that answered the read.
	Node string
	// Call is the read, whose completion lists the elements.
	Call history.Call
}

// OKReads returns every ok read with its node, sorted by invocation time,
// and every node that the history names (client operations and the
// harness's role observations). Every read is judged: an element one read
// saw and a later one lacks is as wrong on the earlier read's node as on
// any other.
func OKReads(calls []history.Call, ops []history.Op) (reads []Read, known map[string]bool) {
	known = map[string]bool{}
	for _, op := range ops {
		if op.IsNemesis() {
			for n := range op.Roles {
				known[n] = true
			}
			continue
		}
		if op.Node != "" {
			known[op.Node] = true
		}
	}
	for _, c := range calls {
		if c.Invoke.F != history.Read || c.Type() != history.OK {
			continue
		}
		node := c.Complete.Node
		if node == "" {
			node = c.Invoke.Node
		}
		reads = append(reads, Read{Node: node, Call: c})
	}
	sort.SliceStable(reads, func(i, j int) bool {
		a, b := reads[i].Call, reads[j].Call
		if a.Invoke.Time != b.Invoke.Time {
			return a.Invoke.Time < b.Invoke.Time
		}
		return reads[i].Node < reads[j].Node
	})
	return reads, known
}

// NodesWithoutRead returns the known nodes without a final read, sorted.
func NodesWithoutRead(known map[string]bool, reads []Read) []string {
	read := map[string]bool{}
	for _, r := range reads {
		read[r.Node] = true
	}
	var out []string
	for n := range known {
		if !read[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// FirstPath returns the first of ss that is not empty, or "".
func FirstPath(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
