package history

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"

	"olympos.io/encoding/edn"
)

// Jepsen's history.edn is the lingua franca of this field: one map per
// operation, {:type :invoke, :f :cas, :value ..., :process 3, :time 12}. The
// functions here write a zkchaos history in that form, so a run can be
// cross-checked with Knossos or Elle, and read Jepsen histories so that
// zkchaos's checkers can judge them.

// EDNNil stands for Jepsen's nil where an integer is expected: the value of
// a register nobody wrote yet.
const EDNNil = math.MinInt64

// WriteEDN writes the client and fault operations of ops as Jepsen's
// history.edn, one map per line. Register values use Jepsen's independent
// form [key value]; a cas becomes [key [expected-value new-value]], the
// expected value being the one the history shows at the cas's expected
// version (ZooKeeper compares versions, Jepsen's cas-register values). The
// znode version, zxid, node, session and error travel as extra keys.
// Harness observations (roles, snapshots) are left out.
func WriteEDN(w io.Writer, ops []Op) error {
	valueAt := versionValues(ops)
	bw := bufio.NewWriter(w)
	// The workload's setup wrote 0 to every register before the history
	// began; Jepsen's models start from nil, so say so explicitly.
	var keys []string
	var maxProcess Process
	for _, op := range ops {
		if op.Process > maxProcess {
			maxProcess = op.Process
		}
	}
	for k := range valueAt {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		for _, t := range []Type{Invoke, OK} {
			m := map[edn.Keyword]any{"type": edn.Keyword(t), "f": edn.Keyword(Write), "time": int64(0),
				"process": int64(maxProcess) + 1 + int64(i), "value": []any{k, int64(0)}, "setup": true}
			b, err := edn.Marshal(m)
			if err != nil {
				return fmt.Errorf("encode setup write as EDN: %w", err)
			}
			bw.Write(b)
			bw.WriteByte('\n')
		}
	}
	// A cas whose expected version no record shows with its value has no
	// expected value to export: it is exported as a write of its new value,
	// which holds it to less, never to more.
	blindCAS := map[Process]bool{}
	for _, op := range ops {
		if op.IsNemesis() && IsObservation(op.F) {
			continue
		}
		m := map[edn.Keyword]any{
			"type": edn.Keyword(op.Type), "f": edn.Keyword(op.F), "time": op.Time,
		}
		if op.F == CAS && !op.IsNemesis() {
			if op.Type == Invoke {
				known := false
				if op.Expect != nil {
					_, known = valueAt[op.Key][*op.Expect]
				}
				blindCAS[op.Process] = !known
			}
			if blindCAS[op.Process] {
				m["f"], m["cas"] = edn.Keyword(Write), true
				op.F = Write
			}
		}
		if op.IsNemesis() {
			m["process"] = edn.Keyword("nemesis")
			if op.Fault != nil {
				m["value"] = op.Fault.Targets
				m["fault"] = op.Fault.Name
			}
		} else {
			m["process"] = int64(op.Process)
			m["value"] = ednValue(op, valueAt)
		}
		for k, v := range map[edn.Keyword]any{"node": op.Node, "error": op.Error, "path": op.Path} {
			if v != "" {
				m[k] = v
			}
		}
		if op.Version != nil {
			m["version"] = *op.Version
		}
		if op.Expect != nil {
			m["expect-version"] = *op.Expect
		}
		if op.Zxid != 0 {
			m["zxid"] = op.Zxid
		}
		if op.Session != 0 {
			m["session"] = op.Session
		}
		b, err := edn.Marshal(m)
		if err != nil {
			return fmt.Errorf("encode operation %d as EDN: %w", op.Index, err)
		}
		bw.Write(b)
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write EDN: %w", err)
	}
	return nil
}

// ednValue is an operation's :value in Jepsen's form.
func ednValue(op Op, valueAt map[string]map[int32]int64) any {
	var v any
	switch {
	case op.F == CAS && op.Expect != nil && op.Value != nil:
		var expected any
		if x, ok := valueAt[op.Key][*op.Expect]; ok {
			expected = x
		}
		v = []any{expected, *op.Value}
	case op.Values != nil:
		vals := make([]any, len(op.Values))
		for i, x := range op.Values {
			if x != EDNNil {
				vals[i] = x
			}
		}
		v = vals
	case op.Value != nil && *op.Value != EDNNil:
		v = *op.Value
	}
	if op.Key != "" {
		return []any{op.Key, v}
	}
	return v
}

