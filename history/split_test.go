package history_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/history/gen"
	"github.com/zkchaos/zkchaos/internal/histtest"
)

// callRecords lists the record indexes of every call, as Calls pairs them.
func callRecords(ops []history.Op) map[int64][]int64 {
	out := map[int64][]int64{}
	for _, c := range history.Calls(ops) {
		out[c.Invoke.Index] = c.Records()
	}
	return out
}

func TestSplitKeysPairTheirCallsAsTheWholeHistoryDoes(t *testing.T) {
	for _, keys := range []int{5, 300} { // 300 keys share spill files
		ops := gen.Register(gen.Config{Seed: 3, Calls: 3000, Keys: keys, Processes: 20})
		ops = append(ops, history.Op{Index: int64(len(ops)), Type: history.OK, F: history.Read, Process: 999, Time: ops[len(ops)-1].Time})
		path := histtest.WriteFile(t, ops)
		var seen int64
		s, err := history.SplitFile(context.Background(), path, t.TempDir(), func(*history.Op) { seen++ })
		require.NoError(t, err)
		assert.Equal(t, int64(len(ops)), seen)
		assert.Equal(t, int64(len(ops)), s.Records)
		assert.Equal(t, ops[len(ops)-1].Time, s.Last)

		want := callRecords(ops)
		got := map[int64][]int64{}
		for _, k := range s.Keys() {
			kops, err := s.Load(k)
			require.NoError(t, err)
			for i := 1; i < len(kops); i++ {
				require.Less(t, kops[i-1].Index, kops[i].Index, "history order")
			}
			for inv, recs := range callRecords(kops) {
				assert.Equal(t, ops[inv].Key, k)
				got[inv] = recs
			}
			if keys == 5 {
				assert.Equal(t, ops[kops[0].Index], kops[0], "records come back whole")
			}
		}
		assert.Equal(t, want, got)
		var nemesis int
		for _, op := range ops {
			if op.IsNemesis() {
				nemesis++
			}
		}
		assert.Len(t, s.Others, nemesis+1, "the nemesis's records and the last record")
		assert.Equal(t, ops[len(ops)-1], s.Others[len(s.Others)-1])
		require.NoError(t, s.Close())
	}
}

func TestSplitKeepsEveryFieldOfARecord(t *testing.T) {
	ops := []history.Op{
		{Index: 0, Type: history.Invoke, F: "cas", Process: 1, Time: 5, Key: "k", Value: history.Int64(-3), Expect: history.Int32(2), Node: "n1", Session: 77},
		{Index: 1, Type: history.Info, F: "cas", Process: 1, Time: 9, Key: "k", Version: history.Int32(0), Zxid: 1 << 40, Error: "timeout"},
		{Index: 2, Type: history.Invoke, F: "create", Process: 2, Time: 10, Key: "k", Path: "/a/b", Values: []int64{1, 2}},
		{Index: 3, Type: "odd", F: "create", Process: 2, Time: 11, Key: "k", Zxids: []int64{4}, Event: "NodeCreated"},
	}
	path := histtest.WriteFile(t, ops)
	s, err := history.SplitFile(context.Background(), path, t.TempDir(), nil)
	require.NoError(t, err)
	defer s.Close()
	got, err := s.Load("k")
	require.NoError(t, err)
	assert.Equal(t, ops, got)
}

func TestSplitReportsATornTailAndStopsWithItsContext(t *testing.T) {
	ops := gen.Register(gen.Config{Seed: 1, Calls: 5000, Keys: 3})
	path := histtest.WriteFile(t, ops)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"index":`)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	s, err := history.SplitFile(context.Background(), path, t.TempDir(), nil)
	require.NoError(t, err)
	assert.True(t, s.TornTail)
	require.NoError(t, s.Close())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tmp := t.TempDir()
	_, err = history.SplitFile(ctx, path, tmp, nil)
	require.ErrorIs(t, err, context.Canceled)
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "spill files are removed")
}
