package linearizable

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/history/gen"
	"github.com/zkchaos/zkchaos/internal/checkertest"
	"github.com/zkchaos/zkchaos/internal/oracle"
)

// The register's linearizability is judged three ways that must agree on
// every history: the version order alone (the fast path), Porcupine alone
// (the search), and Checker as shipped (fast path, then search); and
// all three must agree with oracle.ZKRegister, a brute force that shares
// neither their model nor their pairing.

// registerJudges runs every judge on ops and returns the oracle's result
// and a description of the first disagreement, or "". fast, when not nil,
// counts what the version order decided per key.
func registerJudges(t testing.TB, ops []history.Op, mode string, fast map[orderVerdict]int) (oracle.ZKResult, string) {
	t.Helper()
	quorum := mode == ReadQuorum
	want, err := oracle.ZKRegister(ops, quorum)
	require.NoError(t, err)
	for _, l := range []Checker{{ReadMode: mode}, {ReadMode: mode, PorcupineOnly: true}} {
		r := l.Check(context.Background(), ops)
		got := map[string]string{}
		for _, k := range r.Details.(Details).Keys {
			got[k.Key] = string(k.Verdict)
		}
		judge := "Linearizable"
		if l.PorcupineOnly {
			judge = "the search alone"
		}
		if string(r.Verdict) != want.Verdict || !maps.Equal(got, want.Keys) {
			return want, fmt.Sprintf("%s says %s %v (%s), the oracle %s %v", judge, r.Verdict, got, r.Message, want.Verdict, want.Keys)
		}
	}
	keys, _ := splitByKey(ops, quorum)
	for _, kh := range keys {
		if len(kh.malformed) > 0 {
			continue
		}
		o := versionOrder(kh)
		if fast != nil {
			fast[o.verdict]++
		}
		// Valid without the reads it cannot check is no more than unknown.
		valid := string(checker.Valid)
		if len(kh.unreadable) > 0 {
			valid = string(checker.Unknown)
		}
		if (o.verdict == orderValid && want.Keys[kh.key] != valid) || (o.verdict == orderInvalid && want.Keys[kh.key] != string(checker.Invalid)) {
			return want, fmt.Sprintf("the version order alone says key %s is %s (%s), the oracle %s",
				kh.key, map[orderVerdict]string{orderValid: "valid", orderInvalid: "invalid"}[o.verdict], o.reason, want.Keys[kh.key])
		}
	}
	return want, ""
}

// smallConfig draws the shape of a small history from its seed: one or two
// keys, two to four workers, four to ten calls, every read mode. A history
// with an anomaly has more calls and its final reads, so that the anomaly
// has a place and evidence around it.
func smallConfig(seed uint64, anomaly gen.Anomaly) (gen.SmallConfig, string) {
	modes := []string{ReadQuorum, ReadQuorum, ReadPlain, ReadSync}
	mode := modes[seed%4]
	if anomaly == gen.StaleRead || anomaly == gen.Phantom {
		mode = ReadQuorum // only quorum reads are judged
	}
	cfg := gen.SmallConfig{
		Seed: seed, Calls: 4 + int(seed/4%7), Keys: 1 + int(seed/3%2), Workers: 2 + int(seed/5%3),
		ReadMode: mode, FinalReads: seed%3 != 0, Anomaly: anomaly,
	}
	if anomaly != gen.None {
		cfg.Calls += 2
		cfg.FinalReads = true
	}
	return cfg, mode
}

