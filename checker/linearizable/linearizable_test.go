package linearizable

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/checkertest"
)

func details(t *testing.T, r checker.Result) Details {
	t.Helper()
	d, ok := r.Details.(Details)
	require.True(t, ok, "details are %T", r.Details)
	return d
}

func TestLinearizableRegisterHistories(t *testing.T) {
	tests := []struct {
		name     string
		ops      []history.Op
		want     checker.Verdict
		mentions []string // substrings of the message
	}{
		{
			name: "concurrent writes, cas and reads that linearize",
			ops: checkertest.Hist(
				checkertest.WriteOK(1, checkertest.Key, 1, 0, 100, 1),
				checkertest.ReadOK(2, checkertest.Key, 10, 20, 0, 0),  // before the write took effect
				checkertest.ReadOK(3, checkertest.Key, 30, 120, 1, 1), // after it
				checkertest.WriteOK(4, checkertest.Key, 2, 40, 60, 2), // concurrent with write 1: it went second
				checkertest.ReadOK(2, checkertest.Key, 70, 80, 2, 2),
				checkertest.CASOK(5, checkertest.Key, 3, 2, 110, 130),
				checkertest.ReadOK(2, checkertest.Key, 140, 150, 3, 3),
			),
			want:     checker.Valid,
			mentions: []string{"All 7 operations on 1 key are linearizable (0 indeterminate)."},
		},
		{
			name: "a stale read after two writes completed",
			ops: checkertest.Hist(
				checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1),
				checkertest.WriteOK(1, checkertest.Key, 2, 20, 30, 2),
				checkertest.ReadOK(3, checkertest.Key, 40, 50, 1, 1),
			),
			want:     checker.Invalid,
			mentions: []string{"Key k is not linearizable", "2 of 3 operations", "at 2@v2", "process 3: read -> 1@v1 (40-50 ms)"},
		},
		{
			name: "linearizable only if an info write took effect",
			ops: checkertest.Hist(
				checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1),
				checkertest.WriteInfo(2, checkertest.Key, 2, 20, 30),
				checkertest.ReadOK(3, checkertest.Key, 40, 50, 1, 1), // not yet
				checkertest.ReadOK(3, checkertest.Key, 60, 70, 2, 2), // now it has
			),
			want: checker.Valid,
		},
		{
			name: "an info write cannot explain a value nobody wrote",
			ops: checkertest.Hist(
				checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1),
				checkertest.WriteInfo(2, checkertest.Key, 2, 20, 30),
				checkertest.ReadOK(3, checkertest.Key, 40, 50, 3, 2),
			),
			want:     checker.Invalid,
			mentions: []string{"read -> 3@v2"},
		},
		{
			name: "an info write cannot be undone",
			ops: checkertest.Hist(
				checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1),
				checkertest.WriteInfo(2, checkertest.Key, 2, 20, 30),
				checkertest.ReadOK(3, checkertest.Key, 40, 50, 2, 2),
				checkertest.ReadOK(3, checkertest.Key, 60, 70, 1, 1),
			),
			want:     checker.Invalid,
			mentions: []string{"read -> 1@v1 (60-70 ms)"},
		},
		{
			name: "an info cas that matched took effect",
			ops: checkertest.Hist(
				checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1),
				checkertest.CASInfo(2, checkertest.Key, 5, 1, 20, 30),
				checkertest.ReadOK(3, checkertest.Key, 40, 50, 5, 2),
			),
			want: checker.Valid,
		},
		{
			name: "an info cas whose version never matched did not happen",
			ops: checkertest.Hist(
				checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1),
				checkertest.CASInfo(2, checkertest.Key, 5, 0, 20, 30),
				checkertest.ReadOK(3, checkertest.Key, 40, 50, 5, 2),
			),
			want:     checker.Invalid,
			mentions: []string{"read -> 5@v2"},
		},
		{
			name: "a failed cas consistent with the version",
			ops: checkertest.Hist(
				checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1),
				checkertest.CASConflict(2, checkertest.Key, 5, 0, 20, 30),
				checkertest.ReadOK(3, checkertest.Key, 40, 50, 1, 1),
			),
			want: checker.Valid,
		},
		{
			name: "a failed cas contradicted by reads on both sides",
			ops: checkertest.Hist(
				checkertest.ReadOK(1, checkertest.Key, 0, 10, 0, 0),
				checkertest.CASConflict(2, checkertest.Key, 5, 0, 20, 30),
				checkertest.ReadOK(1, checkertest.Key, 40, 50, 0, 0),
				checkertest.WriteOK(3, checkertest.Key, 1, 60, 70, 1),
			),
			want:     checker.Invalid,
			mentions: []string{"cas(5 if v0) -> fail (version conflict)"},
		},
		{
			name: "two writes that both claim the same new version",
			ops: checkertest.Hist(
				checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1),
				checkertest.WriteOK(2, checkertest.Key, 2, 20, 30, 1),
				checkertest.ReadOK(3, checkertest.Key, 40, 50, 2, 2),
			),
			want:     checker.Invalid,
			mentions: []string{"write(2) -> ok v1"},
		},
		{
			name: "failed writes and failed or info reads are dropped",
			ops: checkertest.Hist(
				checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1),
				checkertest.WriteFail(2, checkertest.Key, 9, 20, 30),
				checkertest.ReadInfo(3, checkertest.Key, 20, 30),
				checkertest.ReadOK(3, checkertest.Key, 40, 50, 1, 1),
			),
			want:     checker.Valid,
			mentions: []string{"All 2 operations"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Checker{ReadMode: ReadQuorum}.Check(context.Background(), tt.ops)
			assert.Equal(t, tt.want, r.Verdict, r.Message)
			assert.Equal(t, "linearizable", r.Checker)
			for _, m := range tt.mentions {
				assert.Contains(t, r.Message, m)
			}
			d := details(t, r)
			require.Len(t, d.Keys, 1)
			assert.Equal(t, tt.want, d.Keys[0].Verdict)
			if tt.want == checker.Invalid {
				assert.NotEmpty(t, d.Keys[0].Explanation)
				assert.Len(t, r.Visualizations, 1, "a failing key is visualized")
			} else {
				assert.Empty(t, r.Visualizations, "valid keys are not visualized in a big-enough history")
			}
		})
	}
}

