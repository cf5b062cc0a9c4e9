package reports

import (
	"slices"
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
func Summarize(ops []history.Op) Summary { return DigestOf(ops).Summary() }

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

// recovery measures the service around one fault window.
// firstOKAfter gives the first ok completion after a fault window's end.
func recovery(w fault.Window, firstOKAfter func(int64) (int64, bool), outs []Window) Recovery {
	r := Recovery{
		Kind: w.Kind, Name: w.Name(), Targets: w.Targets,
		Window: Window{Start: w.Start, End: w.End}, Healed: w.Healed, Applied: w.Applied(),
		RecoveredAfter: -1,
	}
	if t, ok := firstOKAfter(w.End); ok {
		r.RecoveredAfter = time.Duration(t - w.End)
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
