package history

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriterPutsEachRecordOnDiskAsItHappens(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	w, err := Create(path, time.Now())
	require.NoError(t, err)
	defer w.Close()

	_, err = w.Append(Op{Type: Invoke, F: Write, Process: 3, Key: "k0", Value: Int64(7)})
	require.NoError(t, err)
	// Without Close or any flush, another reader sees the record already.
	res, err := ReadFile(path)
	require.NoError(t, err)
	require.Len(t, res.Ops, 1)
	assert.Equal(t, Process(3), res.Ops[0].Process)
	assert.Equal(t, int64(7), *res.Ops[0].Value)
}

func TestConcurrentAppendsGetIncreasingIndexAndTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	w, err := Create(path, time.Now())
	require.NoError(t, err)
	var wg sync.WaitGroup
	for p := 0; p < 8; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				_, err := w.Append(Op{Type: Invoke, F: Read, Process: Process(p), Key: "k"})
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	require.NoError(t, w.Close())
	res, err := ReadFile(path)
	require.NoError(t, err)
	require.Len(t, res.Ops, 1600)
	for i, op := range res.Ops {
		assert.Equal(t, int64(i), op.Index)
		if i > 0 {
			assert.GreaterOrEqual(t, op.Time, res.Ops[i-1].Time)
		}
	}
	_, err = w.Append(Op{Type: Invoke})
	assert.Error(t, err, "append after close must fail")
}

func TestReaderDropsATornLastLine(t *testing.T) {
	var buf bytes.Buffer
	for i := 0; i < 3; i++ {
		b, _ := json.Marshal(Op{Index: int64(i), Type: OK, F: Read, Process: 1})
		buf.Write(b)
		buf.WriteByte('\n')
	}
	buf.WriteString(`{"index":3,"type":"ok","f":"re`)
	res, err := Decode(&buf)
	require.NoError(t, err)
	assert.Len(t, res.Ops, 3)
	assert.True(t, res.TornTail)
}

func TestReaderRejectsACorruptMiddleLine(t *testing.T) {
	in := `{"index":0,"type":"ok","f":"read","process":1,"time":0}
not json
{"index":2,"type":"ok","f":"read","process":1,"time":0}
`
	_, err := Decode(strings.NewReader(in))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 2")
}

func TestNemesisProcessIsWrittenByName(t *testing.T) {
	b, err := json.Marshal(Op{Type: Info, F: "kill", Process: NemesisProcess, Fault: &Fault{Name: "kill-leader", Targets: []string{"n2"}}})
	require.NoError(t, err)
	assert.Contains(t, string(b), `"process":"nemesis"`)
	var back Op
	require.NoError(t, json.Unmarshal(b, &back))
	assert.True(t, back.IsNemesis())
	assert.Equal(t, []string{"n2"}, back.Fault.Targets)
}

func TestCallsPairInvocationsWithCompletions(t *testing.T) {
	ops := []Op{
		{Type: Invoke, F: Write, Process: 0, Time: 1, Value: Int64(1)},
		{Type: Invoke, F: Read, Process: 1, Time: 2},
		{Type: Invoke, F: "kill", Process: NemesisProcess, Time: 3},
		{Type: OK, F: Write, Process: 0, Time: 4, Value: Int64(1)},
		{Type: Info, F: "kill", Process: NemesisProcess, Time: 5},
		{Type: Invoke, F: CAS, Process: 0, Time: 6},
		{Type: Fail, F: CAS, Process: 0, Time: 7},
	}
	calls := Calls(ops)
	require.Len(t, calls, 3)
	assert.Equal(t, OK, calls[0].Type())
	assert.Equal(t, int64(4), calls[0].Complete.Time)
	// The read never completed: it becomes info at the last time seen.
	assert.Equal(t, Info, calls[1].Type())
	assert.Equal(t, int64(-1), calls[1].Complete.Index)
	assert.Equal(t, int64(7), calls[1].Complete.Time)
	assert.Equal(t, Fail, calls[2].Type())
}

func TestReadFileOfMissingFileIsAnError(t *testing.T) {
	_, err := ReadFile(filepath.Join(t.TempDir(), "nope"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestMembershipIsAnOptionalFieldOfAFault(t *testing.T) {
	old := `{"index":0,"type":"info","f":"kill","process":"nemesis","time":1,"fault":{"name":"kill one","targets":["n1"]}}` + "\n"
	rec := `{"index":1,"type":"info","f":"reconfig","process":"nemesis","time":2,"fault":{"name":"reconfig observer one",` +
		`"targets":["n3"],"membership":{"version":"300000632","voters":["n1","n2"],"observers":["n3"]}}}` + "\n"
	res, err := Decode(strings.NewReader(old + rec))
	require.NoError(t, err)
	require.Len(t, res.Ops, 2)
	assert.Nil(t, res.Ops[0].Fault.Membership, "a history without memberships reads as before")
	assert.Equal(t, &Membership{Version: "300000632", Voters: []string{"n1", "n2"}, Observers: []string{"n3"}},
		res.Ops[1].Fault.Membership)
	out, err := json.Marshal(res.Ops[0])
	require.NoError(t, err)
	assert.NotContains(t, string(out), "membership", "a fault without one writes none")
}

func TestCallRecordsNameTheWrittenRecords(t *testing.T) {
	done := Call{Invoke: &Op{Index: 3}, Complete: &Op{Index: 7}}
	assert.Equal(t, []int64{3, 7}, done.Records())
	open := Call{Invoke: &Op{Index: 3}, Complete: &Op{Index: -1}}
	assert.Equal(t, []int64{3}, open.Records(), "a synthetic completion has no record")
}