func TestStaleReadIsExplained(t *testing.T) {
	ops := checkertest.Hist(
		checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1),
		checkertest.WriteOK(1, checkertest.Key, 2, 20, 30, 2),
		checkertest.ReadOK(3, checkertest.Key, 40, 50, 1, 1),
	)
	r := Checker{ReadMode: ReadQuorum}.Check(context.Background(), ops)
	require.Equal(t, checker.Invalid, r.Verdict)
	k := details(t, r).Keys[0]
	assert.Equal(t, 3, k.Ops)
	assert.Equal(t, 2, k.LongestPrefix)
	assert.Equal(t, "2@v2", k.StateAfterPrefix)
	assert.Equal(t, []string{"process 3: read -> 1@v1 (40-50 ms)"}, k.NotPlaceable)
	assert.Equal(t, "process 3: read -> 1@v1 (40-50 ms)", k.NeverLinearized)
	assert.Equal(t, MethodPorcupine, k.Method, "the search confirmed the contradiction")
	assert.True(t, strings.HasPrefix(k.Explanation, "a read returned version 1 after another operation had already returned with version 2; versions only grow: "+
		"process 3: read -> 1@v1 (40-50 ms); earlier process 1: write(2) -> ok v2 (20-30 ms); "+
		"no linearization; the longest linearizable prefix has 2 of 3 operations"), k.Explanation)
}

