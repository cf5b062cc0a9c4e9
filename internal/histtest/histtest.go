// Package histtest builds history records for the tests of packages that
// read fault windows from histories, and keeps in memory the records that
// the code under test appends.
package histtest

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/history"
)

// Sec is s seconds in ns since the run started.
func Sec(s float64) int64 { return int64(s * float64(time.Second)) }

// Nemesis is a nemesis record of action f at s seconds, labelled label.
func Nemesis(typ history.Type, f string, s float64, label string, targets ...string) history.Op {
	return history.Op{Type: typ, F: f, Process: history.NemesisProcess, Time: Sec(s),
		Fault: &history.Fault{Name: label, Targets: targets}}
}

// Client is a client's write record at s seconds.
func Client(typ history.Type, s float64) history.Op {
	return history.Op{Type: typ, F: history.Write, Process: 1, Time: Sec(s)}
}

// Memory keeps the records appended to it, numbered in order as a history
// file numbers them: a recorder for the nemesis and the workloads in tests.
type Memory struct {
	mu sync.Mutex
	// Ops are the records appended so far; read them once nothing appends
	// any more.
	Ops []history.Op
}

// Append keeps op, numbered.
func (m *Memory) Append(op history.Op) (history.Op, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	op.Index = int64(len(m.Ops))
	m.Ops = append(m.Ops, op)
	return op, nil
}

// WriteFile writes ops, as they are, as a history file in a new temporary
// directory, and returns its path.
func WriteFile(t testing.TB, ops []history.Op) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), history.FileName)
	Write(t, path, ops)
	return path
}

// Write writes ops, as they are (their own times, unlike history's
// Writer), as the history file at path.
func Write(t testing.TB, path string, ops []history.Op) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	w := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(w)
	for _, op := range ops {
		require.NoError(t, enc.Encode(op))
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
}
