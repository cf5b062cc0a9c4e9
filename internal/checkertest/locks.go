package checkertest

import (
	"testing"

	"github.com/zkchaos/zkchaos/history"
)

// LockSessionOps turns arbitrary bytes into a history of lock and session records:
// every 8 bytes are one record (type, f, process, path, value, owner, event
// and session, time step), with role records mixed in; f is one of fs and
// event one of the four events. Nothing need be consistent, and times may go
// back.
func LockSessionOps(data []byte, fs, events []string) []history.Op {
	types := []history.Type{history.Invoke, history.OK, history.Fail, history.Info}
	roles := []string{"leader", "follower", "down"}
	var ops []history.Op
	var now int64
	for i := 0; i+8 <= len(data) && len(ops) < 400; i += 8 {
		b := data[i : i+8]
		op := history.Op{
			Index:   int64(len(ops)),
			Type:    types[b[0]%4],
			F:       fs[int(b[1])%len(fs)],
			Process: history.Process(int(b[2]%7) - 1), // -1 is the nemesis
			Path:    []string{"", "/a", "/b", "/c"}[b[3]%4],
			Event:   events[b[6]%4],
			Session: int64(b[6] / 4 % 4),
		}
		if step := int64(int8(b[7])); step < -100 {
			now -= 7 * Msec
		} else {
			now += max(step, 0) * Msec
		}
		op.Time = now
		if b[4]&0x80 == 0 {
			op.Value = history.Int64(int64(b[4]%3) - 1 + int64(b[4]&0x40)*1e15)
		}
		if b[5]&0x80 == 0 {
			op.Values = []int64{int64(b[5] % 4)}
		}
		if op.F == history.FRoles {
			op.Process = history.NemesisProcess
			op.Roles = map[string]string{"n1": roles[b[5]%3], "n2": roles[b[5]/3%3]}
		}
		ops = append(ops, op)
	}
	return ops
}

// LockSessionSeeds are seed inputs for the lock and session fuzz targets.
func LockSessionSeeds(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 1, 1, 0, 1, 4, 1, 1, 0, 1, 1, 0, 1, 4, 10, 0, 1, 1, 1, 0, 1, 4, 10, 1, 1, 1, 1, 0, 1, 4, 10})
	f.Add([]byte{0, 3, 2, 1, 0, 1, 4, 1, 1, 3, 2, 1, 0, 1, 4, 5, 0, 4, 3, 1, 0, 1, 8, 1, 1, 4, 3, 1, 1, 1, 8, 1,
		3, 2, 0, 0, 0, 0, 6, 100, 0, 4, 3, 1, 0, 1, 8, 200, 1, 4, 3, 1, 1, 1, 8, 1, 0, 6, 0, 0, 0, 2, 0, 1})
	f.Add([]byte("\x00\x00\x01\x01\x00\x01\x04\x01\x01\x00\x01\x01\x00\x01\x04\x0a\x00\x00\x02\x02\x00\x02\x08\x01\x01\x00\x02\x02\x00\x02\x08\x0a\x00\x01\x01\x01\x00\x01\x04\x80"))
}
