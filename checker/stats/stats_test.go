package stats

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/checkertest"
)

func TestStatsCounts(t *testing.T) {
	ops := checkertest.Hist(
		checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1),
		checkertest.WriteInfo(2, checkertest.Key, 2, 0, 10),
		checkertest.WriteFail(3, checkertest.Key, 3, 0, 10),
		checkertest.ReadOK(4, checkertest.Key, 20, 30, 1, 1),
		checkertest.ReadOK(4, checkertest.Key, 40, 50, 1, 1),
		checkertest.CASConflict(5, checkertest.Key, 9, 7, 20, 30),
		checkertest.Nemesis("kill", "kill-leader", 5, 6),                          // not a client operation
		checkertest.One(checkertest.Invoke(6, history.Read, checkertest.Key, 60)), // interrupted: counts as info
	)
	r := Checker{Need: []string{history.Read, history.Write}}.Check(context.Background(), ops)
	assert.Equal(t, "stats", r.Checker)
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	counts, ok := r.Details.(map[string]Counts)
	require.True(t, ok)
	assert.Equal(t, map[string]Counts{
		history.Write: {OK: 1, Fail: 1, Info: 1},
		history.Read:  {OK: 2, Info: 1},
		history.CAS:   {Fail: 1},
	}, counts)
	assert.Equal(t, "cas 0 ok / 1 fail / 0 info; read 2 ok / 0 fail / 1 info; write 1 ok / 1 fail / 1 info.", r.Message)
}

func TestStatsNoEvidence(t *testing.T) {
	ops := checkertest.Hist(
		checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1),
		checkertest.ReadInfo(2, checkertest.Key, 0, 10),
	)
	tests := []struct {
		need []string
		want checker.Verdict
		msg  string
	}{
		{nil, checker.Valid, "read 0 ok / 0 fail / 1 info; write 1 ok / 0 fail / 0 info."},
		{[]string{history.Write}, checker.Valid, "read 0 ok"},
		{[]string{history.Read}, checker.Unknown, "no evidence: no read operation completed ok"},
		{[]string{history.Read, history.CAS}, checker.Unknown, "no evidence: no read, no cas operation completed ok"},
	}
	for _, tt := range tests {
		r := Checker{Need: tt.need}.Check(context.Background(), ops)
		assert.Equal(t, tt.want, r.Verdict, "need %v", tt.need)
		assert.Contains(t, r.Message, tt.msg)
	}

	r := Checker{Need: []string{history.Read}}.Check(context.Background(), nil)
	assert.Equal(t, checker.Unknown, r.Verdict)
	assert.Contains(t, r.Message, "no client operations")
}
