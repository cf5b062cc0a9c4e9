package reports

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/linearizable"
	recoverycheck "github.com/zkchaos/zkchaos/checker/recovery"
	"github.com/zkchaos/zkchaos/checker/sequential"
	"github.com/zkchaos/zkchaos/checker/stats"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/histtest"
)

// registerRun describes a synthetic register run: workers on keys of a
// three-node ensemble whose leader is killed every KillEvery and started
// again KillFor later, with the harness's role observations.
type registerRun struct {
	Records   int // at least this many records
	Workers   int
	Keys      int
	Rate      float64 // client calls per second, over all workers
	KillEvery time.Duration
	KillFor   time.Duration
	Seed      uint64
}

// simCall is one client call of the simulation.
type simCall struct {
	process  history.Process
	node     string
	f, key   string
	invoke   int64
	complete int64
	lin      int64 // when it takes effect, between invoke and complete
	typ      history.Type
	value    int64
	expect   int32
	version  int32
	zxid     int64
	err      string
}

// simFault is one leader kill.
type simFault struct {
	at, election, end int64
	node              string
}

// history simulates the run: a linearizable register (every call takes
// effect at one instant between its invocation and its completion), calls
// stalled by each leader election and some of them timing out (info), failed
// cas on version conflicts, and quorum reads that fail during elections.
func (r registerRun) history() []history.Op {
	rng := rand.New(rand.NewPCG(r.Seed, 7))
	nodes := []string{"n1", "n2", "n3"}
	calls := (r.Records + 1) / 2
	// Workers fall a little behind the rate; the calls past the count are cut.
	span := int64(float64(calls) / r.Rate * 1.3e9)
	var faults []simFault
	leader := 0
	for at := int64(r.KillEvery); at+int64(r.KillFor) < span; at += int64(r.KillEvery) {
		faults = append(faults, simFault{at: at, election: at + int64(1500*time.Millisecond), end: at + int64(r.KillFor), node: nodes[leader]})
		leader = (leader + 1) % len(nodes)
	}
	stalled := func(t int64) (simFault, bool) {
		for _, f := range faults {
			if t >= f.at && t < f.election {
				return f, true
			}
		}
		return simFault{}, false
	}

	// Each worker calls in turn: invoke, wait, complete, think.
	var cs []simCall
	perWorker := r.Rate / float64(r.Workers)
	for w := range r.Workers {
		p := history.Process(w)
		t := int64(rng.Float64() * 1e9 / perWorker)
		for t < span {
			lat := int64((1.5 + rng.ExpFloat64()*3) * 1e6)
			if rng.IntN(500) == 0 {
				lat += int64(rng.Float64() * 400e6) // a slow outlier
			}
			c := simCall{process: p, node: nodes[w%len(nodes)], key: fmt.Sprintf("k%d", rng.IntN(r.Keys)), invoke: t, typ: history.OK}
			switch x := rng.IntN(4); {
			case x < 2:
				c.f = history.Read
			case x == 2:
				c.f = history.Write
			default:
				c.f = history.CAS
			}
			if f, ok := stalled(t); ok {
				lat = f.election - t + lat
				if rng.IntN(3) == 0 {
					c.typ, c.err = history.Info, "zk: connection closed"
				} else if c.f == history.Read {
					c.typ, c.err = history.Fail, "zk: version check failed"
				}
			}
			c.complete = t + lat
			c.lin = t + int64(rng.Float64()*float64(lat))
			cs = append(cs, c)
			t = c.complete + int64(rng.ExpFloat64()*1e9/perWorker)
			if c.typ == history.Info {
				p += history.Process(r.Workers) // a fresh process after an indeterminate call
			}
		}
	}

	sort.Slice(cs, func(i, j int) bool { return cs[i].invoke < cs[j].invoke })
	cs = cs[:min(calls, len(cs))]
	var end int64
	for _, c := range cs {
		end = max(end, c.complete)
	}
	for len(faults) > 0 && faults[len(faults)-1].end+int64(time.Second) > end {
		faults = faults[:len(faults)-1]
	}

	// Apply the calls in the order they take effect.
	sort.Slice(cs, func(i, j int) bool { return cs[i].lin < cs[j].lin })
	type reg struct {
		value   int64
		version int32
		zxid    int64
	}
	regs := map[string]*reg{}
	seen := map[[2]string]int32{} // worker and key -> last version read
	var zxid, next int64
	for i := range cs {
		c := &cs[i]
		g := regs[c.key]
		if g == nil {
			g = &reg{}
			regs[c.key] = g
		}
		who := [2]string{c.node + fmt.Sprint(int(c.process)%r.Workers), c.key}
		switch {
		case c.typ != history.OK && c.f != history.Read:
			next++
			c.value = next // indeterminate: never applied
			c.expect = seen[who]
		case c.typ != history.OK:
		case c.f == history.Read:
			c.value, c.version, c.zxid = g.value, g.version, g.zxid
			seen[who] = g.version
		default:
			next++
			c.value, c.expect = next, seen[who]
			if c.f == history.CAS && c.expect != g.version {
				c.typ, c.err = history.Fail, "zk: version conflict"
				continue
			}
			zxid++
			g.value, g.version, g.zxid = c.value, g.version+1, zxid
			c.version, c.zxid = g.version, g.zxid
			seen[who] = g.version
		}
	}

	var ops []history.Op
	for _, c := range cs {
		inv := history.Op{Type: history.Invoke, F: c.f, Process: c.process, Time: c.invoke, Key: c.key, Node: c.node, Session: int64(c.process) + 1000}
		done := inv
		done.Type, done.Time, done.Error = c.typ, c.complete, c.err
		switch c.f {
		case history.Write, history.CAS:
			inv.Value = history.Int64(c.value)
			done.Value = history.Int64(c.value)
			if c.f == history.CAS {
				inv.Expect, done.Expect = history.Int32(c.expect), history.Int32(c.expect)
			}
			if c.typ == history.OK {
				done.Version, done.Zxid = history.Int32(c.version), c.zxid
			}
		case history.Read:
			if c.typ == history.OK {
				done.Value, done.Version, done.Zxid = history.Int64(c.value), history.Int32(c.version), c.zxid
			}
		}
		ops = append(ops, inv, done)
	}
	roleOp := func(at int64, down, lead string) history.Op {
		rs := map[string]string{}
		for _, n := range nodes {
			rs[n] = "follower"
		}
		if lead != "" {
			rs[lead] = "leader"
		}
		if down != "" {
			rs[down] = "down"
		}
		return history.Op{Type: history.Info, F: history.FRoles, Process: history.NemesisProcess, Time: at, Roles: rs}
	}
	ops = append(ops, roleOp(0, "", nodes[0]))
	for i, f := range faults {
		ops = append(ops,
			history.Op{Type: history.Invoke, F: "kill", Process: history.NemesisProcess, Time: f.at, Fault: &history.Fault{Name: "kill-leader"}},
			history.Op{Type: history.Info, F: "kill", Process: history.NemesisProcess, Time: f.at + 2e6, Fault: &history.Fault{Name: "kill-leader", Targets: []string{f.node}}},
			roleOp(f.at+250e6, f.node, ""),
			roleOp(f.election, f.node, nodes[(i+1)%len(nodes)]),
			history.Op{Type: history.Invoke, F: "start", Process: history.NemesisProcess, Time: f.end, Fault: &history.Fault{Name: "kill-leader", Targets: []string{f.node}}},
			history.Op{Type: history.Info, F: "start", Process: history.NemesisProcess, Time: f.end + 300e6, Fault: &history.Fault{Name: "kill-leader", Targets: []string{f.node}}},
			roleOp(f.end+800e6, "", nodes[(i+1)%len(nodes)]),
		)
	}
	var last int64
	for _, op := range ops {
		last = max(last, op.Time)
	}
	ops = append(ops, history.Op{Type: history.Info, F: history.FHealthy, Process: history.NemesisProcess, Time: last + 1,
		Fault: &history.Fault{Name: "final heal", Detail: "120ms"}})
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Time < ops[j].Time })
	for i := range ops {
		ops[i].Index = int64(i)
	}
	return ops
}

