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
	for _, op := range ops {
		if op.IsNemesis() && IsObservation(op.F) {
			continue
		}
		m := map[edn.Keyword]any{
			"type": edn.Keyword(op.Type), "f": edn.Keyword(op.F), "time": op.Time,
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
		v = op.Values
	case op.Value != nil:
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

// ReadEDN reads a Jepsen history: EDN maps one after another (one per line,
// as Jepsen writes them, or inside one vector). Values are understood in the
// shapes Jepsen's register, cas-register and set workloads use, with or
// without independent [key value] tuples: a read's or write's integer (or
// nil), a cas's [old new] (into Values), a set read's collection (into
// Values). Times, indices and processes are taken as given; :nemesis and
// other non-integer processes become NemesisProcess.
func ReadEDN(r io.Reader) ([]Op, error) {
	dec := edn.NewDecoder(bufio.NewReader(r))
	var ops []Op
	for n := 1; ; n++ {
		var raw any
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return ops, fmt.Errorf("EDN form %d: %w", n, err)
		}
		forms := []any{raw}
		if vec, ok := raw.([]any); ok {
			forms = vec
		}
		for _, f := range forms {
			op, err := opFromEDN(f)
			if err != nil {
				return ops, fmt.Errorf("EDN operation %d: %w", len(ops)+1, err)
			}
			op.Index = int64(len(ops)) // file order is history order
			ops = append(ops, op)
		}
	}
	return ops, nil
}

func opFromEDN(f any) (Op, error) {
	m, ok := f.(map[any]any)
	if !ok {
		return Op{}, fmt.Errorf("not a map: %v", f)
	}
	get := func(k string) any { return m[edn.Keyword(k)] }
	var op Op
	t, ok := get("type").(edn.Keyword)
	if !ok {
		return op, fmt.Errorf("no :type keyword in %v", f)
	}
	op.Type = Type(t)
	switch op.Type {
	case Invoke, OK, Fail, Info:
	default:
		return op, fmt.Errorf(":type %s is not :invoke, :ok, :fail or :info", t)
	}
	switch fv := get("f").(type) {
	case edn.Keyword:
		op.F = string(fv)
	case edn.Symbol:
		op.F = string(fv)
	case string:
		op.F = fv
	default:
		return op, fmt.Errorf("no :f in %v", f)
	}
	if p, ok := get("process").(int64); ok {
		op.Process = Process(p)
	} else {
		op.Process = NemesisProcess
	}
	if t, ok := get("time").(int64); ok {
		op.Time = t
	}
	if e := get("error"); e != nil {
		op.Error = fmt.Sprint(e)
	}
	if op.IsNemesis() {
		return op, nil
	}
	v := get("value")
	if tuple, ok := v.([]any); ok && len(tuple) == 2 && isKey(tuple[0]) && !(op.F == CAS && isInt(tuple[0]) && isInt(tuple[1])) {
		op.Key = keyString(tuple[0])
		v = tuple[1]
	}
	switch x := v.(type) {
	case nil:
		if op.Type == OK && op.F == Read {
			op.Value = Int64(EDNNil)
		}
	case int64:
		op.Value = Int64(x)
	case []any, map[any]bool:
		vals, err := ints(x)
		if err != nil {
			return op, fmt.Errorf("value of %s: %w", op.F, err)
		}
		op.Values = vals
	default:
		return op, fmt.Errorf("value %v of %s is not an integer, nil or a collection of integers", v, op.F)
	}
	return op, nil
}

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
			return fmt.Errorf("%v is not an integer", x)
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
