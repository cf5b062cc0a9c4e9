package reports

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/linearizable"
	"github.com/zkchaos/zkchaos/checker/sequential"
	"github.com/zkchaos/zkchaos/history"
)

// evidenceHistory is four calls: two reads (records 0-3), a write (4-5) and a
// lock acquire (6-7), one per second, each taking 100 ms.
func evidenceHistory() []history.Op {
	var ops []history.Op
	add := func(p history.Process, f, key string, typ history.Type, at float64, v *int64) {
		ops = append(ops,
			history.Op{Index: int64(len(ops)), Type: history.Invoke, F: f, Process: p, Time: sec(at), Key: key, Node: "n2"},
			history.Op{Index: int64(len(ops) + 1), Type: typ, F: f, Process: p, Time: sec(at + 0.1), Key: key, Node: "n2", Value: v})
		if typ == history.OK {
			ops[len(ops)-1].Version = history.Int32(3)
		}
	}
	add(4, history.Read, "k1", history.OK, 1, history.Int64(7))
	add(5, history.Read, "k1", history.OK, 2, history.Int64(8))
	add(4, history.Write, "k2", history.Info, 3, nil)
	add(6, "acquire", "", history.OK, 4, nil)
	return ops
}

func evidenceOf(t *testing.T, details any) []evidence {
	t.Helper()
	raw, err := json.Marshal(details)
	require.NoError(t, err)
	ev, err := findEvidence(raw, newOpLookup(evidenceHistory()))
	require.NoError(t, err)
	return ev
}

func TestFindEvidenceResolvesRecordIndexes(t *testing.T) {
	// As the transactions and watches checkers write them.
	ev := evidenceOf(t, map[string]any{
		"violation_count": 1,
		"violations":      []any{map[string]any{"rule": "fractured", "key": "k1", "message": "a snapshot saw half a transaction", "ops": []int{1, 2}}},
	})
	require.Len(t, ev, 1)
	assert.Equal(t, "fractured · k1", ev[0].Title)
	assert.Equal(t, "a snapshot saw half a transaction", ev[0].Text)
	assert.Empty(t, ev[0].Facts)
	assert.Equal(t, []opRef{
		{Role: "op", Text: "read k1 → ok 7@v3 · process 4 on n2 · #0/#1", T0: 1, T1: 1.1},
		{Role: "op", Text: "read k1 → ok 8@v3 · process 5 on n2 · #2/#3", T0: 2, T1: 2.1},
	}, ev[0].Refs, "a completion's index and an invocation's both name the whole call")
}

func TestFindEvidenceOfLockHoldsAndSessionChecks(t *testing.T) {
	first := map[string]any{"process": 6, "acquired_ns": sec(4.1), "until_ns": sec(9), "ended_by": "release", "acquire_index": 7}
	second := map[string]any{"process": 4, "acquired_ns": sec(5), "until_ns": sec(6), "ended_by": "release", "acquire_index": 3}
	ev := evidenceOf(t, map[string]any{
		"violation_examples": []any{map[string]any{"first": first, "second": second, "from_ns": sec(5), "to_ns": sec(6), "explanation": "both held the lock"}},
		"examples": []any{map[string]any{"kind": "present-after-bound", "path": "/e/1", "process": 4, "invoked_ns": sec(3),
			"completed_ns": sec(3.1), "index": 4, "evidence": "the node outlived its session"}},
	})
	require.Len(t, ev, 2)
	assert.Equal(t, "present-after-bound", ev[0].Title)
	assert.Equal(t, "the node outlived its session", ev[0].Text)
	assert.Equal(t, []opRef{{Role: "operation", Text: "write k2 → info · process 4 on n2 · #4/#5", T0: 3, T1: 3.1}}, ev[0].Refs,
		"the check's record, with its own times")
	assert.Equal(t, []fact{{Name: "path", Value: "/e/1"}, {Name: "process", Value: "4"}}, ev[0].Facts)

	assert.Equal(t, "violation example", ev[1].Title)
	assert.Equal(t, "both held the lock", ev[1].Text)
	require.Len(t, ev[1].Refs, 3)
	assert.Equal(t, opRef{Role: "time span", T0: 5, T1: 6}, ev[1].Refs[0], "the overlap itself")
	assert.Equal(t, opRef{Role: "first", Text: "acquire → ok v3 · process 6 on n2 · #6/#7", T0: 4.1, T1: 9}, ev[1].Refs[1],
		"the acquire's record, spanning the hold")
	assert.Equal(t, opRef{Role: "second", Text: "read k1 → ok 8@v3 · process 5 on n2 · #2/#3", T0: 5, T1: 6}, ev[1].Refs[2])
}

