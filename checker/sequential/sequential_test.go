package sequential

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/checkertest"
)

// Helpers for session-aware histories: they change every record of a group
// (an invoke and its completion) in place and return it.

// inSession records the group as served by ZooKeeper session id.
func inSession(id int64, g []history.Op) []history.Op {
	for i := range g {
		g[i].Session = id
	}
	return g
}

// atZxid gives the group's completion the Stat's modification zxid.
func atZxid(z int64, g []history.Op) []history.Op {
	for i := range g {
		if g[i].Type == history.OK {
			g[i].Zxid = z
		}
	}
	return g
}

// onNode records the group as served by node.
func onNode(n string, g []history.Op) []history.Op {
	for i := range g {
		g[i].Node = n
	}
	return g
}

// at is a session-aware ok operation: session id, zxid z.
func at(id, z int64, g []history.Op) []history.Op { return inSession(id, atZxid(z, g)) }

func seqDetails(t *testing.T, r checker.Result) Details {
	t.Helper()
	d, ok := r.Details.(Details)
	require.True(t, ok, "details are %T", r.Details)
	return d
}

func TestSequentialHistories(t *testing.T) {
	const k1, k2 = "k1", "k2"
	tests := []struct {
		name     string
		ops      []history.Op
		want     checker.Verdict
		rules    map[string]int // violations per rule, for invalid histories
		mentions []string
	}{
		// Valid: what ZooKeeper allows for plain reads.
		{
			name: "a stale read in another session is allowed",
			ops: checkertest.Hist(
				at(1, 0x10, checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)),
				at(1, 0x11, checkertest.WriteOK(1, checkertest.Key, 2, 20, 30, 2)),
				at(2, 0x10, checkertest.ReadOK(2, checkertest.Key, 40, 50, 1, 1)), // a lagging follower
			),
			want:     checker.Valid,
			mentions: []string{"All 1 ok read by 1 session are sequentially consistent", "(2 acknowledged writes)"},
		},
		{
			name: "a session's reads move forward and it sees its own writes",
			ops: checkertest.Hist(
				at(1, 0x5, checkertest.ReadOK(1, checkertest.Key, 0, 5, 0, 0)),
				at(1, 0x10, checkertest.WriteOK(1, checkertest.Key, 1, 10, 20, 1)),
				at(1, 0x10, checkertest.ReadOK(1, checkertest.Key, 30, 40, 1, 1)),
				at(2, 0x11, checkertest.WriteOK(2, checkertest.Key, 2, 45, 50, 2)),
				at(1, 0x11, checkertest.ReadOK(1, checkertest.Key, 60, 70, 2, 2)),
			),
			want: checker.Valid,
		},
		{
			name: "a new session may start from an older view",
			ops: checkertest.Hist(
				at(1, 0x10, checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)),
				at(1, 0x10, checkertest.ReadOK(1, checkertest.Key, 20, 30, 1, 1)),
				at(2, 0x5, checkertest.ReadOK(1, checkertest.Key, 40, 50, 0, 0)), // same process, new session, older server
			),
			want: checker.Valid,
		},
		{
			name: "an indeterminate write may explain a read",
			ops: checkertest.Hist(
				at(1, 0x10, checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)),
				inSession(2, checkertest.WriteInfo(2, checkertest.Key, 2, 20, 30)),
				at(3, 0x11, checkertest.ReadOK(3, checkertest.Key, 40, 50, 2, 2)),
			),
			want: checker.Valid,
		},
		{
			name: "a write still in flight when the read returned may explain it",
			ops: checkertest.Hist(
				checkertest.One(inSession(2, []history.Op{func() history.Op {
					op := checkertest.Invoke(2, history.Write, checkertest.Key, 20)
					op.Value = history.Int64(9)
					return op
				}()})[0]), // never completed
				at(3, 0x11, checkertest.ReadOK(3, checkertest.Key, 30, 40, 9, 1)),
			),
			want: checker.Valid,
		},
		{
			name: "an indeterminate cas explains a read of the version after the one it expected",
			ops: checkertest.Hist(
				at(1, 0x10, checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)),
				inSession(2, checkertest.CASInfo(2, checkertest.Key, 7, 1, 20, 30)),
				at(3, 0x12, checkertest.ReadOK(3, checkertest.Key, 40, 50, 7, 2)),
			),
			want: checker.Valid,
		},
		{
			name: "the session's view across keys holds",
			ops: checkertest.Hist(
				at(1, 0x10, checkertest.WriteOK(1, k1, 1, 0, 10, 1)),
				at(2, 0x11, checkertest.WriteOK(2, k2, 1, 20, 30, 1)),
				at(3, 0x11, checkertest.ReadOK(3, k2, 40, 50, 1, 1)),
				at(3, 0x10, checkertest.ReadOK(3, k1, 60, 70, 1, 1)),
			),
			want: checker.Valid,
		},
		{
			name: "an operation whose session changed midway is left out of the session rules",
			ops: checkertest.Hist(
				func() []history.Op { // invoked on session 1, completed on session 2
					g := at(1, 0x11, checkertest.ReadOK(1, checkertest.Key, 30, 40, 2, 2))
					g[1].Session = 2
					return g
				}(),
				at(1, 0x10, checkertest.WriteOK(4, checkertest.Key, 1, 0, 10, 1)),
				at(1, 0x11, checkertest.WriteOK(4, checkertest.Key, 2, 15, 20, 2)),
				at(2, 0x10, checkertest.ReadOK(1, checkertest.Key, 50, 60, 1, 1)),
			),
			want: checker.Valid,
		},
		{
			name: "failed writes and reads are no evidence",
			ops: checkertest.Hist(
				at(1, 0x10, checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)),
				inSession(1, checkertest.WriteFail(1, checkertest.Key, 5, 20, 30)),
				inSession(1, checkertest.CASConflict(1, checkertest.Key, 6, 0, 40, 50)),
				inSession(1, checkertest.ReadInfo(1, checkertest.Key, 55, 58)),
				at(1, 0x10, checkertest.ReadOK(1, checkertest.Key, 60, 70, 1, 1)),
			),
			want: checker.Valid,
		},

		// Invalid: one per rule, and the tricky cases.
		{
			name: "a session goes back on a key",
			ops: checkertest.Hist(
				at(1, 0x10, checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)),
				at(1, 0x11, checkertest.WriteOK(1, checkertest.Key, 2, 20, 30, 2)),
				at(2, 0x11, checkertest.ReadOK(2, checkertest.Key, 40, 50, 2, 2)),
				at(2, 0x10, checkertest.ReadOK(2, checkertest.Key, 60, 70, 1, 1)),
			),
			want:     checker.Invalid,
			rules:    map[string]int{RuleSessionMonotonic: 1},
			mentions: []string{"1 violation of sequential consistency (session-monotonic 1)", "went back to version 1 after the session had seen version 2"},
		},
		{
			name: "a session does not see its own write",
			ops: checkertest.Hist(
				at(1, 0x10, checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)),
				at(2, 0x11, checkertest.WriteOK(2, checkertest.Key, 2, 20, 30, 2)),
				at(2, 0x10, checkertest.ReadOK(2, checkertest.Key, 40, 50, 1, 1)),
			),
			want:     checker.Invalid,
			rules:    map[string]int{RuleSessionMonotonic: 1},
			mentions: []string{"the session had seen version 2: write(2) -> ok v2"},
		},
		{
			name: "a session goes back in zxid at the same version",
			ops: checkertest.Hist(
				at(1, 0x10, checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)),
				at(2, 0x10, checkertest.ReadOK(2, checkertest.Key, 20, 30, 1, 1)),
				at(2, 0x9, checkertest.ReadOK(2, checkertest.Key, 40, 50, 1, 1)),
			),
			want:  checker.Invalid,
			rules: map[string]int{RuleSessionMonotonic: 1, RuleVersionAgreement: 1},
		},
		{
			name: "a session's view goes back across keys",
			ops: checkertest.Hist(
				at(1, 0x10, checkertest.WriteOK(1, k1, 1, 0, 10, 1)),
				at(2, 0x11, checkertest.WriteOK(2, k2, 1, 20, 30, 1)),
				at(3, 0x11, checkertest.ReadOK(3, k2, 40, 50, 1, 1)),
				at(3, 0x5, checkertest.ReadOK(3, k1, 60, 70, 0, 0)), // missed k1's write at 0x10 < 0x11
			),
			want:     checker.Invalid,
			rules:    map[string]int{RuleSessionView: 1},
			mentions: []string{"session-view on key k1", "had already seen zxid 0x11", "version 1 of k1 was committed at zxid 0x10"},
		},
		{
			name: "a value nobody wrote",
			ops: checkertest.Hist(
				at(1, 0x10, checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)),
				at(2, 0x10, checkertest.ReadOK(2, checkertest.Key, 20, 30, 7, 1)),
			),
			want:  checker.Invalid,
			rules: map[string]int{RuleNoPhantom: 1, RuleVersionAgreement: 1},
		},
		{
			name: "a value written only after the read returned",
			ops: checkertest.Hist(
				at(2, 0x10, checkertest.ReadOK(2, checkertest.Key, 0, 10, 7, 1)),
				inSession(1, checkertest.WriteInfo(1, checkertest.Key, 7, 20, 30)),
			),
			want:     checker.Invalid,
			rules:    map[string]int{RuleNoPhantom: 1},
			mentions: []string{"no write that may have happened before the read returned wrote"},
		},
		{
			name: "an indeterminate cas cannot explain a version it could not make",
			ops: checkertest.Hist(
				inSession(1, checkertest.CASInfo(1, checkertest.Key, 7, 3, 0, 10)),
				at(2, 0x10, checkertest.ReadOK(2, checkertest.Key, 20, 30, 7, 1)),
			),
			want:  checker.Invalid,
			rules: map[string]int{RuleNoPhantom: 1},
		},
		{
			name: "a written value read at another version",
			ops: checkertest.Hist(
				at(1, 0x10, checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)),
				at(1, 0x11, checkertest.WriteOK(1, checkertest.Key, 7, 20, 30, 2)),
				at(2, 0x10, checkertest.ReadOK(2, checkertest.Key, 40, 50, 7, 1)),
			),
			want:     checker.Invalid,
			rules:    map[string]int{RuleNoPhantom: 1, RuleVersionAgreement: 1},
			mentions: []string{"but the acknowledged write of version 1 wrote another value"},
		},
		{
			name: "two acknowledged writes share a version",
			ops: checkertest.Hist(
				at(1, 0x10, checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)),
				at(2, 0x11, checkertest.WriteOK(2, checkertest.Key, 2, 5, 15, 1)),
			),
			want:     checker.Invalid,
			rules:    map[string]int{RuleVersionAgreement: 1},
			mentions: []string{"two acknowledged writes produced version 1"},
		},
		{
			name: "two reads of one version disagree",
			ops: checkertest.Hist(
				inSession(1, checkertest.WriteInfo(1, checkertest.Key, 1, 0, 10)),
				inSession(1, checkertest.WriteInfo(4, checkertest.Key, 2, 0, 10)),
				at(2, 0x10, checkertest.ReadOK(2, checkertest.Key, 20, 30, 1, 1)),
				at(3, 0x10, checkertest.ReadOK(3, checkertest.Key, 20, 30, 2, 1)),
			),
			want:     checker.Invalid,
			rules:    map[string]int{RuleVersionAgreement: 1},
			mentions: []string{"version 1 holds two values"},
		},
		{
			name: "a higher version with a lower zxid",
			ops: checkertest.Hist(
				at(1, 0x20, checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)),
				at(2, 0x10, checkertest.WriteOK(2, checkertest.Key, 2, 0, 10, 2)), // concurrent: only the zxids disagree
			),
			want:     checker.Invalid,
			rules:    map[string]int{RuleVersionAgreement: 1},
			mentions: []string{"version 2 has zxid 0x10, not above version 1's 0x20"},
		},
		{
			name: "one zxid changed two keys",
			ops: checkertest.Hist(
				at(1, 0x10, checkertest.WriteOK(1, k1, 1, 0, 10, 1)),
				at(2, 0x10, checkertest.WriteOK(2, k2, 1, 0, 10, 1)), // a setData is one transaction on one znode
				at(3, 0x10, checkertest.ReadOK(3, k1, 20, 30, 1, 1)),
			),
			want:     checker.Invalid,
			rules:    map[string]int{RuleVersionAgreement: 1},
			mentions: []string{"zxid 0x10 changed both k1 and k2"},
		},
		{
			name: "a write after another got a lower version",
			ops: checkertest.Hist(
				at(1, 0x11, checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 2)),
				at(2, 0x12, checkertest.WriteOK(2, checkertest.Key, 2, 20, 30, 1)),
			),
			want:     checker.Invalid,
			rules:    map[string]int{RuleWriteRealTime: 1, RuleVersionAgreement: 1},
			mentions: []string{"made version 1, but version 2 was already observed before it was invoked"},
		},
		{
			name: "a write after a read of a higher version got a lower one",
			ops: checkertest.Hist(
				inSession(1, checkertest.WriteInfo(1, checkertest.Key, 1, 0, 10)),
				inSession(1, checkertest.WriteInfo(4, checkertest.Key, 2, 0, 10)),
				at(2, 0x12, checkertest.ReadOK(2, checkertest.Key, 20, 30, 2, 2)),
				at(3, 0x13, checkertest.WriteOK(3, checkertest.Key, 3, 40, 50, 2)), // version 2 existed already
			),
			want:  checker.Invalid,
			rules: map[string]int{RuleWriteRealTime: 1, RuleVersionAgreement: 1},
		},
		{
			name: "a write after another got a lower zxid",
			ops: checkertest.Hist(
				at(1, 0x20, checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)),
				at(2, 0x10, checkertest.WriteOK(2, checkertest.Key, 2, 20, 30, 2)),
			),
			want:  checker.Invalid,
			rules: map[string]int{RuleWriteRealTime: 1, RuleVersionAgreement: 1},
		},
		{
			name: "a write after a write of another key got a lower zxid",
			ops: checkertest.Hist(
				at(1, 0x20, checkertest.WriteOK(1, k1, 1, 0, 10, 1)),
				at(2, 0x10, checkertest.WriteOK(2, k2, 1, 20, 30, 1)), // zxids order the writes of all keys
				at(3, 0x20, checkertest.ReadOK(3, k1, 40, 50, 1, 1)),
			),
			want:     checker.Invalid,
			rules:    map[string]int{RuleWriteRealTime: 1},
			mentions: []string{"has zxid 0x10, but zxid 0x20 was already observed before it was invoked"},
		},
		{
			name: "a violation with no ok read is still invalid",
			ops: checkertest.Hist(
				at(1, 0x10, checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)),
				at(2, 0x11, checkertest.WriteOK(2, checkertest.Key, 2, 5, 15, 1)),
			),
			want:  checker.Invalid,
			rules: map[string]int{RuleVersionAgreement: 1},
		},

		// Unknown: too little evidence.
		{
			name:     "no ok read",
			ops:      checkertest.Hist(at(1, 0x10, checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)), inSession(2, checkertest.ReadInfo(2, checkertest.Key, 20, 30))),
			want:     checker.Unknown,
			mentions: []string{"no evidence: no read completed ok"},
		},
		{
			name:     "an empty history",
			want:     checker.Unknown,
			mentions: []string{"no evidence"},
		},
		{
			name: "a malformed read",
			ops: checkertest.Hist(
				at(1, 0x10, checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)),
				at(2, 0x10, checkertest.ReadOK(2, checkertest.Key, 20, 30, 1, 1)),
				func() []history.Op {
					g := checkertest.ReadOK(3, checkertest.Key, 40, 50, 1, 1)
					g[1].Version = nil
					return g
				}(),
			),
			want:     checker.Unknown,
			mentions: []string{"1 ok record could not be judged, e.g. ok read without value or version"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Checker{}.Check(context.Background(), tt.ops)
			assert.Equal(t, "sequential", r.Checker)
			require.Equal(t, tt.want, r.Verdict, r.Message)
			d := seqDetails(t, r)
			said := r.Message
			for _, v := range d.Examples {
				said += "\n" + v.Explanation
			}
			for _, m := range tt.mentions {
				assert.Contains(t, said, m)
			}
			if tt.want == checker.Invalid {
				assert.Equal(t, tt.rules, d.ByRule, r.Message)
				require.NotEmpty(t, d.Examples)
				for _, v := range d.Examples {
					assert.NotEmpty(t, v.Ops, "a violation names the operations involved")
					assert.NotEmpty(t, v.Explanation)
					for _, o := range v.Ops {
						assert.Equal(t, history.Invoke, o.Invoke.Type)
						assert.NotEqual(t, history.Invoke, o.Complete.Type)
					}
				}
			} else {
				assert.Zero(t, d.Violations)
			}
			_, err := json.Marshal(r)
			assert.NoError(t, err)
			got, why := oracleVerdict(t, tt.ops)
			assert.Equal(t, tt.want, got, "the oracle: %s", why)
		})
	}
}

