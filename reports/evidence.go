package reports

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// Limits on the evidence a checker section lists; the details block and
// results.json have everything.
const (
	maxEvidence      = 20
	maxRefsPerItem   = 12
	maxFactsPerItem  = 10
	maxEvidenceText  = 2000
	maxPairingWindow = 200_000 // records searched for an operation's other half
)

// evidence is one anomaly a checker reported, laid out for the page: what
// it says in words, the facts beside it and the operations involved.
type evidence struct {
	Title string
	Text  string
	Facts []checker.Fact
	Refs  []opRef
}

// opRef is an operation (or a span of the run) named as evidence; the page
// links it to the charts.
type opRef struct {
	Role   string
	Text   string
	T0, T1 float64 // seconds since the run started
}

// evidenceOf lays out a checker's anomalies, at most maxEvidence of them,
// with the operations they name found in the history.
func evidenceOf(as []checker.Anomaly, look *opLookup) []evidence {
	out := make([]evidence, 0, min(len(as), maxEvidence))
	for _, a := range as[:min(len(as), maxEvidence)] {
		var title []string
		for _, s := range []string{a.Kind, a.Key} {
			if s != "" {
				title = append(title, s)
			}
		}
		e := evidence{Title: strings.Join(title, " · "), Text: clipText(a.Text)}
		for _, f := range a.Facts {
			if f.Value != "" && len(e.Facts) < maxFactsPerItem {
				e.Facts = append(e.Facts, checker.Fact{Name: f.Name, Value: clipText(f.Value)})
			}
		}
		for _, r := range a.Ops {
			e.Refs = append(e.Refs, look.ref(r))
		}
		e.Refs = distinctRefs(e.Refs)
		e.Refs = e.Refs[:min(len(e.Refs), maxRefsPerItem)]
		out = append(out, e)
	}
	return out
}

// ref finds the operation r names in the history; a span of the run is
// shown as a span, and an operation named over a span (a lock's acquire
// over its hold) links to the span.
func (l *opLookup) ref(r checker.OpRef) opRef {
	if r.Index == checker.NoIndex {
		return opRef{Role: r.Role, T0: seconds(r.Start), T1: seconds(max(r.Start, r.End))}
	}
	out := l.indexRef(r.Role, r.Index)
	if out.T0 >= 0 && (r.Start != 0 || r.End != 0) {
		out.T0, out.T1 = seconds(r.Start), seconds(max(r.Start, r.End))
	}
	return out
}

// clipText cuts a text at maxEvidenceText characters.
func clipText(s string) string {
	if len(s) <= maxEvidenceText {
		return s
	}
	return strings.ToValidUTF8(s[:maxEvidenceText], "") + "…"
}

// opLookup finds operations of the history by index, by process and time,
// and pairs an invocation with its completion.
type opLookup struct {
	ops     []history.Op
	byIndex map[int64]int // built on first use when indexes are not positions
}

func newOpLookup(ops []history.Op) *opLookup { return &opLookup{ops: ops} }

// position returns where the record with index idx is in the history.
func (l *opLookup) position(idx int64) (int, bool) {
	if idx >= 0 && idx < int64(len(l.ops)) && l.ops[idx].Index == idx {
		return int(idx), true
	}
	if l.byIndex == nil {
		l.byIndex = make(map[int64]int, len(l.ops))
		for i, op := range l.ops {
			l.byIndex[op.Index] = i
		}
	}
	i, ok := l.byIndex[idx]
	return i, ok
}

// pair returns the invocation and completion of the call that the record at
// position i belongs to; either may be nil (a record that is not part of a
// call, or a call never completed).
func (l *opLookup) pair(i int) (*history.Op, *history.Op) {
	op := &l.ops[i]
	if op.IsNemesis() {
		return nil, op
	}
	if op.Type == history.Invoke {
		for j := i + 1; j < len(l.ops) && j <= i+maxPairingWindow; j++ {
			if o := &l.ops[j]; o.Process == op.Process {
				if o.Type != history.Invoke && o.F == op.F {
					return op, o
				}
				break
			}
		}
		return op, nil
	}
	for j := i - 1; j >= 0 && j >= i-maxPairingWindow; j-- {
		if o := &l.ops[j]; o.Process == op.Process {
			if o.Type == history.Invoke && o.F == op.F {
				return o, op
			}
			break
		}
	}
	return nil, op
}