// versionValues maps key -> znode version -> the value it held, from every
// completion that reports both; version 0 is the initial value 0.
func versionValues(ops []Op) map[string]map[int32]int64 {
	out := map[string]map[int32]int64{}
	for _, op := range ops {
		if op.Type != OK || op.Version == nil || op.Value == nil || op.Key == "" {
			continue
		}
		if out[op.Key] == nil {
			out[op.Key] = map[int32]int64{0: 0}
		}
		out[op.Key][*op.Version] = *op.Value
	}
	return out
}

// EDNHistory is a Jepsen history read from history.edn.
type EDNHistory struct {
	// Ops are the records in file order; an Op's Index is its position in
	// the file, which is the history's order (Jepsen's :time is kept in
	// Time but orders nothing).
	Ops []Op
	// Lines are the line of the file on which each record starts.
	Lines []int
}

// Where names record i for messages, e.g. "record 12 (line 13)".
func (h EDNHistory) Where(i int64) string {
	if i < 0 || int(i) >= len(h.Lines) {
		return fmt.Sprintf("record %d", i+1)
	}
	return fmt.Sprintf("record %d (line %d)", i+1, h.Lines[i])
}

// ReadEDN reads a Jepsen history: EDN maps one after another (one per line,
// as Jepsen writes them, or inside one vector). Values are understood in the
// shapes Jepsen's register, cas-register and set workloads use, with or
// without independent [key value] tuples: a read's or write's integer (or
// nil), a cas's [old new] (into Values), a set read's collection (into
// Values). Processes that are not integers (:nemesis) become
// NemesisProcess.
//
// The history is validated as Jepsen defines one: every completion follows
// an invocation of the same process and :f, a process has at most one
// operation in flight, and where records carry :time a process's times do
// not go backwards. An error names the line and record and quotes at most
// a short excerpt; nesting deeper than MaxEDNDepth or a record larger than
// MaxEDNRecord is refused before it is decoded.
func ReadEDN(r io.Reader) (EDNHistory, error) {
	var h EDNHistory
	err := ScanEDN(r, func(op *Op, line int) error {
		h.Ops = append(h.Ops, *op)
		h.Lines = append(h.Lines, line)
		return nil
	})
	return h, err
}

// ScanEDN reads a Jepsen history as ReadEDN does, one record at a time:
// it calls fn with each record, numbered in file order, and the line it
// starts on, and stops at the first error of fn.
func ScanEDN(r io.Reader, fn func(op *Op, line int) error) error {
	sc := newEDNScanner(r)
	v := newEDNValidator()
	for n := int64(0); ; {
		rec, err := sc.next()
		if errors.Is(err, errEDNEnd) {
			return nil
		}
		if err != nil {
			return err
		}
		var raw any
		if err := edn.Unmarshal(rec.text, &raw); err != nil {
			if errors.Is(err, io.EOF) {
				continue // only a discarded form
			}
			return fmt.Errorf("line %d: %w: %s", rec.line, err, excerpt(rec.text))
		}
		op, err := opFromEDN(raw)
		if err != nil {
			return fmt.Errorf("line %d (record %d): %w: %s", rec.line, n+1, err, excerpt(rec.text))
		}
		op.Index = n // file order is history order
		if err := v.check(op, rec.line, raw); err != nil {
			return fmt.Errorf("line %d (record %d): %w", rec.line, n+1, err)
		}
		if err := fn(&op, rec.line); err != nil {
			return err
		}
		n++
	}
}

// excerpt quotes at most the first 80 bytes of a record.
func excerpt(text []byte) string {
	const most = 80
	if len(text) <= most {
		return strconv.Quote(string(text))
	}
	return strconv.Quote(string(text[:most])) + "..."
}

// ednValidator checks the structure of a Jepsen history record by record.
type ednValidator struct {
	open map[Process]pending // the operation each process has in flight
	last map[Process]int64   // the last :time of each process
}

type pending struct {
	f    string
	line int
}

func newEDNValidator() *ednValidator {
	return &ednValidator{open: map[Process]pending{}, last: map[Process]int64{}}
}

