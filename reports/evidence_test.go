package reports

import (
	"context"
	"fmt"
	"testing"
	"time"

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

func layOut(as ...checker.Anomaly) []evidence {
	return evidenceOf(as, newOpLookup(evidenceHistory()))
}

func TestEvidenceNamesTheCallsBehindRecords(t *testing.T) {
	ev := layOut(checker.Anomaly{Kind: "fractured", Key: "k1", Text: "a snapshot saw half a transaction",
		Ops: []checker.OpRef{checker.Op("involved", 1), checker.Op("involved", 2)}})
	require.Len(t, ev, 1)
	assert.Equal(t, "fractured · k1", ev[0].Title)
	assert.Equal(t, "a snapshot saw half a transaction", ev[0].Text)
	assert.Empty(t, ev[0].Facts)
	assert.Equal(t, []opRef{
		{Role: "involved", Text: "read k1 → ok 7@v3 · process 4 on n2 · #0/#1", T0: 1, T1: 1.1},
		{Role: "involved", Text: "read k1 → ok 8@v3 · process 5 on n2 · #2/#3", T0: 2, T1: 2.1},
	}, ev[0].Refs, "a completion's index and an invocation's both name the whole call")
}

func TestEvidenceOfSpansAndOperationsOverSpans(t *testing.T) {
	ev := layOut(checker.Anomaly{Kind: "two holders", Text: "both held the lock",
		Facts: []checker.Fact{{Name: "first ended by", Value: "release"}, {Name: "empty", Value: ""}},
		Ops: []checker.OpRef{checker.Span("overlap", sec(5), sec(6)),
			{Role: "first holder", Index: 6, Start: sec(4.1), End: sec(9)},
			{Role: "second holder", Index: 2, Start: sec(5), End: sec(6)}}})
	require.Len(t, ev, 1)
	assert.Equal(t, "two holders", ev[0].Title)
	assert.Equal(t, []checker.Fact{{Name: "first ended by", Value: "release"}}, ev[0].Facts, "a fact without a value is left out")
	assert.Equal(t, []opRef{
		{Role: "overlap", T0: 5, T1: 6},
		{Role: "first holder", Text: "acquire → ok v3 · process 6 on n2 · #6/#7", T0: 4.1, T1: 9},
		{Role: "second holder", Text: "read k1 → ok 8@v3 · process 5 on n2 · #2/#3", T0: 5, T1: 6},
	}, ev[0].Refs, "the acquire's record, spanning the hold")
}

func TestEvidenceListsAnOperationOnceWithEveryRole(t *testing.T) {
	ev := layOut(checker.Anomaly{Kind: "not linearizable", Key: "k1", Text: "no linearization",
		Ops: []checker.OpRef{checker.Op("not placeable", 2), checker.Op("not placeable", 4), checker.Op("never linearized", 3), checker.Op("not placeable", 99)}})
	require.Len(t, ev, 1)
	assert.Equal(t, []opRef{
		{Role: "not placeable, never linearized", Text: "read k1 → ok 8@v3 · process 5 on n2 · #2/#3", T0: 2, T1: 2.1},
		{Role: "not placeable", Text: "write k2 → info · process 4 on n2 · #4/#5", T0: 3, T1: 3.1},
		{Role: "not placeable", Text: "record #99 (not in this history)", T0: -1, T1: -1},
	}, ev[0].Refs)
}

func TestEvidenceCapsTheItemsAndTheirOperations(t *testing.T) {
	var as []checker.Anomaly
	for i := range 50 {
		a := checker.Anomaly{Kind: "again", Text: "m"}
		for j := range 20 {
			a.Ops = append(a.Ops, checker.Span(fmt.Sprint("span ", j), sec(float64(i)), sec(float64(i+j))))
		}
		as = append(as, a)
	}
	ev := layOut(as...)
	assert.Len(t, ev, maxEvidence)
	assert.Len(t, ev[0].Refs, maxRefsPerItem)
}

// TestEvidenceOfTheCheckersAsStoredInResults judges a history with a read
// that breaks linearizability and sequential consistency, and lays out the
// evidence from the results in memory and as read back from results.json:
// the same either way, naming the broken read.
func TestEvidenceOfTheCheckersAsStoredInResults(t *testing.T) {
	ops := registerRun{Records: 1500, Workers: 6, Keys: 2, Rate: 100, KillEvery: 5 * time.Second, KillFor: 2 * time.Second, Seed: 3}.history()
	broken := breakKey(ops, "k1")
	var invoked int64 = -1
	for _, c := range history.Calls(ops) {
		if c.Complete.Index == broken {
			invoked = c.Invoke.Index
		}
	}
	require.NotEqual(t, int64(-1), invoked)
	r := judge(ops, "broken")
	dir := t.TempDir()
	require.NoError(t, WriteResults(dir, r))
	stored, err := ReadResults(dir)
	require.NoError(t, err)
	look := newOpLookup(ops)
	fresh, read := checkSections(r.Check, look), checkSections(stored.Check, look)
	require.Len(t, read, len(fresh))
	for i := range fresh {
		assert.Equal(t, fresh[i].Evidence, read[i].Evidence, "%s: the same evidence from results.json", fresh[i].Path)
	}

	for _, name := range []string{"linearizable", "sequential"} {
		res, ok := r.Check.Find(name)
		require.True(t, ok, name)
		require.NotEmpty(t, res.Anomalies, name)
		var named []int64
		for _, a := range res.Anomalies {
			for _, o := range a.Ops {
				named = append(named, o.Index)
			}
		}
		assert.Contains(t, named, invoked, "%s names the broken read by its invocation record", name)
	}
	lin, _ := r.Check.Find("linearizable")
	assert.Equal(t, "not linearizable", lin.Anomalies[0].Kind)
	assert.Equal(t, "k1", lin.Anomalies[0].Key)
}

func TestEvidenceOfTheValueRegistersCalls(t *testing.T) {
	// Process 1 writes 1, then process 2 reads 2, which nobody wrote.
	ops := []history.Op{
		{Index: 0, Type: history.Invoke, F: history.Write, Process: 1, Time: sec(1), Key: "k", Value: history.Int64(1)},
		{Index: 1, Type: history.OK, F: history.Write, Process: 1, Time: sec(1.1), Key: "k", Value: history.Int64(1)},
		{Index: 2, Type: history.Invoke, F: history.Read, Process: 2, Time: sec(2), Key: "k"},
		{Index: 3, Type: history.OK, F: history.Read, Process: 2, Time: sec(2.1), Key: "k", Value: history.Int64(2)},
	}
	r := checker.Compose("jepsen", linearizable.ValueRegister{}).Check(context.Background(), ops).Children[0]
	require.Equal(t, checker.Invalid, r.Verdict, r.Message)
	ev := evidenceOf(r.Anomalies, newOpLookup(ops))
	require.Len(t, ev, 1)
	assert.Equal(t, "not linearizable · k", ev[0].Title)
	assert.Contains(t, ev[0].Text, "process 2: read 2")
	assert.Equal(t, []opRef{{Role: "never linearized", Text: "read k → ok 2 · process 2 · #2/#3", T0: 2, T1: 2.1}}, ev[0].Refs,
		"the call the explanation names, found by its record, not by its description")
}

func TestEvidenceOfSequentialViolationsNamesTheirOperations(t *testing.T) {
	ops := evidenceHistory()
	d := sequential.Details{Violations: 1, Examples: []sequential.Violation{{
		Rule: sequential.RuleSessionMonotonic, Key: "k1", Session: "0x5", Explanation: "the session read v3 after v4",
		Ops: []sequential.InvolvedOp{{Role: "read", Invoke: ops[2], Complete: ops[3]}, {Role: "observed before", Invoke: ops[0], Complete: ops[1]}},
	}}}
	ev := layOut(d.Evidence()...)
	require.Len(t, ev, 1)
	assert.Equal(t, "session-monotonic · k1", ev[0].Title)
	assert.Equal(t, []checker.Fact{{Name: "session", Value: "0x5"}}, ev[0].Facts)
	assert.Equal(t, []opRef{
		{Role: "read", Text: "read k1 → ok 8@v3 · process 5 on n2 · #2/#3", T0: 2, T1: 2.1},
		{Role: "observed before", Text: "read k1 → ok 7@v3 · process 4 on n2 · #0/#1", T0: 1, T1: 1.1},
	}, ev[0].Refs)
}