// recordedAsTheWorkload asserts that a generated history has the shape the
// register workload's records have: numbered in time order; every client
// record with its node, session and key; values on writes, expected
// versions on cas, a Stat's version and zxid on every ok completion; one
// call at a time per process.
func recordedAsTheWorkload(t *testing.T, ops []history.Op) {
	t.Helper()
	// Plain conditions rather than assertions: this runs on every record
	// of thousands of histories, under the race detector.
	open := map[history.Process]history.Op{}
	for i, op := range ops {
		why := ""
		inv, busy := open[op.Process]
		switch {
		case op.Index != int64(i) || (i > 0 && op.Time < ops[i-1].Time):
			why = "out of order"
		case op.IsNemesis():
			continue
		case op.Node != "n1" && op.Node != "n2" && op.Node != "n3", !strings.HasPrefix(op.Key, "k"), op.Session == 0:
			why = "without node, key or session"
		case (op.F == history.CAS) != (op.Expect != nil):
			why = "expected version on a call other than cas, or none on a cas"
		case op.Type == history.Invoke && busy:
			why = "invoked while its process was busy"
		case op.Type == history.Invoke && (op.F != history.Read) != (op.Value != nil):
			why = "a value on a read, or none on a write"
		case op.Type != history.Invoke && (inv.F != op.F || inv.Key != op.Key || inv.Node != op.Node || inv.Session != op.Session):
			why = "completes another call"
		case op.Type == history.OK && (op.Value == nil || op.Version == nil || op.Zxid == 0):
			why = "ok without value, version or zxid"
		case op.Type != history.OK && op.Type != history.Invoke && op.Error == "":
			why = "failed without error"
		}
		if why != "" {
			t.Fatalf("record %d: %s: %s", i, why, op)
		}
		if op.Type == history.Invoke {
			open[op.Process] = op
		} else {
			delete(open, op.Process)
		}
	}
}

func TestRegisterOracleAgreesOnRandomHistories(t *testing.T) {
	n := 2400
	verdicts := map[string]int{}
	fast := map[orderVerdict]int{}
	for seed := range uint64(n) {
		cfg, mode := smallConfig(seed, gen.None)
		ops, _ := gen.Small(cfg)
		recordedAsTheWorkload(t, ops)
		want, diff := registerJudges(t, ops, mode, fast)
		require.Empty(t, diff, "seed %d, read mode %s:\n%s", seed, mode, checkertest.OpLines(ops))
		verdicts[want.Verdict]++
		noEvidence := want.OKWrites == 0 || (mode == ReadQuorum && want.OKReads == 0)
		if noEvidence {
			require.Equal(t, string(checker.Unknown), want.Verdict, "seed %d: too little evidence", seed)
		} else {
			require.Equal(t, string(checker.Valid), want.Verdict, "seed %d: an unmutated history is valid:\n%s", seed, checkertest.OpLines(ops))
		}
	}
	t.Logf("%d random histories compared: %v; the version order decided %d keys valid, left %d to the search",
		n, verdicts, fast[orderValid], fast[orderUndecided])
	assert.Greater(t, verdicts[string(checker.Valid)], n*3/4)
	assert.Greater(t, fast[orderValid], n/2, "the fast path is compared, not skipped")
}

func TestRegisterOracleAgreesOnMutatedHistories(t *testing.T) {
	const perKind = 180
	for _, a := range gen.SmallAnomalies {
		verdicts := map[string]int{}
		fast := map[orderVerdict]int{}
		planted := 0
		for i := range uint64(perKind) {
			seed := 1_000_000 + i
			cfg, mode := smallConfig(seed, a)
			ops, ok := gen.Small(cfg)
			if ok {
				planted++
			}
			want, diff := registerJudges(t, ops, mode, fast)
			require.Empty(t, diff, "%s, seed %d, read mode %s:\n%s", a, seed, mode, checkertest.OpLines(ops))
			verdicts[want.Verdict]++
		}
		t.Logf("%s: %d histories compared, %d planted: %v; the version order decided %d keys valid, %d invalid, left %d to the search",
			a, perKind, planted, verdicts, fast[orderValid], fast[orderInvalid], fast[orderUndecided])
		assert.Greater(t, planted, perKind/2, "%s finds a place in most histories", a)
		assert.Greater(t, verdicts[string(checker.Invalid)], planted/3, "%s plants a violation often", a)
	}
}

