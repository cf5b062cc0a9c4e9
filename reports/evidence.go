package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

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

// evidence is one anomaly a checker reported, found in its details: what it
// says in words, the facts beside it and the operations involved.
type evidence struct {
	Title string
	Text  string
	Facts []fact
	Refs  []opRef
}

type fact struct{ Name, Value string }

// opRef is an operation (or a span of the run) named as evidence; the page
// links it to the charts.
type opRef struct {
	Role   string
	Text   string
	T0, T1 float64 // seconds since the run started
}

// textFields hold a checker's explanation of one anomaly, in words.
var textFields = []string{"explanation", "message", "evidence", "how"}

// titleFields name an anomaly: its rule or kind, and the key.
var titleFields = []string{"rule", "kind", "key"}

// timePairs are fields that bound an operation or a span, in nanoseconds.
var timePairs = [][2]string{
	{"invoke_ns", "complete_ns"}, {"invoked_ns", "completed_ns"},
	{"acquired_ns", "until_ns"}, {"from_ns", "to_ns"}, {"start_ns", "end_ns"},
}

// callPattern is how the linearizability checker describes an operation,
// alone or within an explanation: "process 7 on n2: read -> 3@v4
// (12.5-13.25 ms)" or "... (from 12.5 ms, never confirmed)".
var callPattern = regexp.MustCompile(`process (-?\d+)(?: on [^\s:]+)?: .*? \((?:(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?) ms|from (\d+(?:\.\d+)?) ms, never confirmed)\)`)

// isItemList reports whether an array field lists anomalies by its name:
// examples, violations, differences, bad patterns.
func isItemList(field string) bool {
	for _, w := range []string{"example", "violation", "difference"} {
		if strings.Contains(field, w) {
			return true
		}
	}
	return field == "bad"
}

// findEvidence walks a checker's details, as JSON, for anomalies: objects
// that explain something in words (a text field) and elements of lists of
// examples or violations. Operations inside them are found by shape: history
// records, invoke/complete pairs, record indexes (index, *_index, ops) and
// time bounds (*_ns pairs), and the linearizability checker's descriptions
// of calls.
func findEvidence(detailsJSON []byte, look *opLookup) ([]evidence, error) {
	if len(detailsJSON) == 0 {
		return nil, nil
	}
	v, err := decodeOrdered(detailsJSON)
	if err != nil {
		return nil, fmt.Errorf("read checker details: %w", err)
	}
	var out []evidence
	var walk func(v any, field string)
	walk = func(v any, field string) {
		if len(out) >= maxEvidence {
			return
		}
		switch v := v.(type) {
		case jsonObject:
			if v.text() != "" {
				out = append(out, itemOf(v, field, look))
				return
			}
			for _, f := range v {
				walk(f.Val, f.Key)
			}
		case []any:
			for _, e := range v {
				if len(out) >= maxEvidence {
					return
				}
				if isItemList(field) {
					switch e := e.(type) {
					case jsonObject:
						out = append(out, itemOf(e, field, look))
					case string:
						out = append(out, evidence{Title: humanize(field), Text: clipText(e)})
					}
					continue
				}
				walk(e, field)
			}
		}
	}
	walk(v, "")
	return out, nil
}

// itemOf makes one anomaly of an object found under field.
func itemOf(o jsonObject, field string, look *opLookup) evidence {
	var title []string
	for _, k := range titleFields {
		if s, ok := o.get(k).(string); ok && s != "" {
			title = append(title, s)
		}
	}
	if len(title) == 0 {
		title = append(title, humanize(singular(field)))
	}
	e := evidence{Title: strings.Join(title, " · "), Text: clipText(o.text())}
	used := map[string]bool{}
	for _, k := range append(append([]string{}, textFields...), titleFields...) {
		used[k] = true
	}
	// Operations the explanation names come first, then those in fields.
	for _, s := range callPattern.FindAllString(o.text(), maxRefsPerItem) {
		if r, ok := look.callRef("cited", s); ok {
			e.Refs = append(e.Refs, r)
		}
	}
	refsOf(o, "", look, &e.Refs, used)
	e.Refs = distinctRefs(e.Refs)
	for _, f := range o {
		if used[f.Key] || len(e.Facts) >= maxFactsPerItem {
			continue
		}
		if s := scalarText(f.Key, f.Val); s != "" {
			e.Facts = append(e.Facts, fact{Name: humanize(strings.TrimSuffix(f.Key, "_ns")), Value: s})
		}
	}
	if len(e.Refs) > maxRefsPerItem {
		e.Refs = e.Refs[:maxRefsPerItem]
	}
	return e
}