func TestSequentialEvidenceNamesTheOperations(t *testing.T) {
	ops := checkertest.Hist(
		onNode("n1", at(1, 0x10, checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1))),
		onNode("n1", at(1, 0x11, checkertest.WriteOK(1, checkertest.Key, 2, 20, 30, 2))),
		onNode("n2", at(0x2a, 0x11, checkertest.ReadOK(2, checkertest.Key, 40, 50, 2, 2))),
		onNode("n2", at(0x2a, 0x10, checkertest.ReadOK(2, checkertest.Key, 60, 70, 1, 1))),
	)
	r := Checker{}.Check(context.Background(), ops)
	require.Equal(t, checker.Invalid, r.Verdict)
	v := seqDetails(t, r).Examples[0]
	assert.Equal(t, RuleSessionMonotonic, v.Rule)
	assert.Equal(t, checkertest.Key, v.Key)
	assert.Equal(t, "0x2a", v.Session)
	require.Len(t, v.Ops, 2)
	assert.Equal(t, "read", v.Ops[0].Role)
	assert.Equal(t, int64(70*checkertest.Msec), v.Ops[0].Complete.Time)
	assert.Equal(t, int32(1), *v.Ops[0].Complete.Version)
	assert.Equal(t, "the session's earlier read", v.Ops[1].Role)
	assert.Equal(t, int32(2), *v.Ops[1].Complete.Version)
	assert.Contains(t, v.Explanation, "read -> 1@v1 (zxid 0x10) by process 2 on n2 session 0x2a, 60-70 ms")
}