func (v *ednValidator) check(op Op, line int, raw any) error {
	if op.IsNemesis() {
		return nil
	}
	if _, ok := ednField(raw, "time").(int64); ok {
		if prev, seen := v.last[op.Process]; seen && op.Time < prev {
			return fmt.Errorf(":time %d of process %s is earlier than its previous record's :time %d", op.Time, op.Process, prev)
		}
		v.last[op.Process] = op.Time
	}
	p, inFlight := v.open[op.Process]
	switch {
	case op.Type == Invoke && inFlight:
		return fmt.Errorf("process %s invokes :%s while its :%s invoked on line %d has not completed", op.Process, op.F, p.f, p.line)
	case op.Type == Invoke:
		v.open[op.Process] = pending{f: op.F, line: line}
	case !inFlight:
		return fmt.Errorf(":%s completion of :%s by process %s, which has no operation in flight", op.Type, op.F, op.Process)
	case p.f != op.F:
		return fmt.Errorf(":%s completion of :%s by process %s, whose operation in flight (line %d) is :%s", op.Type, op.F, op.Process, p.line, p.f)
	default:
		delete(v.open, op.Process)
	}
	return nil
}

// ednField returns a record's field, or nil.
func ednField(raw any, k string) any {
	if m, ok := ednMap(raw); ok {
		return m[edn.Keyword(k)]
	}
	return nil
}

// ednMap returns the map of a record, looking through a tag such as
// #jepsen.history.Op{...}.
func ednMap(raw any) (map[any]any, bool) {
	if t, ok := raw.(edn.Tag); ok {
		raw = t.Value
	}
	m, ok := raw.(map[any]any)
	return m, ok
}

func opFromEDN(f any) (Op, error) {
	m, ok := ednMap(f)
	if !ok {
		return Op{}, errors.New("not a map")
	}
	get := func(k string) any { return m[edn.Keyword(k)] }
	var op Op
	t, ok := get("type").(edn.Keyword)
	if !ok {
		return op, errors.New("no :type keyword")
	}
	op.Type = Type(t)
	switch op.Type {
	case Invoke, OK, Fail, Info:
	default:
		return op, fmt.Errorf(":type %s is not :invoke, :ok, :fail or :info", short(t))
	}
	switch fv := get("f").(type) {
	case edn.Keyword:
		op.F = string(fv)
	case edn.Symbol:
		op.F = string(fv)
	case string:
		op.F = fv
	default:
		return op, errors.New("no :f keyword")
	}
	if p, ok := get("process").(int64); ok {
		if p < 0 || p > math.MaxInt32 {
			return op, fmt.Errorf(":process %d is out of range", p)
		}
		op.Process = Process(p)
	} else {
		op.Process = NemesisProcess
	}
	if t, ok := get("time").(int64); ok {
		op.Time = t
	}
	if e := get("error"); e != nil {
		op.Error = short(e)
	}
	if op.IsNemesis() {
		return op, nil
	}
	v := get("value")
	if tuple, ok := v.([]any); ok && len(tuple) == 2 && isKey(tuple[0]) && !(op.F == CAS && isValue(tuple[0]) && isValue(tuple[1])) {
		op.Key = keyString(tuple[0])
		v = tuple[1]
	}
	switch x := v.(type) {
	case nil:
		if (op.Type == OK && op.F == Read) || op.F == Write {
			op.Value = Int64(EDNNil)
		}
	case int64:
		op.Value = Int64(x)
	case []any, map[any]bool:
		vals, err := ints(x)
		if err != nil {
			return op, fmt.Errorf(":value of :%s: %w", op.F, err)
		}
		op.Values = vals
	default:
		return op, fmt.Errorf(":value %s of :%s is not an integer, nil or a collection of integers", short(v), op.F)
	}
	return op, nil
}

// short renders an EDN value for a message, at most 40 characters.
func short(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}

// isValue reports whether v can be a register's value: an integer or nil.
func isValue(v any) bool { return v == nil || isInt(v) }

func isInt(v any) bool { _, ok := v.(int64); return ok }

// isKey reports whether v can be an independent key.
func isKey(v any) bool {
	switch v.(type) {
	case int64, string, edn.Keyword:
		return true
	}
	return false
}

func keyString(v any) string {
	switch k := v.(type) {
	case int64:
		return strconv.FormatInt(k, 10)
	case edn.Keyword:
		return string(k)
	default:
		return fmt.Sprint(k)
	}
}

func ints(v any) ([]int64, error) {
	var out []int64
	add := func(x any) error {
		switch n := x.(type) {
		case int64:
			out = append(out, n)
		case nil:
			out = append(out, EDNNil) // e.g. a cas from nil
		default:
			return fmt.Errorf("%s is not an integer", short(x))
		}
		return nil
	}
	switch c := v.(type) {
	case []any:
		for _, x := range c {
			if err := add(x); err != nil {
				return nil, err
			}
		}
	case map[any]bool:
		for x := range c {
			if err := add(x); err != nil {
				return nil, err
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	}
	if out == nil {
		out = []int64{}
	}
	return out, nil
}
