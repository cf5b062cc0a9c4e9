package checkertest

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/history/gen"
)

// BruteForceLimit bounds the records of a damaged fuzzed history the
// oracles judge: its calls may all overlap, and the brute force tries every
// order of them.
const BruteForceLimit = 24

// elementVerdict turns the oracle's answer into a verdict.
func elementVerdict(valid, decided bool) checker.Verdict {
	switch {
	case !valid:
		return checker.Invalid
	case !decided:
		return checker.Unknown
	}
	return checker.Valid
}

// ElementDifferential is one family's differential test: its generator, its
// oracle, its checker, and the anomalies the generator plants.
type ElementDifferential struct {
	// Generate makes a history from a configuration.
	Generate func(gen.ClientConfig) ([]history.Op, bool)
	// Oracle judges a history by brute force.
	Oracle func([]history.Op) (bool, bool, error)
	// Checker is the checker held to the oracle.
	Checker checker.Checker
	// Anomalies are the anomalies Generate can plant.
	Anomalies []gen.Anomaly
}

// Agree judges ops with the checker and the oracle and fails the test
// unless they give the same verdict, which it returns.
func (d ElementDifferential) Agree(t *testing.T, what string, ops []history.Op) checker.Verdict {
	t.Helper()
	valid, decided, err := d.Oracle(ops)
	if err != nil {
		t.Fatalf("%s: oracle: %v", what, err)
	}
	want := elementVerdict(valid, decided)
	r := d.Checker.Check(context.Background(), ops)
	if r.Verdict != want {
		t.Fatalf("%s: %s says %s (%s), the oracle %s; history:\n%s", what, d.Checker.Name(), r.Verdict, r.Message, want, OpLines(ops))
	}
	return want
}

// Run compares the checker with the oracle on random histories, which both
// must find valid unless evidence is missing, and on histories with each
// anomaly planted, a good share of which both must find invalid.
func (d ElementDifferential) Run(t *testing.T) {
	random, perAnomaly := 6000, 800
	if testing.Short() {
		random, perAnomaly = 2000, 250
	}
	verdicts := map[checker.Verdict]int{}
	for seed := range random {
		cfg := elementConfig(seed)
		ops, _ := d.Generate(cfg)
		v := d.Agree(t, fmt.Sprintf("seed %d", seed), ops)
		if v == checker.Invalid {
			t.Fatalf("seed %d: a history with nothing planted is invalid:\n%s", seed, OpLines(ops))
		}
		verdicts[v]++
	}
	t.Logf("%d random histories: %d valid, %d unknown", random, verdicts[checker.Valid], verdicts[checker.Unknown])
	for _, a := range d.Anomalies {
		counts := map[checker.Verdict]int{}
		planted := 0
		for seed := range perAnomaly {
			cfg := elementConfig(seed, a)
			ops, ok := d.Generate(cfg)
			if !ok {
				continue
			}
			planted++
			counts[d.Agree(t, fmt.Sprintf("%s seed %d", a, seed), ops)]++
		}
		t.Logf("%s: %d planted of %d, verdicts: %d invalid, %d valid, %d unknown",
			a, planted, perAnomaly, counts[checker.Invalid], counts[checker.Valid], counts[checker.Unknown])
		if counts[checker.Invalid] < planted/4 {
			t.Errorf("%s: only %d of %d planted histories are invalid", a, counts[checker.Invalid], planted)
		}
	}
}

// elementConfig varies the shape of small histories with the seed: a third
// of them have reads amid the writes.
func elementConfig(seed int, a ...gen.Anomaly) gen.ClientConfig {
	cfg := gen.ClientConfig{Seed: uint64(seed), Calls: 4 + seed%7, Workers: 2 + seed%3, Anomalies: a}
	if seed%3 == 0 {
		cfg.Reads = 0.3
	}
	return cfg
}