func TestSequentialKeepsFewExamplesButCountsAll(t *testing.T) {
	var groups [][]history.Op
	groups = append(groups, at(1, 0x100, checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)))
	groups = append(groups, at(1, 0x101, checkertest.WriteOK(1, checkertest.Key, 2, 10, 20, 2)))
	groups = append(groups, at(2, 0x101, checkertest.ReadOK(2, checkertest.Key, 20, 30, 2, 2)))
	for i := range int64(30) { // the session keeps going back
		groups = append(groups, at(2, 0x100, checkertest.ReadOK(2, checkertest.Key, 40+2*i, 41+2*i, 1, 1)))
	}
	r := Checker{}.Check(context.Background(), checkertest.Hist(groups...))
	require.Equal(t, checker.Invalid, r.Verdict)
	d := seqDetails(t, r)
	assert.Equal(t, 30, d.Violations)
	assert.Len(t, d.Examples, examplesPerRule)
	assert.Contains(t, r.Message, "30 violations of sequential consistency (session-monotonic 30)")
}

func TestSequentialCancelledIsUnknown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ops := checkertest.Hist(
		at(1, 0x10, checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)),
		at(2, 0x10, checkertest.ReadOK(2, checkertest.Key, 20, 30, 1, 1)),
	)
	r := Checker{}.Check(ctx, ops)
	assert.Equal(t, checker.Unknown, r.Verdict)
	assert.Contains(t, r.Message, "cancelled")
}