// indexRef refers to the call behind the record with index idx.
func (l *opLookup) indexRef(role string, idx int64) opRef {
	i, ok := l.position(idx)
	if !ok {
		return opRef{Role: role, Text: fmt.Sprintf("record #%d (not in this history)", idx), T0: -1, T1: -1}
	}
	inv, comp := l.pair(i)
	return refOfCall(role, inv, comp)
}

// distinctRefs lists each operation once, with every role it was named in.
func distinctRefs(refs []opRef) []opRef {
	at := map[opRef]int{} // the reference without its role -> its place in out
	var out []opRef
	for _, r := range refs {
		k := r
		k.Role = ""
		i, ok := at[k]
		switch {
		case !ok:
			at[k] = len(out)
			out = append(out, r)
		case !slices.Contains(strings.Split(out[i].Role, ", "), r.Role):
			out[i].Role += ", " + r.Role
		}
	}
	return out
}

// refOfCall refers to a call given by its records.
func refOfCall(role string, inv, comp *history.Op) opRef {
	r := opRef{Role: role, Text: describeCall(inv, comp)}
	switch {
	case inv != nil && comp != nil:
		r.T0, r.T1 = seconds(inv.Time), seconds(comp.Time)
	case inv != nil:
		r.T0, r.T1 = seconds(inv.Time), seconds(inv.Time)
	case comp != nil:
		r.T0, r.T1 = seconds(comp.Time), seconds(comp.Time)
	}
	return r
}

// describeCall renders a call for a person, e.g. "cas k1 7 if v3 → ok v4 ·
// process 5 on n2 · #118/#121".
func describeCall(inv, comp *history.Op) string {
	first := comp
	if inv != nil {
		first = inv
	}
	if first == nil {
		return "unknown operation"
	}
	var b strings.Builder
	b.WriteString(first.F)
	if first.Key != "" {
		b.WriteString(" " + first.Key)
	} else if first.Path != "" {
		b.WriteString(" " + first.Path)
	}
	if inv != nil && inv.Value != nil {
		fmt.Fprintf(&b, " %d", *inv.Value)
	}
	if inv != nil && inv.Expect != nil {
		fmt.Fprintf(&b, " if v%d", *inv.Expect)
	}
	if len(first.Values) > 0 && inv != nil {
		b.WriteString(" " + int64List(first.Values))
	}
	if comp == nil {
		b.WriteString(" → no completion")
	} else {
		b.WriteString(" → " + string(comp.Type))
		// A value read is shown as the checkers show it, 12@v5; a write's
		// value was shown with its invocation.
		read := comp.Value != nil && (inv == nil || inv.Value == nil || *inv.Value != *comp.Value)
		switch {
		case read && comp.Version != nil:
			fmt.Fprintf(&b, " %d@v%d", *comp.Value, *comp.Version)
		case read:
			fmt.Fprintf(&b, " %d", *comp.Value)
		case comp.Version != nil:
			fmt.Fprintf(&b, " v%d", *comp.Version)
		}
		if len(comp.Values) > 0 && (inv == nil || !equalInt64s(comp.Values, inv.Values)) {
			b.WriteString(" " + int64List(comp.Values))
		}
		if comp.Path != "" && comp.Path != first.Path {
			b.WriteString(" " + comp.Path)
		}
		if comp.Event != "" {
			b.WriteString(" " + comp.Event)
		}
		if comp.Error != "" {
			fmt.Fprintf(&b, " (%s)", comp.Error)
		}
	}
	fmt.Fprintf(&b, " · process %s", first.Process)
	if first.Node != "" {
		b.WriteString(" on " + first.Node)
	}
	switch {
	case inv != nil && comp != nil:
		fmt.Fprintf(&b, " · #%d/#%d", inv.Index, comp.Index)
	default:
		fmt.Fprintf(&b, " · #%d", first.Index)
	}
	return b.String()
}

func int64List(vs []int64) string {
	const most = 8
	parts := make([]string, 0, most+1)
	for i, v := range vs {
		if i == most {
			parts = append(parts, fmt.Sprintf("… %d in all", len(vs)))
			break
		}
		parts = append(parts, strconv.FormatInt(v, 10))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func equalInt64s(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