func TestPlainReadsAreLeftOut(t *testing.T) {
	stale := checkertest.Hist(
		checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1),
		checkertest.WriteOK(1, checkertest.Key, 2, 20, 30, 2),
		checkertest.ReadOK(3, checkertest.Key, 40, 50, 1, 1),
	)
	for _, tt := range []struct {
		mode string
		why  string
	}{
		{ReadPlain, "1 plain read was left out: plain reads are sequentially consistent, not linearizable; judged by another checker."},
		{"", "1 plain read was left out: plain reads are sequentially consistent"}, // plain is the default
		{ReadSync, "1 sync read was left out: sync+read narrows the window but is not linearizable (ZOOKEEPER-1675)"},
	} {
		t.Run("mode "+tt.mode, func(t *testing.T) {
			r := Checker{ReadMode: tt.mode}.Check(context.Background(), stale)
			assert.Equal(t, checker.Valid, r.Verdict, "a stale %s read is not a ZooKeeper bug", tt.mode)
			assert.Contains(t, r.Message, tt.why)
			d := details(t, r)
			assert.Equal(t, 1, d.ReadsLeftOut)
			assert.Equal(t, 0, d.ReadsChecked)
			assert.Equal(t, 2, d.Keys[0].Ops)
			assert.Equal(t, 1, d.Keys[0].ReadsLeftOut)
		})
	}
}

func TestPlainModeStillChecksWrites(t *testing.T) {
	// Nothing changed the version before the ok cas was called, so the
	// earlier cas at version 0 cannot have failed: the writes alone are
	// invalid, with the plain read left out.
	ops := checkertest.Hist(
		checkertest.ReadOK(1, checkertest.Key, 0, 10, 0, 0),
		checkertest.CASConflict(2, checkertest.Key, 5, 0, 20, 30),
		checkertest.CASOK(3, checkertest.Key, 1, 0, 40, 50),
	)
	r := Checker{ReadMode: ReadPlain}.Check(context.Background(), ops)
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Contains(t, r.Message, "cas(5 if v0) -> fail (version conflict)")
	assert.Contains(t, r.Message, "1 plain read was left out")
	assert.Equal(t, 2, details(t, r).Keys[0].Ops)
}

func TestUnknownReadMode(t *testing.T) {
	r := Checker{ReadMode: "linearizable-please"}.Check(context.Background(), checkertest.Hist(checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)))
	assert.Equal(t, checker.Unknown, r.Verdict)
	assert.Contains(t, r.Message, `unknown read mode "linearizable-please"`)
}

func TestNoEvidenceIsUnknown(t *testing.T) {
	tests := []struct {
		name string
		mode string
		ops  []history.Op
		want string
	}{
		{"no reads in quorum mode", ReadQuorum, checkertest.Hist(checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.CASOK(1, checkertest.Key, 2, 1, 20, 30)),
			"no evidence: no quorum read completed ok"},
		{"no writes", ReadQuorum, checkertest.Hist(checkertest.ReadOK(1, checkertest.Key, 0, 10, 0, 0)),
			"no evidence: no write or cas completed ok"},
		{"only info writes", ReadQuorum, checkertest.Hist(checkertest.WriteInfo(1, checkertest.Key, 1, 0, 10), checkertest.ReadOK(2, checkertest.Key, 20, 30, 0, 0)),
			"no evidence: no write or cas completed ok"},
		{"plain reads only", ReadPlain, checkertest.Hist(checkertest.ReadOK(1, checkertest.Key, 0, 10, 0, 0)),
			"no evidence: no write or cas completed ok"},
		{"empty history", ReadQuorum, nil, "no evidence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Checker{ReadMode: tt.mode}.Check(context.Background(), tt.ops)
			assert.Equal(t, checker.Unknown, r.Verdict)
			assert.True(t, strings.HasPrefix(r.Message, tt.want), r.Message)
		})
	}
}

func TestViolationWithoutReadsIsStillInvalid(t *testing.T) {
	// Two writes cannot both produce version 1, reads or not.
	ops := checkertest.Hist(checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.WriteOK(2, checkertest.Key, 2, 20, 30, 1))
	r := Checker{ReadMode: ReadQuorum}.Check(context.Background(), ops)
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
}