func TestFindEvidenceOfInvolvedOpsTypedOrReadBack(t *testing.T) {
	ops := evidenceHistory()
	d := sequential.Details{Violations: 1, Examples: []sequential.Violation{{
		Rule: sequential.RuleSessionMonotonic, Key: "k1", Session: "0x5", Explanation: "the session read v3 after v4",
		Ops: []sequential.InvolvedOp{{Role: "read", Invoke: ops[2], Complete: ops[3]}, {Role: "observed before", Invoke: ops[0], Complete: ops[1]}},
	}}}
	typed := evidenceOf(t, d)
	// results.json gives the details back as generic JSON.
	raw, err := json.Marshal(d)
	require.NoError(t, err)
	var generic any
	require.NoError(t, json.Unmarshal(raw, &generic))
	assert.Equal(t, typed, evidenceOf(t, generic), "the same evidence either way")

	require.Len(t, typed, 1)
	assert.Equal(t, "session-monotonic · k1", typed[0].Title)
	assert.Equal(t, []fact{{Name: "session", Value: "0x5"}}, typed[0].Facts)
	assert.Equal(t, []opRef{
		{Role: "read", Text: "read k1 → ok 8@v3 · process 5 on n2 · #2/#3", T0: 2, T1: 2.1},
		{Role: "observed before", Text: "read k1 → ok 7@v3 · process 4 on n2 · #0/#1", T0: 1, T1: 1.1},
	}, typed[0].Refs)
}

func TestFindEvidenceOfTheLinearizabilityCheckersCalls(t *testing.T) {
	ev := evidenceOf(t, linearizable.Details{Keys: []linearizable.KeyDetails{
		{Key: "k0", Verdict: checker.Valid, Ops: 10},
		{Key: "k1", Verdict: checker.Invalid, StateAfterPrefix: "7@v3",
			Explanation:     "a read returned a value at version 3, but the write of that value made version 2: read process 4 on n2: read -> 7@v3 (1000-1100 ms); no linearization",
			NotPlaceable:    []string{"process 5 on n2: read -> 8@v3 (2000-2100 ms)", "process 9: write(3) -> info (from 2500.5 ms, never confirmed)"},
			NeverLinearized: "process 5 on n2: read -> 8@v3 (2000-2100 ms)"},
	}})
	require.Len(t, ev, 1, "only the key with an explanation")
	assert.Equal(t, "k1", ev[0].Title)
	assert.Contains(t, ev[0].Text, "no linearization")
	assert.Equal(t, []opRef{
		{Role: "cited", Text: "process 4 on n2: read -> 7@v3 (1000-1100 ms) [#0]", T0: 1, T1: 1.1},
		{Role: "not placeable, never linearized", Text: "process 5 on n2: read -> 8@v3 (2000-2100 ms) [#2]", T0: 2, T1: 2.1},
		{Role: "not placeable", Text: "process 9: write(3) -> info (from 2500.5 ms, never confirmed)", T0: 2.5005, T1: 2.5005},
	}, ev[0].Refs, "the invocation is found by process and time; an operation is listed once")
	assert.Contains(t, ev[0].Facts, fact{Name: "state after prefix", Value: "7@v3"})
}

func TestFindEvidenceOfPlainListsAndTimeSpans(t *testing.T) {
	ev := evidenceOf(t, map[string]any{
		"bad":         []string{"n1: java.lang.NullPointerException"},
		"differences": []string{"n2 lacks /a"},
		"sequence": map[string]any{"examples": []any{map[string]any{
			"earlier": map[string]any{"element": 5, "path": "/q/e-3", "seq": 3, "invoke_ns": sec(1), "complete_ns": sec(1.5)},
			"later":   map[string]any{"element": 6, "path": "/q/e-2", "seq": 2, "invoke_ns": sec(2), "complete_ns": sec(2.5)},
		}}},
		"nodes": []any{map[string]any{"node": "n1", "present": 4}},
	})
	require.Len(t, ev, 3)
	assert.Equal(t, evidence{Title: "bad", Text: "n1: java.lang.NullPointerException"}, ev[0])
	assert.Equal(t, evidence{Title: "differences", Text: "n2 lacks /a"}, ev[1])
	assert.Equal(t, "example", ev[2].Title)
	assert.Equal(t, []opRef{
		{Role: "earlier", Text: "element 5, path /q/e-3, seq 3", T0: 1, T1: 1.5},
		{Role: "later", Text: "element 6, path /q/e-2, seq 2", T0: 2, T1: 2.5},
	}, ev[2].Refs)
}

func TestFindEvidenceOfAnIndexNotInTheHistory(t *testing.T) {
	ev := evidenceOf(t, map[string]any{"violations": []any{map[string]any{"message": "m", "ops": []int{99}}}})
	require.Len(t, ev, 1)
	assert.Equal(t, []opRef{{Role: "op", Text: "record #99 (not in this history)", T0: -1, T1: -1}}, ev[0].Refs)
}

func TestFindEvidenceCapsTheItems(t *testing.T) {
	var vs []any
	for range 50 {
		vs = append(vs, map[string]any{"message": "again"})
	}
	assert.Len(t, evidenceOf(t, map[string]any{"violations": vs}), maxEvidence)
}

func TestDecodeOrderedKeepsTheFieldOrder(t *testing.T) {
	v, err := decodeOrdered([]byte(`{"b": 1, "a": [true, null, "x", {"z": 2, "y": 3}]}`))
	require.NoError(t, err)
	assert.Equal(t, jsonObject{
		{Key: "b", Val: json.Number("1")},
		{Key: "a", Val: []any{true, nil, "x", jsonObject{{Key: "z", Val: json.Number("2")}, {Key: "y", Val: json.Number("3")}}}},
	}, v)
	_, err = decodeOrdered([]byte(`{} {}`))
	assert.Error(t, err)
	_, err = decodeOrdered([]byte(`{"a": `))
	assert.Error(t, err)
}
