package convergence

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

func snap(node string, s map[string]string, metrics map[string]int64) history.Op {
	return history.Op{Type: history.Info, F: history.FSnapshot, Process: history.NemesisProcess, Node: node, Snapshot: s, Metrics: metrics}
}

func TestConvergence(t *testing.T) {
	same := map[string]string{"/a": "v1:aa", "/a/b": "v0:bb"}
	ctx := context.Background()

	r := Checker{}.Check(ctx, []history.Op{snap("n1", same, map[string]int64{"zk_digest_mismatches_count": 0}), snap("n2", same, nil), snap("n3", same, nil)})
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)

	other := map[string]string{"/a": "v2:cc", "/a/b": "v0:bb"}
	r = Checker{}.Check(ctx, []history.Op{snap("n1", same, nil), snap("n2", other, nil)})
	assert.Equal(t, checker.Invalid, r.Verdict)
	assert.Contains(t, r.Message, "/a: n1=v1:aa n2=v2:cc")

	missing := map[string]string{"/a": "v1:aa"}
	r = Checker{}.Check(ctx, []history.Op{snap("n1", same, nil), snap("n2", missing, nil)})
	assert.Equal(t, checker.Invalid, r.Verdict)
	assert.Contains(t, r.Message, "n2=(absent)")

	r = Checker{}.Check(ctx, []history.Op{snap("n1", same, map[string]int64{"zk_digest_mismatches_count": 2}), snap("n2", same, nil)})
	assert.Equal(t, checker.Invalid, r.Verdict, "the server's own digest check is an oracle")
	assert.Contains(t, r.Message, "zk_digest_mismatches_count=2")
	assert.Contains(t, r.Message, "the 2 replicas read hold the same")

	r = Checker{}.Check(ctx, []history.Op{snap("n1", same, map[string]int64{"zk_digest_mismatches_count": 2}), snap("n2", other, nil)})
	assert.Equal(t, checker.Invalid, r.Verdict)
	assert.Contains(t, r.Message, "zk_digest_mismatches_count=2", "both findings are reported")
	assert.Contains(t, r.Message, "the replicas disagree on 1 znodes")
	assert.Equal(t, 1, r.Details.(Details).DifferenceCount)

	r = Checker{}.Check(ctx, []history.Op{snap("n1", same, nil)})
	assert.Equal(t, checker.Unknown, r.Verdict)

	down := history.Op{Type: history.Info, F: history.FSnapshot, Process: history.NemesisProcess, Node: "n3", Error: "connect: timeout"}
	r = Checker{}.Check(ctx, []history.Op{snap("n1", same, nil), snap("n2", same, nil), down})
	assert.Equal(t, checker.Unknown, r.Verdict)
	assert.Contains(t, r.Message, "could not be read")
}

// A server's digest check is evidence whether or not the snapshot walk of
// that node finished: mntr answers on its own connection.
func TestConvergenceDigestMismatchOfAnUnreadableNodeIsInvalid(t *testing.T) {
	same := map[string]string{"/a": "v1:aa"}
	down := snap("n3", map[string]string{"/a": "v1:aa"}, map[string]int64{"zk_digest_mismatches_count": 1})
	down.Error = "snapshot of n3: children of /a: zk: connection closed"
	r := Checker{}.Check(context.Background(), []history.Op{snap("n1", same, nil), snap("n2", same, nil), down})
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Contains(t, r.Message, "n3 zk_digest_mismatches_count=1")
}