// refsOf collects the operations in v, named role. Fields of the top-level
// object that it turns into references are marked in used.
func refsOf(v any, role string, look *opLookup, out *[]opRef, used map[string]bool) {
	if len(*out) >= maxRefsPerItem {
		return
	}
	mark := func(keys ...string) {
		if used != nil {
			for _, k := range keys {
				used[k] = true
			}
		}
	}
	switch v := v.(type) {
	case string:
		if r, ok := look.callRef(role, v); ok {
			*out = append(*out, r)
		}
	case []any:
		for _, e := range v {
			refsOf(e, role, look, out, nil)
		}
	case jsonObject:
		if v.isRecord() {
			*out = append(*out, look.recordRef(role, v, nil))
			return
		}
		if inv, comp := v.get("invoke"), v.get("complete"); isRecord(inv) && isRecord(comp) {
			if s, ok := v.get("role").(string); ok && s != "" {
				role = s
			}
			*out = append(*out, look.recordRef(role, inv.(jsonObject), comp.(jsonObject)))
			return
		}
		refRole := role
		if refRole == "" {
			refRole = "operation"
		}
		var idx *int64
		for _, f := range v {
			if f.Key == "index" || strings.HasSuffix(f.Key, "_index") {
				if n, ok := number(f.Val); ok {
					idx = &n
					mark(f.Key)
					break
				}
			}
		}
		t0, t1, pair := timeBounds(v)
		if pair != nil {
			mark(pair[0], pair[1])
		}
		switch {
		case idx != nil:
			r := look.indexRef(refRole, *idx)
			if pair != nil {
				r.T0, r.T1 = t0, t1
			}
			*out = append(*out, r)
		case pair != nil && used != nil:
			// The anomaly's own span, e.g. the overlap of two lock holds.
			*out = append(*out, opRef{Role: "time span", T0: t0, T1: t1})
		case pair != nil:
			*out = append(*out, opRef{Role: refRole, Text: summaryOf(v, pair), T0: t0, T1: t1})
		}
		for _, f := range v {
			switch f.Val.(type) {
			case jsonObject, []any:
			case string:
				if used == nil || used[f.Key] {
					continue
				}
			default:
				continue
			}
			if xs, ok := f.Val.([]any); ok && f.Key == "ops" && len(xs) > 0 {
				if _, isIndex := number(xs[0]); isIndex {
					// Indexes of the records involved.
					for _, x := range xs {
						if n, ok := number(x); ok && len(*out) < maxRefsPerItem {
							*out = append(*out, look.indexRef("op", n))
						}
					}
					mark(f.Key)
					continue
				}
			}
			before := len(*out)
			refsOf(f.Val, humanize(f.Key), look, out, nil)
			if len(*out) > before {
				mark(f.Key)
			}
		}
	}
}

// timeBounds finds the first pair of time fields of o, in seconds.
func timeBounds(o jsonObject) (float64, float64, *[2]string) {
	for _, p := range timePairs {
		a, okA := number(o.get(p[0]))
		b, okB := number(o.get(p[1]))
		if okA && okB {
			return seconds(a), seconds(max(a, b)), &p
		}
	}
	return 0, 0, nil
}

// summaryOf renders the scalar fields of o other than the time pair, e.g.
// "element 5, path /q/e-0000000003, seq 3".
func summaryOf(o jsonObject, pair *[2]string) string {
	var parts []string
	for _, f := range o {
		if f.Key == pair[0] || f.Key == pair[1] {
			continue
		}
		if s := scalarText(f.Key, f.Val); s != "" {
			parts = append(parts, humanize(strings.TrimSuffix(f.Key, "_ns"))+" "+s)
		}
	}
	return strings.Join(parts, ", ")
}

