package reports

import (
	"slices"
	"sort"
	"time"

	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// minOutage is the shortest gap between ok completions that counts as an
// outage, whatever the workload's pace.
const minOutage = time.Second

// outageGapFactor scales the median gap between ok completions into the outage
// threshold, so that a slow workload's normal pauses are not outages.
const outageGapFactor = 10

// Summary is what a run measured besides its verdict, from the history alone:
// latency by operation and outcome, availability, recovery after each fault
// and who led when. It is stored in results.json, so runs can be compared
// without reading their histories again.
type Summary struct {
	// Latency maps an operation name and an outcome to the quantiles of the
	// time from invocation to completion. Operations still in flight when
	// the history ends have no latency and are not counted.
	Latency map[string]map[history.Type]Quantiles `json:"latency"`
	// OutageThreshold is the shortest gap between ok completions counted as
	// an outage: the larger of one second and ten median gaps.
	OutageThreshold time.Duration `json:"outage_threshold_ns"`
	// Outages are the gaps longer than OutageThreshold in which no client
	// operation completed ok, including a slow start and a dead end.
	Outages []Window `json:"outages"`
	// Unavailable is the total length of Outages.
	Unavailable time.Duration `json:"unavailable_ns"`
	// Availability is the share of the workload's span outside Outages, 0..1.
	Availability float64 `json:"availability"`
	// Recoveries has one entry per fault window, in the order they opened.
	Recoveries []Recovery `json:"recoveries"`
	// Leaders are the spans in which one node led, as the role monitor saw
	// them; Node is empty in spans without a leader.
	Leaders []Tenure `json:"leaders"`
	// LeaderChanges counts how often leadership passed to another node.
	LeaderChanges int `json:"leader_changes"`
}

// Quantiles summarizes a set of durations.
type Quantiles struct {
	Count int           `json:"count"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	Max   time.Duration `json:"max_ns"`
}

// Window is a span of the run in nanoseconds since it started.
type Window struct {
	Start int64 `json:"start_ns"`
	End   int64 `json:"end_ns"`
}

// Length returns the window's length.
func (w Window) Length() time.Duration { return time.Duration(w.End - w.Start) }

// Recovery is how the service fared around one fault.
type Recovery struct {
	// Kind is the fault's kind: kill, pause, partition… (results written
	// before kinds were typed hold the first word of the action instead,
	// e.g. isolate for clients).
	Kind fault.Kind `json:"kind"`
	// Name is the fault as the scenario spells it, e.g. kill-leader.
	Name    string   `json:"name"`
	Targets []string `json:"targets,omitempty"`
	// Window runs from the injection to the heal (or the end of the run).
	Window Window `json:"window"`
	Healed bool   `json:"healed"`
	// Applied is false when the injection certainly failed.
	Applied bool `json:"applied"`
	// Unavailable is the outage time from the injection until service
	// resumed after the window: outages overlapping the window, including
	// one that outlasts it.
	Unavailable time.Duration `json:"unavailable_ns"`
	// RecoveredAfter is the time from the window's end to the first ok
	// completion after it, or -1 when none came before the history ended.
	RecoveredAfter time.Duration `json:"recovered_after_ns"`
}

// Tenure is a span in which Node led (or nobody did, when Node is empty).
type Tenure struct {
	Node   string `json:"node,omitempty"`
	Window Window `json:"window"`
}

// Summarize computes a Summary from a history.
func Summarize(ops []history.Op) Summary {
	s := Summary{Latency: latencies(ops)}
	oks, span := okTimes(ops)
	s.OutageThreshold = outageThreshold(oks)
	s.Outages = outages(oks, span, s.OutageThreshold)
	for _, o := range s.Outages {
		s.Unavailable += o.Length()
	}
	if span.End > span.Start {
		s.Availability = 1 - float64(s.Unavailable)/float64(span.End-span.Start)
	}
	for _, w := range fault.Windows(ops) {
		s.Recoveries = append(s.Recoveries, recovery(w, oks, s.Outages))
	}
	s.Leaders, s.LeaderChanges = leadership(ops)
	return s
}

// latencies groups call durations by operation name and outcome.
func latencies(ops []history.Op) map[string]map[history.Type]Quantiles {
	samples := map[string]map[history.Type][]time.Duration{}
	for _, c := range history.Calls(ops) {
		if c.Complete.Index < 0 {
			continue // never completed: no latency to speak of
		}
		byType := samples[c.Invoke.F]
		if byType == nil {
			byType = map[history.Type][]time.Duration{}
			samples[c.Invoke.F] = byType
		}
		byType[c.Complete.Type] = append(byType[c.Complete.Type], time.Duration(c.Complete.Time-c.Invoke.Time))
	}
	out := make(map[string]map[history.Type]Quantiles, len(samples))
	for f, byType := range samples {
		out[f] = make(map[history.Type]Quantiles, len(byType))
		for t, ds := range byType {
			out[f][t] = QuantilesOf(ds)
		}
	}
	return out
}

// QuantilesOf returns the nearest-rank quantiles of ds, which it sorts.
func QuantilesOf(ds []time.Duration) Quantiles {
	if len(ds) == 0 {
		return Quantiles{}
	}
	slices.Sort(ds)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(ds))+0.999999999) - 1
		return ds[min(max(i, 0), len(ds)-1)]
	}
	return Quantiles{Count: len(ds), P50: rank(0.5), P90: rank(0.9), P99: rank(0.99), Max: ds[len(ds)-1]}
}

// okTimes returns the times of ok client completions, sorted, and the span of
// the workload: its first invocation to its last completion.
func okTimes(ops []history.Op) ([]int64, Window) {
	var oks []int64
	span := Window{Start: -1}
	for _, op := range ops {
		if op.IsNemesis() {
			continue
		}
		if span.Start < 0 {
			span.Start = op.Time
		}
		span.End = max(span.End, op.Time)
		if op.Type == history.OK {
			oks = append(oks, op.Time)
		}
	}
	if span.Start < 0 {
		return nil, Window{}
	}
	slices.Sort(oks)
	return oks, span
}

// outageThreshold is the larger of minOutage and outageGapFactor median gaps
// between ok completions.
func outageThreshold(oks []int64) time.Duration {
	if len(oks) < 2 {
		return minOutage
	}
	gaps := make([]time.Duration, len(oks)-1)
	for i := 1; i < len(oks); i++ {
		gaps[i-1] = time.Duration(oks[i] - oks[i-1])
	}
	return max(minOutage, outageGapFactor*QuantilesOf(gaps).P50)
}

// outages returns the gaps longer than threshold between the span's start, the
// ok completions and the span's end.
func outages(oks []int64, span Window, threshold time.Duration) []Window {
	if span.End <= span.Start {
		return nil
	}
	var out []Window
	prev := span.Start
	gap := func(t int64) {
		if time.Duration(t-prev) > threshold {
			out = append(out, Window{Start: prev, End: t})
		}
		prev = max(prev, t)
	}
	for _, t := range oks {
		gap(t)
	}
	gap(span.End)
	return out
}

// recovery measures the service around one fault window.
func recovery(w fault.Window, oks []int64, outs []Window) Recovery {
	r := Recovery{
		Kind: w.Kind, Name: w.Name(), Targets: w.Targets,
		Window: Window{Start: w.Start, End: w.End}, Healed: w.Healed, Applied: w.Applied(),
		RecoveredAfter: -1,
	}
	if i := sort.Search(len(oks), func(i int) bool { return oks[i] > w.End }); i < len(oks) {
		r.RecoveredAfter = time.Duration(oks[i] - w.End)
	}
	for _, o := range outs {
		if o.End <= w.Start || o.Start > w.End {
			continue // before the fault, or after it ended and service resumed
		}
		r.Unavailable += time.Duration(o.End - max(o.Start, w.Start))
	}
	return r
}

// leadership turns the role monitor's records into leader tenures.
func leadership(ops []history.Op) ([]Tenure, int) {
	var ts []Tenure
	changes := 0
	lastLeader := ""
	var end int64
	for _, op := range ops {
		end = max(end, op.Time)
		if op.F != history.FRoles || !op.IsNemesis() {
			continue
		}
		leader := ""
		for node, role := range op.Roles {
			if role == "leader" {
				leader = node
			}
		}
		if n := len(ts); n > 0 && ts[n-1].Node == leader {
			continue
		}
		if n := len(ts); n > 0 {
			ts[n-1].Window.End = op.Time
		}
		ts = append(ts, Tenure{Node: leader, Window: Window{Start: op.Time}})
		if leader != "" {
			if lastLeader != "" && leader != lastLeader {
				changes++
			}
			lastLeader = leader
		}
	}
	if n := len(ts); n > 0 {
		ts[n-1].Window.End = end
	}
	return ts, changes
}