// hardHistory is many concurrent indeterminate writes followed by a read of a
// value nobody wrote: Porcupine must try every subset of the writes before it
// can say no, far more than a millisecond of work.
func hardHistory(keys, infoWrites int) []history.Op {
	var groups [][]history.Op
	p := 0
	for k := range keys {
		name := fmt.Sprintf("k%d", k)
		p++
		groups = append(groups, checkertest.WriteOK(p, name, 1, 0, 1, 1))
		for i := range infoWrites {
			p++
			groups = append(groups, checkertest.WriteInfo(p, name, int64(100+i), 2, 3+int64(i)))
			p++
			groups = append(groups, checkertest.ReadOK(p, name, 2, 3+int64(i), 1, 1))
		}
		p++
		groups = append(groups, checkertest.ReadOK(p, name, 1000, 1001, 99, 99))
	}
	return checkertest.Hist(groups...)
}

func TestBudgetRunsOut(t *testing.T) {
	ops := hardHistory(3, 40)
	start := time.Now()
	r := Checker{ReadMode: ReadQuorum, Budget: time.Millisecond, PorcupineOnly: true}.Check(context.Background(), ops)
	assert.Less(t, time.Since(start), 30*time.Second, "the budget bounds the check")
	assert.Equal(t, checker.Unknown, r.Verdict, r.Message)
	assert.Contains(t, r.Message, "the 1ms budget ran out before")
	d := details(t, r)
	assert.NotEmpty(t, d.Unfinished)
	for _, k := range d.Unfinished {
		assert.Contains(t, r.Message, k)
	}
	for _, k := range d.Keys {
		assert.NotEqual(t, checker.Valid, k.Verdict, "an unfinished key is never valid")
	}
}

func TestVersionOrderDecidesWhatPorcupineCannot(t *testing.T) {
	// The read of 99 at version 99 contradicts the versions at once; the
	// search cannot finish in its confirmation budget, and the
	// contradiction stands.
	ops := hardHistory(1, 40)
	r := Checker{ReadMode: ReadQuorum}.Check(context.Background(), ops)
	require.Equal(t, checker.Invalid, r.Verdict, r.Message)
	k := details(t, r).Keys[0]
	assert.Equal(t, MethodVersionOrder, k.Method)
	assert.Equal(t, "a read returned a value that no write wrote: process 82: read -> 99@v99 (1000-1001 ms)", k.Explanation)
}

func TestCancelledCheckIsUnknown(t *testing.T) {
	ops := hardHistory(2, 40)
	t.Run("before it starts", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r := Checker{ReadMode: ReadQuorum}.Check(ctx, ops)
		assert.Equal(t, checker.Unknown, r.Verdict)
		assert.Contains(t, r.Message, "the check was cancelled (context canceled)")
	})
	t.Run("while it runs", func(t *testing.T) {
		// No budget: only the cancellation can stop Porcupine, and a model
		// stopped midway must not be mistaken for a violation.
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		r := Checker{ReadMode: ReadQuorum, PorcupineOnly: true}.Check(ctx, ops)
		assert.Equal(t, checker.Unknown, r.Verdict, r.Message)
		assert.Len(t, details(t, r).Unfinished, 2)
	})
}

func TestInterruptedHistory(t *testing.T) {
	// The run ended while a write and a read were in flight: the write may
	// have happened (a later read saw it), the read is dropped.
	w := checkertest.Invoke(2, history.Write, checkertest.Key, 20)
	w.Value = history.Int64(2)
	ops := checkertest.Hist(
		checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1),
		checkertest.One(w),
		checkertest.ReadOK(3, checkertest.Key, 30, 40, 2, 2),
		checkertest.One(checkertest.Invoke(4, history.Read, checkertest.Key, 50)),
		checkertest.One(checkertest.Nemesis("kill", "kill-leader", 45, 46)[0]), // a fault that never completed
	)
	r := Checker{ReadMode: ReadQuorum}.Check(context.Background(), ops)
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	k := details(t, r).Keys[0]
	assert.Equal(t, 3, k.Ops)
	assert.Equal(t, 1, k.InfoOps)

	// And if nothing saw it, it need not have happened.
	ops = checkertest.Hist(checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.One(w), checkertest.ReadOK(3, checkertest.Key, 30, 40, 1, 1))
	r = Checker{ReadMode: ReadQuorum}.Check(context.Background(), ops)
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
}