func TestSequentialCancelledMidwayIsUnknown(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(fmt.Errorf("budget spent"))
	var groups [][]history.Op
	for i := range int64(5000) {
		groups = append(groups, at(1, 0x10+i, checkertest.WriteOK(1, checkertest.Key, i+1, 10*i, 10*i+5, int32(i+1))))
		groups = append(groups, at(2, 0x10+i, checkertest.ReadOK(2, checkertest.Key, 10*i+6, 10*i+8, i+1, int32(i+1))))
	}
	r := Checker{}.Check(ctx, checkertest.Hist(groups...))
	assert.Equal(t, checker.Unknown, r.Verdict)
	assert.Contains(t, r.Message, "budget spent")
}

func TestSequentialLargeValidHistory(t *testing.T) {
	// 4 sessions on 3 keys, each reading a version at most two behind the
	// latest: valid, and judged quickly.
	var groups [][]history.Op
	versions := map[string]int32{}
	zxid := int64(0x100)
	seen := map[[2]int64]int32{} // session, key -> last version read
	for i := range int64(20000) {
		k := fmt.Sprintf("k%d", i%3)
		t0 := 10 * i
		if i%2 == 0 {
			versions[k]++
			zxid++
			groups = append(groups, at(9, zxid, checkertest.WriteOK(9, k, zxid, t0, t0+5, versions[k])))
			continue
		}
		s := (i / 2) % 4
		v := max(seen[[2]int64{s, i % 3}], versions[k]-2, 0)
		seen[[2]int64{s, i % 3}] = v
		value := int64(0)
		if v > 0 {
			value = -1 // filled below from the write that made v
		}
		groups = append(groups, inSession(100+s, checkertest.ReadOK(int(100+s), k, t0, t0+5, value, v)))
	}
	ops := checkertest.Hist(groups...)
	// Fill in the values and zxids of reads from the writes that made them.
	made := map[string]map[int32]history.Op{}
	for _, op := range ops {
		if op.F == history.Write && op.Type == history.OK {
			if made[op.Key] == nil {
				made[op.Key] = map[int32]history.Op{}
			}
			made[op.Key][*op.Version] = op
		}
	}
	for i, op := range ops {
		if op.F == history.Read && op.Type == history.OK && *op.Version > 0 {
			w := made[op.Key][*op.Version]
			ops[i].Value, ops[i].Zxid = w.Value, w.Zxid
		}
	}
	r := Checker{}.Check(context.Background(), ops)
	require.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, 10000, seqDetails(t, r).ReadsChecked)
	assert.Less(t, r.Duration.Seconds(), 5.0)
	assert.True(t, strings.HasPrefix(r.Message, "All 10000 ok reads by 4 sessions"), r.Message)
}

