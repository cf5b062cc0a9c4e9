package checker

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zkchaos/zkchaos/history"
)

func TestStatsCounts(t *testing.T) {
	ops := hist(
		writeOK(1, key, 1, 0, 10, 1),
		writeInfo(2, key, 2, 0, 10),
		writeFail(3, key, 3, 0, 10),
		readOK(4, key, 20, 30, 1, 1),
		readOK(4, key, 40, 50, 1, 1),
		casConflict(5, key, 9, 7, 20, 30),
		nemesis("kill", "kill-leader", 5, 6),  // not a client operation
		one(invoke(6, history.Read, key, 60)), // interrupted: counts as info
	)
	r := Stats{Need: []string{history.Read, history.Write}}.Check(context.Background(), ops)
	assert.Equal(t, "stats", r.Checker)
	assert.Equal(t, Valid, r.Verdict, r.Message)
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
	ops := hist(
		writeOK(1, key, 1, 0, 10, 1),
		readInfo(2, key, 0, 10),
	)
	tests := []struct {
		need []string
		want Verdict
		msg  string
	}{
		{nil, Valid, "read 0 ok / 0 fail / 1 info; write 1 ok / 0 fail / 0 info."},
		{[]string{history.Write}, Valid, "read 0 ok"},
		{[]string{history.Read}, Unknown, "no evidence: no read operation completed ok"},
		{[]string{history.Read, history.CAS}, Unknown, "no evidence: no read, no cas operation completed ok"},
	}
	for _, tt := range tests {
		r := Stats{Need: tt.need}.Check(context.Background(), ops)
		assert.Equal(t, tt.want, r.Verdict, "need %v", tt.need)
		assert.Contains(t, r.Message, tt.msg)
	}

	r := Stats{Need: []string{history.Read}}.Check(context.Background(), nil)
	assert.Equal(t, Unknown, r.Verdict)
	assert.Contains(t, r.Message, "no client operations")
}