func TestKeysAreCheckedIndependently(t *testing.T) {
	ops := checkertest.Hist(
		checkertest.WriteOK(1, "a", 1, 0, 10, 1),
		checkertest.WriteOK(2, "b", 1, 0, 10, 1),
		checkertest.ReadOK(3, "a", 20, 30, 1, 1),
		checkertest.ReadOK(4, "b", 20, 30, 0, 0), // stale on b only
		checkertest.ReadOK(5, "c", 20, 30, 0, 0),
	)
	r := Checker{ReadMode: ReadQuorum}.Check(context.Background(), ops)
	require.Equal(t, checker.Invalid, r.Verdict)
	assert.True(t, strings.HasPrefix(r.Message, "Key b is not linearizable"), r.Message)
	d := details(t, r)
	got := map[string]checker.Verdict{}
	for _, k := range d.Keys {
		got[k.Key] = k.Verdict
	}
	assert.Equal(t, map[string]checker.Verdict{"a": checker.Valid, "b": checker.Invalid, "c": checker.Valid}, got)
	require.Len(t, r.Visualizations, 1)
	assert.Contains(t, r.Visualizations[0].Title, "key b")
}

func TestVisualizations(t *testing.T) {
	ops := checkertest.Hist(
		checkertest.Nemesis("partition", "isolate-leader", 5, 15, "n1"),
		checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1),
		checkertest.WriteOK(1, checkertest.Key, 2, 20, 30, 2),
		checkertest.ReadOK(3, checkertest.Key, 40, 50, 1, 1),
		checkertest.One(history.Op{Type: history.Info, F: "heal", Process: history.NemesisProcess, Time: 55 * checkertest.Msec,
			Fault: &history.Fault{Name: "heal-all"}}),
		checkertest.WriteOK(2, "other", 7, 0, 10, 1),
		checkertest.ReadOK(2, "other", 20, 30, 7, 1),
	)

	r := Checker{ReadMode: ReadQuorum}.Check(context.Background(), ops)
	require.Equal(t, checker.Invalid, r.Verdict)
	require.Len(t, r.Visualizations, 1, "only the failing key")
	v := r.Visualizations[0]
	assert.Equal(t, "linearizability of key k (invalid)", v.Title)
	html := string(v.HTML)
	assert.Contains(t, html, "<html")
	assert.Contains(t, html, `"Tag":"nemesis"`)
	assert.Contains(t, html, "isolate-leader n1")
	assert.Contains(t, html, "healed by heal", "the heal ends the partition's window")
	assert.Contains(t, html, `read -\u003e 1@v1`) // JSON escapes '>'
	assert.Contains(t, html, `"2@v2"`)
	assert.Contains(t, html, "process 3")

	r = Checker{ReadMode: ReadQuorum, VisualizeAllBelow: 100}.Check(context.Background(), ops)
	assert.Len(t, r.Visualizations, 2, "every key in a small history")
}

func TestVisualizationMetadataIsEscaped(t *testing.T) {
	// Porcupine shows an operation's metadata as HTML in its tooltip.
	w := checkertest.WriteInfo(1, checkertest.Key, 5, 0, 10)
	w[1].Error = "<script>alert(1)</script>"
	ops := checkertest.Hist(w, checkertest.WriteOK(2, checkertest.Key, 1, 20, 30, 1), checkertest.ReadOK(3, checkertest.Key, 40, 50, 9, 9))
	r := Checker{ReadMode: ReadQuorum}.Check(context.Background(), ops)
	require.Len(t, r.Visualizations, 1)
	page := string(r.Visualizations[0].HTML)
	assert.NotContains(t, page, "<script>alert(1)")
	assert.NotContains(t, page, `\u003cscript\u003ealert(1)`, "JSON escaping alone is undone by the browser")
	assert.Contains(t, page, `\u0026lt;script\u0026gt;alert(1)`, "escaped for HTML, then for JSON")
}

