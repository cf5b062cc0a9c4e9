package checker

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/oracle"
)

// fuzzRegisterHistory turns arbitrary bytes into a history that looks enough
// like a register run to reach deep into the checkers: every 8 bytes are one
// record (type, f, process, key, value, version, zxid, session, time step),
// with nemesis and role records mixed in. Nothing about it need be
// consistent: invocations without completions, completions without
// invocations, missing values and versions all occur; with timeTravel, so do
// times that go back, which the history Writer never writes but a
// hand-edited or imported history may hold.
func fuzzRegisterHistory(data []byte, timeTravel bool) []history.Op {
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
			now -= 5 * msec
		default:
			now += max(step, 0) * msec
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

// fuzzSeeds are inputs for every checker's fuzz target: hand-written
// histories encoded back into the fuzz format's bytes would be overkill, so
// these are simply byte patterns that produce varied histories.
func fuzzSeeds(f *testing.F) {
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

// checkResult asserts what every result must satisfy, whatever the input.
func checkResult(t *testing.T, name string, r Result) {
	t.Helper()
	switch r.Verdict {
	case Valid, Invalid, Unknown:
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

func FuzzLinearizable(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ops := fuzzRegisterHistory(data, true)
		for _, mode := range []string{ReadQuorum, ReadPlain} {
			r := Linearizable{Budget: 200 * time.Millisecond, ReadMode: mode, VisualizeAllBelow: 50}.Check(context.Background(), ops)
			checkResult(t, "linearizable", r)
		}
		// The version order's fast path must agree with Porcupine's search
		// on every key both decide.
		keys, _ := splitByKey(ops, true)
		for _, kh := range keys {
			if len(kh.malformed) > 0 || len(kh.ops) > 12 {
				continue
			}
			if got, agree := orderAgainstPorcupine(kh); !agree {
				t.Fatalf("key %s: the version order says %v (%s), Porcupine alone the opposite", kh.key, got.verdict == orderValid, got.reason)
			}
		}
	})
}

func FuzzSequential(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ops := fuzzRegisterHistory(data, true)
		r := Sequential{}.Check(context.Background(), ops)
		checkResult(t, "sequential", r)
		d := r.Details.(SequentialDetails)
		if r.Verdict == Valid && (d.ReadsChecked == 0 || d.Violations > 0 || d.Malformed > 0) {
			t.Fatalf("valid without evidence or despite violations: %s", r.Message)
		}
		if (r.Verdict == Invalid) != (d.Violations > 0) {
			t.Fatalf("verdict %s with %d violations", r.Verdict, d.Violations)
		}
		if len(d.Examples) > scExamples {
			t.Fatalf("%d examples", len(d.Examples))
		}
		s := StaleReads{}.Check(context.Background(), ops)
		checkResult(t, "stale-reads", s)
		if s.Verdict != Valid {
			t.Fatalf("stale reads are never judged: %s", s.Message)
		}
	})
}

func FuzzStats(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ops := fuzzRegisterHistory(data, true)
		r := Stats{Need: []string{history.Read, history.Write}}.Check(context.Background(), ops)
		checkResult(t, "stats", r)
		if r.Verdict == Invalid {
			t.Fatalf("stats never finds a violation: %s", r.Message)
		}
	})
}

func FuzzRecovery(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := Recovery{}.Check(context.Background(), fuzzRegisterHistory(data, true))
		checkResult(t, "recovery", r)
	})
}

func FuzzConvergence(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		// Every 3 bytes: node, path, value; a high bit makes the snapshot
		// an error, another a digest counter.
		snaps := map[string]*history.Op{}
		for i := 0; i+3 <= len(data) && i < 600; i += 3 {
			node := "n" + string(rune('1'+data[i]%4))
			op := snaps[node]
			if op == nil {
				op = &history.Op{Type: history.Info, F: history.FSnapshot, Process: history.NemesisProcess, Node: node, Snapshot: map[string]string{}}
				snaps[node] = op
			}
			switch {
			case data[i]&0x80 != 0:
				op.Error = "unreachable"
			case data[i]&0x40 != 0:
				op.Metrics = map[string]int64{"zk_digest_mismatches_count": int64(data[i+2] % 2)}
			default:
				op.Snapshot["/p"+string(rune('a'+data[i+1]%5))] = "v" + string(rune('0'+data[i+2]%3))
			}
		}
		var ops []history.Op
		for _, op := range snaps {
			ops = append(ops, *op)
		}
		checkResult(t, "convergence", Convergence{}.Check(context.Background(), ops))
	})
}

func FuzzValueRegister(f *testing.F) {
	f.Add([]byte(`{:type :invoke, :f :write, :value 1, :process 0, :time 1}
{:type :ok, :f :write, :value 1, :process 0, :time 2}
{:type :invoke, :f :read, :value nil, :process 1, :time 3}
{:type :ok, :f :read, :value 1, :process 1, :time 4}`))
	f.Add([]byte(`[{:type :invoke, :f :cas, :value [:k [1 2]], :process 0, :time 5}]`))
	f.Add([]byte(`{:type :invoke, :f :cas, :value [0 1], :process 1}
{:type :invoke, :f :cas, :value [0 2], :process 2}
{:type :ok, :f :cas, :value [0 1], :process 1}
{:type :info, :f :cas, :value [0 2], :process 2}
{:type :invoke, :f :read, :value nil, :process 3}
{:type :ok, :f :read, :value 2, :process 3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := history.ReadEDN(bytes.NewReader(data))
		if err != nil || len(h.Ops) > 300 {
			return
		}
		for _, cas := range []bool{true, false} {
			v := ValueRegister{CAS: cas, Initial: history.Int64(0), Budget: time.Second}
			r := v.Check(context.Background(), h.Ops)
			checkResult(t, "value-register", r)
			if _, err := v.Judge(context.Background(), h.Ops); err != nil || len(h.Ops) > 20 {
				continue
			}
			// Small histories have a known answer.
			want, err := oracle.JepsenRegister(h.Ops, cas, 0)
			if err != nil {
				t.Fatalf("the model accepted what the oracle refused: %v", err)
			}
			if want != (r.Verdict == Valid) || r.Verdict == Unknown {
				t.Fatalf("verdict %s, brute force says linearizable=%v: %s", r.Verdict, want, r.Message)
			}
		}
	})
}

func FuzzServerLogs(f *testing.F) {
	f.Add([]byte("2026 ERROR [x] boom\njava.lang.NullPointerException: Cannot read field \"hdr\" because \"pif\" is null\n"))
	f.Add([]byte("Digests are not matching\n=== zkchaos: command: java -XX:+ExitOnOutOfMemoryError\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "zookeeper.log")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		checkResult(t, "server-logs", ServerLogs{Logs: map[string]string{"n1": path}}.Check(context.Background(), nil))
	})
}