// editRecords changes ops as the bytes say, three to an edit: which record,
// which field, and what to make of it. Values, versions, expected versions,
// types, errors, times, processes and keys change; records vanish. The
// result is what a faulty server, a torn file or a hand-edited history may
// hold, well-formed or not.
func editRecords(ops []history.Op, edits []byte) []history.Op {
	ops = append([]history.Op(nil), ops...)
	types := []history.Type{history.Invoke, history.OK, history.Fail, history.Info}
	errs := []string{"zk: version conflict", "zk: could not connect to a server", "zk: connection closed", ""}
	for i := 0; i+3 <= len(edits) && len(ops) > 0; i += 3 {
		at, x := int(edits[i])%len(ops), edits[i+2]
		op := &ops[at]
		switch edits[i+1] % 10 {
		case 0:
			op.Value = history.Int64(int64(x % 8))
		case 1:
			op.Version = history.Int32(int32(x % 6))
		case 2:
			op.Expect = history.Int32(int32(x % 5))
		case 3:
			op.Type = types[x%4]
		case 4:
			op.Error = errs[x%4]
		case 5:
			op.Time += int64(int8(x)) * checkertest.Msec / 4
		case 6:
			op.Process = history.Process(x % 6)
		case 7:
			op.Key = fmt.Sprintf("k%d", x%2)
		case 8:
			if x%2 == 0 {
				op.Value = nil
			} else {
				op.Version = nil
			}
		default:
			ops = append(ops[:at], ops[at+1:]...)
		}
	}
	return ops
}

// FuzzRegisterOracle holds the version order, the search, Checker
// and the oracle to one answer on small generated histories, with or
// without an anomaly, edited by the rest of the input.
func FuzzRegisterOracle(f *testing.F) {
	f.Add(uint64(1), uint8(0), []byte{})
	f.Add(uint64(7), uint8(1), []byte{3, 1, 2})
	f.Add(uint64(12), uint8(3), []byte{5, 0, 7, 9, 3, 2})
	f.Add(uint64(40), uint8(5), []byte{2, 9, 0, 8, 5, 200})
	f.Add(uint64(99), uint8(6), []byte{1, 7, 1, 4, 4, 0, 6, 2, 3})
	anomalies := append([]gen.Anomaly{gen.None}, gen.SmallAnomalies...)
	f.Fuzz(func(t *testing.T, seed uint64, shape uint8, edits []byte) {
		if len(edits) > 60 {
			return
		}
		cfg, mode := smallConfig(seed, anomalies[int(shape)%len(anomalies)])
		ops, _ := gen.Small(cfg)
		ops = editRecords(ops, edits)
		if _, diff := registerJudges(t, ops, mode, nil); diff != "" {
			t.Fatalf("%s; read mode %s:\n%s", diff, mode, checkertest.OpLines(ops))
		}
	})
}

// An ok read whose value or version went unrecorded cannot be checked, but
// it cannot mend what the other operations prove either: a read changes
// nothing, so a key that is not linearizable without it is not with it.
// Without such a violation the key stays unknown.
func TestUnreadableReadDoesNotHideAViolation(t *testing.T) {
	unreadable := checkertest.ReadOK(3, checkertest.Key, 40, 50, 2, 2)
	unreadable[1].Version = nil
	for _, tt := range []struct {
		name string
		ops  []history.Op
		want checker.Verdict
	}{
		{"two writes made version 1", checkertest.Hist(checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.WriteOK(2, checkertest.Key, 2, 20, 30, 1), unreadable), checker.Invalid},
		{"a stale read", checkertest.Hist(checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.ReadOK(2, checkertest.Key, 20, 30, 0, 0), unreadable), checker.Invalid},
		{"nothing else wrong", checkertest.Hist(checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.ReadOK(2, checkertest.Key, 20, 30, 1, 1), unreadable), checker.Unknown},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, l := range []Checker{{ReadMode: ReadQuorum}, {ReadMode: ReadQuorum, PorcupineOnly: true}} {
				r := l.Check(context.Background(), tt.ops)
				assert.Equal(t, tt.want, r.Verdict, r.Message)
				assert.Contains(t, r.Message, "ok read without value or version")
			}
			want, diff := registerJudges(t, tt.ops, ReadQuorum, nil)
			assert.Empty(t, diff)
			assert.Equal(t, string(tt.want), want.Verdict)
		})
	}
}