// breakKey makes the first ok read of key that saw a version above 1 return
// the previous version's value, an old value no linearization allows; it
// returns the read's completion index.
func breakKey(ops []history.Op, key string) int64 {
	values := map[int32]int64{0: 0} // version -> value written
	for i, op := range ops {
		if op.Key != key || op.Type != history.OK {
			continue
		}
		if op.F != history.Read && op.Version != nil && op.Value != nil {
			values[*op.Version] = *op.Value
		}
		if op.F == history.Read && *op.Version > 1 {
			old, ok := values[*op.Version-1]
			if !ok {
				continue
			}
			ops[i].Value = history.Int64(old)
			return op.Index
		}
	}
	panic("no read to break on key " + key)
}

// judge runs the register checkers and the recovery checker on ops, as the
// harness does, and returns results ready for WriteHTML.
func judge(ops []history.Op, name string) Results {
	c := checker.Compose("zkchaos",
		checker.Compose("register",
			linearizable.Checker{Budget: time.Minute, ReadMode: linearizable.ReadQuorum, VisualizeAllBelow: 2000},
			sequential.Checker{}, sequential.StaleReads{ReadMode: linearizable.ReadQuorum}, stats.Checker{}),
		recoverycheck.Checker{})
	check := c.Check(context.Background(), ops)
	summary := Summarize(ops)
	var end int64
	for _, op := range ops {
		end = max(end, op.Time)
	}
	counts := CountOps(ops)
	return Results{
		Scenario: name, Seed: 1, Verdict: check.Verdict, Check: check, Counts: counts,
		Started:  time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC),
		Duration: time.Duration(end), HealthyAfter: 1200 * time.Millisecond,
		OpsPerSecond: math.Round(float64(counts.Total())/time.Duration(end).Seconds()*10) / 10,
		Nodes:        []string{"n1", "n2", "n3"},
		Logs:         []string{"nodes/n1/zookeeper.log", "nodes/n2/zookeeper.log", "nodes/n3/zookeeper.log"},
		Summary:      &summary,
	}
}

// The records the tests build.
var (
	sec    = histtest.Sec
	nem    = histtest.Nemesis
	client = histtest.Client
)
