package checkertest

import (
	"encoding/json"
	"testing"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// RegisterHistory turns arbitrary bytes into a history that looks enough
// like a register run to reach deep into the checkers: every 8 bytes are one
// record (type, f, process, key, value, version, zxid, session, time step),
// with nemesis and role records mixed in. Nothing about it need be
// consistent: invocations without completions, completions without
// invocations, missing values and versions all occur; with timeTravel, so do
// times that go back, which the history Writer never writes but a
// hand-edited or imported history may hold.
func RegisterHistory(data []byte, timeTravel bool) []history.Op {
	types := []history.Type{history.Invoke, history.OK, history.Fail, history.Info}
	fs := []string{history.Read, history.Write, history.CAS, history.Read, history.Write, "kill", "start", history.FRoles, history.FHealthy, "enqueue"}
	nodes := []string{"n1", "n2", "n3"}
	roles := []string{"leader", "follower", "down", "looking"}
	var ops []history.Op
	var now int64
	for i := 0; i+8 <= len(data) && len(ops) < 400; i += 8 {
		b := data[i : i+8]
		op := history.Op{
			Index:   int64(len(ops)),
			Type:    types[b[0]%4],
			F:       fs[int(b[1])%len(fs)],
			Process: history.Process(b[2] % 6),
			Key:     "k" + string(rune('0'+b[3]%3)),
			Node:    nodes[b[3]/3%3],
		}
		// Time mostly moves forward, sometimes stands still or goes back.
		switch step := int64(int8(b[7])); {
		case step < -100 && timeTravel:
			now -= 5 * Msec
		default:
			now += max(step, 0) * Msec
		}
		op.Time = now
		if b[4]&0x80 == 0 {
			op.Value = history.Int64(int64(b[4] % 8))
		}
		if b[5]&0x80 == 0 {
			op.Version = history.Int32(int32(b[5] % 6))
		}
		if b[5]&0x40 != 0 {
			op.Expect = history.Int32(int32(b[5] % 5))
		}
		if b[6]&0x80 == 0 {
			op.Zxid = 0x100 + int64(b[6]%16)
		}
		if b[6]&0x40 != 0 {
			op.Session = int64(1 + b[2]%3 + b[6]&0x20)
		}
		if op.Type == history.Fail && b[4]&1 == 1 {
			op.Error = "zk: version conflict"
		}
		switch op.F {
		case "kill", "start", history.FRoles, history.FHealthy:
			op.Process = history.NemesisProcess
			op.Fault = &history.Fault{Name: "kill leader", Targets: nodes[:1+b[4]%3], Detail: []string{"", "1.5s", "nonsense"}[b[5]%3]}
			if op.F == history.FHealthy && b[6]&1 == 1 {
				op.Error = "never healthy"
			}
			if op.F == history.FRoles || op.F == history.FHealthy {
				op.Type = history.Info
				op.Roles = map[string]string{}
				for j, n := range nodes {
					if (b[3]>>j)&1 == 1 {
						op.Roles[n] = roles[(int(b[4])>>(2*j))%4]
					}
				}
			}
		}
		ops = append(ops, op)
	}
	return ops
}

// FuzzSeeds are inputs for every checker's fuzz target: hand-written
// histories encoded back into the fuzz format's bytes would be overkill, so
// these are simply byte patterns that produce varied histories.
func FuzzSeeds(f *testing.F) {
	f.Add([]byte{})
	// invoke write k0 v1; ok write v1; invoke read; ok read 1@v1.
	f.Add([]byte{
		0, 1, 1, 0, 1, 0x80, 0x80, 1,
		1, 1, 1, 0, 1, 1, 0x41, 10,
		0, 0, 2, 0, 0x80, 0x80, 0x80, 1,
		1, 0, 2, 0, 1, 1, 0x41, 10,
	})
	// a stale read after two writes, in another session
	f.Add([]byte{
		0, 1, 1, 0, 1, 0x80, 0x80, 1,
		1, 1, 1, 0, 1, 1, 0x41, 10,
		0, 1, 1, 0, 2, 0x80, 0x80, 1,
		1, 1, 1, 0, 2, 2, 0x42, 10,
		0, 0, 2, 0, 0x80, 0x80, 0x80, 1,
		1, 0, 2, 0, 1, 1, 0x61, 10,
	})
	// cas, info, fail, a kill and roles
	f.Add([]byte{
		0, 2, 3, 1, 3, 0x41, 0x80, 2,
		3, 2, 3, 1, 3, 0x41, 0x80, 3,
		0, 5, 0, 0, 1, 0, 0, 4,
		3, 5, 0, 0, 1, 0, 0, 4,
		3, 7, 0, 7, 0x1b, 0, 0, 4,
		0, 6, 0, 0, 1, 0, 0, 4,
		3, 6, 0, 0, 1, 0, 0, 4,
		3, 8, 0, 7, 0x24, 1, 0, 200,
		2, 2, 4, 2, 5, 0x43, 0x80, 1,
	})
}

// CheckResult asserts what every result must satisfy, whatever the input.
func CheckResult(t *testing.T, name string, r checker.Result) {
	t.Helper()
	switch r.Verdict {
	case checker.Valid, checker.Invalid, checker.Unknown:
	default:
		t.Fatalf("%s: verdict %q", name, r.Verdict)
	}
	if r.Message == "" {
		t.Fatalf("%s: empty message", name)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatalf("%s: result is not JSON: %v", name, err)
	}
}