// The oracle's own known answers, worked out by hand from ZooKeeper's
// guarantees, so that it is not trusted merely for agreeing.
func TestZKRegisterOracleKnownAnswers(t *testing.T) {
	for _, tt := range []struct {
		name string
		ops  []history.Op
		want checker.Verdict
	}{
		{"write then read", checkertest.Hist(checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.ReadOK(2, checkertest.Key, 20, 30, 1, 1)), checker.Valid},
		{"concurrent writes in version order", checkertest.Hist(
			checkertest.WriteOK(1, checkertest.Key, 1, 0, 30, 2), checkertest.WriteOK(2, checkertest.Key, 2, 5, 20, 1), checkertest.ReadOK(3, checkertest.Key, 31, 32, 1, 2)), checker.Valid},
		{"a stale read", checkertest.Hist(checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.ReadOK(2, checkertest.Key, 20, 30, 0, 0)), checker.Invalid},
		{"a read concurrent with the write", checkertest.Hist(checkertest.WriteOK(1, checkertest.Key, 1, 0, 30, 1), checkertest.ReadOK(2, checkertest.Key, 10, 20, 0, 0)), checker.Valid},
		{"an indeterminate write seen later", checkertest.Hist(
			checkertest.WriteInfo(1, checkertest.Key, 7, 0, 5), checkertest.WriteOK(2, checkertest.Key, 8, 10, 20, 1), checkertest.ReadOK(3, checkertest.Key, 30, 40, 7, 2)), checker.Valid},
		{"an indeterminate write seen before it was called", checkertest.Hist(
			checkertest.ReadOK(3, checkertest.Key, 0, 5, 7, 1), checkertest.WriteInfo(1, checkertest.Key, 7, 10, 20), checkertest.WriteOK(2, checkertest.Key, 8, 30, 40, 2)), checker.Invalid},
		{"a failed cas that could only have succeeded", checkertest.Hist(
			checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.CASConflict(2, checkertest.Key, 5, 1, 20, 30), checkertest.ReadOK(3, checkertest.Key, 40, 50, 1, 1)), checker.Invalid},
		{"a failed cas while the version differed", checkertest.Hist(
			checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.CASConflict(2, checkertest.Key, 5, 0, 20, 30), checkertest.ReadOK(3, checkertest.Key, 40, 50, 1, 1)), checker.Valid},
		{"an indeterminate cas that cannot have applied", checkertest.Hist(
			checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.CASInfo(2, checkertest.Key, 5, 0, 20, 30), checkertest.ReadOK(3, checkertest.Key, 40, 50, 5, 2)), checker.Invalid},
		{"an indeterminate cas that applied", checkertest.Hist(
			checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.CASInfo(2, checkertest.Key, 5, 1, 20, 30), checkertest.ReadOK(3, checkertest.Key, 40, 50, 5, 2)), checker.Valid},
		{"two writes made one version", checkertest.Hist(checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1), checkertest.WriteOK(2, checkertest.Key, 2, 20, 30, 1), checkertest.ReadOK(3, checkertest.Key, 40, 50, 2, 1)), checker.Invalid},
		{"a failed write is not seen", checkertest.Hist(checkertest.WriteFail(1, checkertest.Key, 1, 0, 10), checkertest.WriteOK(2, checkertest.Key, 2, 20, 30, 1), checkertest.ReadOK(3, checkertest.Key, 40, 50, 1, 2)), checker.Invalid},
		{"no read", checkertest.Hist(checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 1)), checker.Unknown},
	} {
		got, err := oracle.ZKRegister(tt.ops, true)
		require.NoError(t, err)
		assert.Equal(t, string(tt.want), got.Verdict, tt.name)
	}
}