// TestNemesisAnnotations: each fault window is drawn from its injection to
// its heal (or to the end of the history), whatever the records between.
func TestNemesisAnnotations(t *testing.T) {
	ops := checkertest.Hist(
		checkertest.Nemesis("kill", "kill-leader", 10, 20, "n2"),
		checkertest.Nemesis("start", "kill-leader", 25, 26, "n2"),
		checkertest.One(history.Op{Type: history.Info, F: "clock", Process: history.NemesisProcess, Time: 30 * checkertest.Msec,
			Fault: &history.Fault{Name: "clock-skew", Detail: "+5s"}}),
		checkertest.One(history.Op{Type: history.Info, F: history.FRoles, Process: history.NemesisProcess, Time: 35 * checkertest.Msec}),
		checkertest.One(history.Op{Type: history.Invoke, F: "pause", Process: history.NemesisProcess, Time: 40 * checkertest.Msec,
			Fault: &history.Fault{Name: "pause"}}),
	)
	a := nemesisAnnotations(ops)
	require.Len(t, a, 3, "the roles observation is no fault")
	assert.Equal(t, "kill-leader n2", a[0].Description)
	assert.Equal(t, [2]int64{10 * checkertest.Msec, 26 * checkertest.Msec}, [2]int64{a[0].Start, a[0].End}, "from the kill to the end of the start")
	assert.Contains(t, a[0].Details, "healed by start")
	assert.Equal(t, "clock-skew", a[1].Description)
	assert.Equal(t, [2]int64{30 * checkertest.Msec, 40 * checkertest.Msec}, [2]int64{a[1].Start, a[1].End}, "never healed: to the end")
	assert.Contains(t, a[1].Details, "+5s")
	assert.Contains(t, a[1].Details, "in force until the history ends")
	assert.Equal(t, "pause", a[2].Description)
	for _, x := range a {
		assert.Equal(t, "nemesis", x.Tag)
	}
}

func TestDescribeOperations(t *testing.T) {
	tests := []struct {
		in   regInput
		out  regOutput
		want string
	}{
		{regInput{f: history.CAS, value: 7, expect: 3}, regOutput{typ: history.OK, version: 4, hasVersion: true}, "cas(7 if v3) -> ok v4"},
		{regInput{f: history.CAS, value: 7, expect: 3}, regOutput{typ: history.Fail}, "cas(7 if v3) -> fail (version conflict)"},
		{regInput{f: history.Write, value: 7}, regOutput{typ: history.Info}, "write(7) -> info (may or may not have happened)"},
		{regInput{f: history.Write, value: 7}, regOutput{typ: history.OK}, "write(7) -> ok"},
		{regInput{f: history.Read}, regOutput{typ: history.OK, value: 12, version: 5, hasVersion: true}, "read -> 12@v5"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, describeOp(tt.in, tt.out))
	}
	assert.Equal(t, "12@v5", regState{value: 12, version: 5}.String())
}

func TestResultIsJSON(t *testing.T) {
	ops := checkertest.Hist(checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.ReadOK(2, checkertest.Key, 20, 30, 0, 0))
	r := Checker{ReadMode: ReadQuorum}.Check(context.Background(), ops)
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, "invalid", back["verdict"])
	assert.Equal(t, "linearizable", back["checker"])
	assert.NotContains(t, string(b), "Visualizations", "HTML stays out of results.json")
	keys := back["details"].(map[string]any)["keys"].([]any)
	assert.Equal(t, "k", keys[0].(map[string]any)["key"])
}