// scalarText renders a scalar or a list of scalars; "" for anything else.
// Fields in nanoseconds are shown in seconds.
func scalarText(key string, v any) string {
	switch v := v.(type) {
	case string:
		return clipText(v)
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		if strings.HasSuffix(key, "_ns") {
			if n, err := v.Int64(); err == nil {
				return formatSeconds(float64(n)/1e9) + " s"
			}
		}
		return v.String()
	case []any:
		var parts []string
		for i, e := range v {
			if i == 10 {
				parts = append(parts, fmt.Sprintf("… (%d in all)", len(v)))
				break
			}
			s := scalarText(key, e)
			if s == "" {
				return ""
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ", ")
	}
	return ""
}

// humanize turns a JSON field name into words: not_placeable -> not placeable.
func humanize(field string) string { return strings.ReplaceAll(field, "_", " ") }

// singular drops a plural's s: violations -> violation.
func singular(field string) string {
	if strings.HasSuffix(field, "s") && !strings.HasSuffix(field, "ss") {
		return field[:len(field)-1]
	}
	return field
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

// recordRef refers to a call given as its records in the details; the
// history's own records are preferred when their indexes are found.
func (l *opLookup) recordRef(role string, inv, comp jsonObject) opRef {
	get := func(o jsonObject) *history.Op {
		if o == nil {
			return nil
		}
		if n, ok := number(o.get("index")); ok {
			if i, ok := l.position(n); ok && l.ops[i].F == o.str("f") {
				return &l.ops[i]
			}
		}
		op := o.op()
		return &op
	}
	a, b := get(inv), get(comp)
	if comp == nil && a != nil {
		if i, ok := l.position(a.Index); ok && &l.ops[i] == a {
			a, b = l.pair(i)
		} else if a.Type != history.Invoke {
			a, b = nil, a
		}
	}
	return refOfCall(role, a, b)
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

// callRef refers to the call of process p invoked at the time s names, as
// the linearizability checker describes calls; the text is kept as written.
func (l *opLookup) callRef(role, s string) (opRef, bool) {
	m := callPattern.FindStringSubmatch(s)
	if m == nil || m[0] != s {
		return opRef{}, false
	}
	p, _ := strconv.ParseInt(m[1], 10, 64)
	from, to := m[2], m[3]
	if from == "" {
		from = m[4]
	}
	startMS, _ := strconv.ParseFloat(from, 64)
	r := opRef{Role: role, Text: s, T0: startMS / 1e3, T1: startMS / 1e3}
	if to != "" {
		endMS, _ := strconv.ParseFloat(to, 64)
		r.T1 = endMS / 1e3
	}
	at := int64(startMS * 1e6)
	// Times are written to the microsecond: find the invocation within one.
	i := sort.Search(len(l.ops), func(i int) bool { return l.ops[i].Time >= at-1000 })
	for ; i < len(l.ops) && l.ops[i].Time <= at+1000; i++ {
		if op := l.ops[i]; op.Type == history.Invoke && int64(op.Process) == p {
			r.Text = fmt.Sprintf("%s [#%d]", s, op.Index)
			break
		}
	}
	return r, true
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

// jsonObject is a JSON object with its fields in the order written, so that
// evidence reads in the order the checker gave it.
type jsonObject []jsonField

type jsonField struct {
	Key string
	Val any
}

func (o jsonObject) get(key string) any {
	for _, f := range o {
		if f.Key == key {
			return f.Val
		}
	}
	return nil
}

func (o jsonObject) str(key string) string {
	s, _ := o.get(key).(string)
	return s
}

// text is the first explanation in words the object holds.
func (o jsonObject) text() string {
	for _, k := range textFields {
		if s := o.str(k); s != "" {
			return s
		}
	}
	return ""
}

// isRecord reports whether the object is a history record.
func (o jsonObject) isRecord() bool {
	_, hasIndex := number(o.get("index"))
	_, hasTime := number(o.get("time"))
	return hasIndex && hasTime && o.str("type") != "" && o.str("f") != ""
}

func isRecord(v any) bool {
	o, ok := v.(jsonObject)
	return ok && o.isRecord()
}

// op rebuilds a history record from the object.
func (o jsonObject) op() history.Op {
	op := history.Op{Type: history.Type(o.str("type")), F: o.str("f"), Key: o.str("key"), Path: o.str("path"),
		Node: o.str("node"), Error: o.str("error"), Event: o.str("event")}
	op.Index, _ = number(o.get("index"))
	op.Time, _ = number(o.get("time"))
	if n, ok := number(o.get("process")); ok {
		op.Process = history.Process(n)
	} else if o.str("process") == "nemesis" {
		op.Process = history.NemesisProcess
	}
	if n, ok := number(o.get("value")); ok {
		op.Value = &n
	}
	if n, ok := number(o.get("version")); ok {
		op.Version = history.Int32(int32(n))
	}
	if n, ok := number(o.get("expect")); ok {
		op.Expect = history.Int32(int32(n))
	}
	return op
}

// number reads an integer JSON number.
func number(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

// decodeOrdered decodes JSON into jsonObject, []any, string, json.Number,
// bool and nil, keeping the order of object fields.
func decodeOrdered(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			var o jsonObject
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := kt.(string)
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				o = append(o, jsonField{Key: key, Val: v})
			}
			_, err := dec.Token() // }
			return o, err
		case '[':
			a := []any{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := dec.Token() // ]
			return a, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return t, nil
	}
}