// elementFuzzConfig reads a generator config from fuzz bytes: eight bytes of
// seed, four of shape (calls, workers, outcome shares, reads amid the
// writes), then up to four anomalies to plant, one a byte.
func elementFuzzConfig(data []byte, anomalies []gen.Anomaly) gen.ClientConfig {
	b := make([]byte, 12)
	copy(b, data)
	cfg := gen.ClientConfig{
		Seed:    binary.LittleEndian.Uint64(b),
		Calls:   1 + int(b[8]%12),
		Workers: 1 + int(b[9]%4),
		Info:    float64(b[10]%8) / 10,
		Fail:    float64(b[10]/8%4) / 10,
		Crash:   float64(b[10]/32%4) / 4,
		Reads:   float64(b[11]%5) / 10,
		Unread:  float64(b[11]/5%3) / 10,
	}
	for _, x := range data[min(len(data), 12):min(len(data), 16)] {
		cfg.Anomalies = append(cfg.Anomalies, anomalies[int(x)%len(anomalies)])
	}
	return cfg
}

// Fuzz is the fuzz body of a family: the checker and the oracle must agree
// on the history the bytes describe, and one with nothing planted must not
// be invalid.
func (d ElementDifferential) Fuzz(t *testing.T, data []byte) {
	cfg := elementFuzzConfig(data, d.Anomalies)
	ops, _ := d.Generate(cfg)
	if v := d.Agree(t, fmt.Sprintf("%+v", cfg), ops); v == checker.Invalid && len(cfg.Anomalies) == 0 {
		t.Fatalf("%+v: nothing planted, yet invalid:\n%s", cfg, OpLines(ops))
	}
}

// ElementOp is one client operation of element e (nil for none), ending as typ.
func ElementOp(p int, f string, e *int64, typ history.Type, call, ret int64) []history.Op {
	inv := Invoke(p, f, "", call)
	inv.Value = e
	inv.Node = "n1"
	c := Complete(inv, typ, ret)
	c.Value, c.Node = e, "n1"
	switch typ {
	case history.Info:
		c.Error = "zk: connection closed"
	case history.Fail:
		c.Error = "zk: node already exists"
	}
	return []history.Op{inv, c}
}

// ElementRead is a final read on node that returned elements.
func ElementRead(p int, node string, call, ret int64, elements ...int64) []history.Op {
	inv := Invoke(p, history.Read, "", call)
	inv.Node = node
	c := Complete(inv, history.OK, ret)
	c.Node = node
	c.Values = append([]int64{}, elements...)
	return []history.Op{inv, c}
}

// Roles is a harness role observation naming the nodes.
func Roles(at int64, nodes ...string) []history.Op {
	m := map[string]string{}
	for _, n := range nodes {
		m[n] = "follower"
	}
	return One(history.Op{Type: history.Info, F: history.FRoles, Process: history.NemesisProcess, Time: at * Msec, Roles: m})
}

// ElementHistory decodes arbitrary bytes into a history of the operation names
// fs (plus reads), with all the oddities a damaged file may hold: completions
// without invocations, times going backwards, missing values, odd paths, and
// the error empty (a dequeue that found no element).
func ElementHistory(data []byte, empty string, fs ...string) []history.Op {
	names := append([]string{history.Read, "other"}, fs...)
	types := []history.Type{history.Invoke, history.OK, history.Fail, history.Info, "bogus"}
	paths := []string{"", "/q/q-0000000001", "/q/q-0000000002", "/q/q-0000000003", "/q/q-9999999999", "/q/q--000000001", "x", "/"}
	var ops []history.Op
	var t int64
	for i := 0; i+5 <= len(data); i += 5 {
		b := data[i : i+5]
		op := history.Op{
			Index:   int64(len(ops)),
			Type:    types[int(b[0])%len(types)],
			F:       names[int(b[1])%len(names)],
			Process: history.Process(int(b[2]%8) - 1),
			Node:    fmt.Sprintf("n%d", b[2]%4),
			Path:    paths[int(b[4])%len(paths)],
		}
		t += int64(b[4]) - 40
		op.Time = t
		if b[3] < 200 {
			op.Value = history.Int64(int64(b[3] % 12))
		}
		if b[0]&0x80 != 0 {
			op.Error = empty
		}
		if op.F == history.Read || b[3]&0x40 != 0 {
			for _, v := range data[i:min(len(data), i+int(b[3]%7))] {
				op.Values = append(op.Values, int64(v%12))
			}
		}
		if b[1]&0x80 != 0 && op.IsNemesis() {
			op.Roles = map[string]string{"n1": "leader", op.Node: "follower"}
		}
		ops = append(ops, op)
	}
	return ops
}