// randomHistory simulates a correct register under concurrency: every
// operation takes effect at its own instant inside its interval. Some writes
// are indeterminate, some cas fail on a version conflict, some reads time out.
func randomHistory(rng *rand.Rand, keys, opsPerKey int) []history.Op {
	var groups [][]history.Op
	p := 0
	for k := range keys {
		name := fmt.Sprintf("k%d", k)
		s := regState{}
		next := int64(1)
		for i := range opsPerKey {
			at := int64(10 * (i + 1)) // the linearization point, ms
			call, ret := at-rng.Int64N(25), at+rng.Int64N(25)
			p++
			switch x := rng.IntN(10); {
			case x < 3:
				s = regState{value: next, version: s.version + 1}
				if rng.IntN(10) == 0 {
					groups = append(groups, checkertest.WriteInfo(p, name, next, call, ret))
				} else {
					groups = append(groups, checkertest.WriteOK(p, name, next, call, ret, s.version))
				}
				next++
			case x < 5:
				if rng.IntN(2) == 0 {
					groups = append(groups, checkertest.CASConflict(p, name, next, s.version+1, call, ret))
				} else {
					groups = append(groups, checkertest.CASOK(p, name, next, s.version, call, ret))
					s = regState{value: next, version: s.version + 1}
				}
				next++
			case x < 6:
				groups = append(groups, checkertest.ReadInfo(p, name, call, ret))
			default:
				groups = append(groups, checkertest.ReadOK(p, name, call, ret, s.value, s.version))
			}
		}
	}
	return checkertest.Hist(groups...)
}

func TestLargeHistory(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ops := randomHistory(rng, 8, 1500)
	c := Checker{ReadMode: ReadQuorum, Budget: time.Minute}
	r := c.Check(context.Background(), ops)
	require.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Len(t, details(t, r).Keys, 8)

	// One read made stale in the middle of key k3 is found.
	for i := len(ops) / 2; i < len(ops); i++ {
		op := &ops[i]
		if op.Key == "k3" && op.F == history.Read && op.Type == history.OK && *op.Version > 2 {
			op.Version = history.Int32(*op.Version - 2)
			break
		}
	}
	r = c.Check(context.Background(), ops)
	require.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.True(t, strings.HasPrefix(r.Message, "Key k3 is not linearizable"), r.Message)
}

func TestMalformedRecordsMakeAKeyUnknown(t *testing.T) {
	noValue := checkertest.WriteOK(2, "b", 1, 0, 10, 1)
	noValue[0].Value = nil // a write whose value the harness failed to record
	noValue[1].Value = nil
	ops := checkertest.Hist(
		checkertest.WriteOK(1, "a", 1, 0, 10, 1),
		checkertest.ReadOK(1, "a", 20, 30, 1, 1),
		noValue,
		checkertest.ReadOK(3, "b", 20, 30, 1, 1),
	)
	r := Checker{ReadMode: ReadQuorum}.Check(context.Background(), ops)
	assert.Equal(t, checker.Unknown, r.Verdict, "an unreadable write must not be guessed at")
	assert.Contains(t, r.Message, "1 key could not be checked (b)")
	assert.Contains(t, r.Message, "write without value")
	assert.Empty(t, details(t, r).Unfinished, "a malformed key is not an unfinished one")
}

func TestCompletionStampedBeforeItsInvocationDoesNotPanic(t *testing.T) {
	ops := []history.Op{
		{Index: 0, Type: history.Invoke, F: history.Write, Process: 0, Time: 50, Key: "k", Value: history.Int64(1)},
		{Index: 1, Type: history.OK, F: history.Write, Process: 0, Time: 10, Key: "k", Value: history.Int64(1), Version: history.Int32(1)},
		{Index: 2, Type: history.Invoke, F: history.Read, Process: 1, Time: 60, Key: "k"},
		{Index: 3, Type: history.OK, F: history.Read, Process: 1, Time: 70, Key: "k", Value: history.Int64(0), Version: history.Int32(0)},
	}
	r := Checker{ReadMode: ReadQuorum, VisualizeAllBelow: 100}.Check(context.Background(), ops)
	assert.Equal(t, checker.Invalid, r.Verdict, "the write completed (instantly) before the read began: reading 0 is stale")
	assert.NotEmpty(t, r.Visualizations)
}
