package register

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// rec builds an invoke and its completion on a session, for small histories.
type rec struct {
	ops  []history.Op
	time int64
}

func (r *rec) call(p int, session int64, f, key string, value *int64, typ history.Type, read *int64, version int32, zxid int64) {
	r.time += int64(time.Millisecond)
	inv := history.Op{Type: history.Invoke, F: f, Process: history.Process(p), Key: key, Value: value, Session: session, Time: r.time}
	r.time += int64(time.Millisecond)
	done := inv
	done.Type, done.Time = typ, r.time
	if typ == history.OK {
		done.Version, done.Zxid = history.Int32(version), zxid
		if f == history.Read {
			done.Value = read
		}
	}
	r.ops = append(r.ops, inv, done)
}

func (r *rec) write(p int, session int64, v int64, version int32, zxid int64) {
	r.call(p, session, history.Write, "k0", history.Int64(v), history.OK, nil, version, zxid)
}

func (r *rec) read(p int, session int64, v int64, version int32, zxid int64) {
	r.call(p, session, history.Read, "k0", nil, history.OK, history.Int64(v), version, zxid)
}

func children(r checker.Result) map[string]checker.Result {
	out := map[string]checker.Result{}
	for _, c := range r.Children {
		out[c.Checker] = c
	}
	return out
}

func TestCheckerComposesWhatEachReadModeIsPromised(t *testing.T) {
	for _, mode := range []string{ReadPlain, ReadSync, ReadQuorum} {
		var h rec
		h.write(1, 0x10, 1, 1, 0x100)
		h.read(2, 0x20, 1, 1, 0x100)
		r := New(Config{Keys: 1, ReadMode: mode}).Checker(time.Minute).Check(context.Background(), h.ops)
		names := []string{}
		for _, c := range r.Children {
			names = append(names, c.Checker)
		}
		assert.Equal(t, []string{"linearizable", "sequential", "stale-reads", "stats"}, names, mode)
		assert.Equal(t, checker.Valid, r.Verdict, "%s: %s", mode, r.Message)
	}
}

func TestPlainStaleReadIsAllowedButAGoingBackIsNot(t *testing.T) {
	var h rec
	h.write(1, 0x10, 1, 1, 0x100)
	h.write(1, 0x10, 2, 2, 0x101)
	h.read(2, 0x20, 1, 1, 0x100) // stale: served by a lagging follower
	w := New(Config{Keys: 1, ReadMode: ReadPlain})

	r := w.Checker(time.Minute).Check(context.Background(), h.ops)
	require.Equal(t, checker.Valid, r.Verdict, r.Message)
	c := children(r)
	assert.Contains(t, c["stale-reads"].Message, "1 stale read (allowed by ZooKeeper: plain reads are served by the connected server)")
	assert.Contains(t, c["linearizable"].Message, "1 plain read was left out")

	h.read(2, 0x20, 2, 2, 0x101)
	h.read(2, 0x20, 1, 1, 0x100) // the session goes back: never allowed
	r = w.Checker(time.Minute).Check(context.Background(), h.ops)
	assert.Equal(t, checker.Invalid, r.Verdict)
	assert.Equal(t, checker.Invalid, children(r)["sequential"].Verdict)
	assert.Equal(t, checker.Valid, children(r)["linearizable"].Verdict, "plain reads are not held to linearizability")
}

func TestQuorumStaleReadIsInvalid(t *testing.T) {
	var h rec
	h.write(1, 0x10, 1, 1, 0x100)
	h.write(1, 0x10, 2, 2, 0x101)
	h.read(2, 0x20, 1, 1, 0x100)
	r := New(Config{Keys: 1, ReadMode: ReadQuorum}).Checker(time.Minute).Check(context.Background(), h.ops)
	assert.Equal(t, checker.Invalid, r.Verdict)
	c := children(r)
	assert.Equal(t, checker.Invalid, c["linearizable"].Verdict)
	assert.Equal(t, checker.Valid, c["sequential"].Verdict, "another session may lag; the quorum promise is the linearizable checker's")
	assert.Equal(t, checker.Valid, c["stale-reads"].Verdict)
}