// createdZxid is the zxid of the transaction that created register k0, k1 or
// k2 in simulateReplicas: each has its own, as the workload's setup
// creates them one by one.
func createdZxid(k string) int64 { return 0x5 + int64(k[1]-'0') }

// simulateReplicas builds the history of a sequentially consistent store
// like ZooKeeper: one log of writes in zxid order, replicas that apply it at
// their own pace, and sessions pinned to replicas. A session's write is
// acknowledged once its replica applied it; a read returns the key as the
// replica has it. Such a history is valid by construction.
func simulateReplicas(rng *rand.Rand, steps int) []history.Op {
	type txn struct {
		key     string
		value   int64
		version int32
		zxid    int64
	}
	const replicas, sessionsPerReplica = 3, 2
	keys := []string{"k0", "k1", "k2"}
	var log []txn
	applied := make([]int, replicas)
	versions := map[string]int32{}
	stateAt := func(n int, k string) txn {
		for i := n - 1; i >= 0; i-- {
			if log[i].key == k {
				return log[i]
			}
		}
		return txn{key: k, zxid: createdZxid(k)}
	}
	type session struct {
		id, process int64
		replica     int
		lastDone    int64
	}
	var sessions []*session
	for i := range replicas * sessionsPerReplica {
		sessions = append(sessions, &session{id: int64(100 + i), process: int64(i), replica: i % replicas})
	}
	nextID, nextValue := int64(1000), int64(1)
	var groups [][]history.Op
	for step := range steps {
		t := int64(step) * 10
		s := sessions[rng.IntN(len(sessions))]
		inv := max(s.lastDone+1, t-rng.Int64N(8))
		if inv > t {
			continue // the session is still busy
		}
		ret := t + rng.Int64N(8)
		s.lastDone = ret
		r := s.replica
		k := keys[rng.IntN(len(keys))]
		// Replicas catch up at their own pace.
		for i := range applied {
			if rng.IntN(3) == 0 {
				applied[i] = min(len(log), applied[i]+rng.IntN(3))
			}
		}
		switch x := rng.IntN(10); {
		case x < 5: // read
			st := stateAt(applied[r], k)
			groups = append(groups, at(s.id, st.zxid, checkertest.ReadOK(int(s.process), k, inv, ret, st.value, st.version)))
		case x < 8: // acknowledged write
			versions[k]++
			w := txn{key: k, value: nextValue, version: versions[k], zxid: 0x100 + int64(len(log))}
			nextValue++
			log = append(log, w)
			applied[r] = len(log)
			groups = append(groups, at(s.id, w.zxid, checkertest.WriteOK(int(s.process), k, w.value, inv, ret, w.version)))
		case x < 9: // indeterminate write that may or may not happen; new process
			if rng.IntN(2) == 0 {
				versions[k]++
				log = append(log, txn{key: k, value: nextValue, version: versions[k], zxid: 0x100 + int64(len(log))})
			}
			groups = append(groups, inSession(s.id, checkertest.WriteInfo(int(s.process), k, nextValue, inv, ret)))
			nextValue++
			s.process += 100
		default: // the session expires: a new one on the same replica
			s.id, s.process = nextID, s.process+100
			nextID++
		}
	}
	return checkertest.Hist(groups...)
}

func TestSequentialAcceptsSimulatedReplicas(t *testing.T) {
	for seed := range uint64(20) {
		ops := simulateReplicas(rand.New(rand.NewPCG(seed, 1)), 3000)
		r := Checker{}.Check(context.Background(), ops)
		require.Equal(t, checker.Valid, r.Verdict, "seed %d: %s", seed, r.Message)
		// Replicas lag, so some reads are stale, and allowed.
		s := StaleReads{}.Check(context.Background(), ops)
		require.Equal(t, checker.Valid, s.Verdict)
		assert.Positive(t, staleDetails(t, s).Stale, "seed %d", seed)
	}
}

func TestSequentialCatchesMutatedReplicas(t *testing.T) {
	for seed := range uint64(20) {
		ops := simulateReplicas(rand.New(rand.NewPCG(seed, 1)), 3000)
		var reads []int
		for i, op := range ops {
			if op.F == history.Read && op.Type == history.OK && *op.Version > 1 {
				reads = append(reads, i)
			}
		}
		require.NotEmpty(t, reads)
		rng := rand.New(rand.NewPCG(seed, 2))

		phantom := slices.Clone(ops)
		i := reads[rng.IntN(len(reads))]
		phantom[i].Value = history.Int64(-7)
		r := Checker{}.Check(context.Background(), phantom)
		require.Equal(t, checker.Invalid, r.Verdict, "seed %d: a value nobody wrote", seed)
		assert.Positive(t, seqDetails(t, r).ByRule[RuleNoPhantom])

		// A session's later read of the same key goes back to version 0.
		back := slices.Clone(ops)
		done := false
		for _, i := range reads {
			for j := i + 1; j < len(back) && !done; j++ {
				o := back[j]
				if o.F == history.Read && o.Type == history.OK && o.Key == back[i].Key && o.Session == back[i].Session {
					back[j].Value, back[j].Version, back[j].Zxid = history.Int64(0), history.Int32(0), createdZxid(o.Key)
					done = true
				}
			}
			if done {
				break
			}
		}
		require.True(t, done, "seed %d: no session read a key twice", seed)
		r = Checker{}.Check(context.Background(), back)
		require.Equal(t, checker.Invalid, r.Verdict, "seed %d: a session went back", seed)
		assert.Positive(t, seqDetails(t, r).ByRule[RuleSessionMonotonic]+seqDetails(t, r).ByRule[RuleSessionView])
	}
}
