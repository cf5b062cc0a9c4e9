package reports

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// maxBuckets bounds the resolution of the charts over time, so that a long
// history still makes a small page.
const maxBuckets = 600

// Caps on the points of one latency scatter series (an operation and an
// outcome). Past the cap the slowest call of every time bucket is kept and
// the rest is sampled evenly; fail and info calls are rarer and tell more, so
// they are all kept up to a larger cap.
const (
	maxScatterOK    = 2500
	maxScatterOther = 5000
)

// niceSeconds are bucket widths that read well on an axis.
var niceSeconds = []int64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400}

// FaultBand is one fault window as the charts shade it, in seconds since the
// run started. It is the JSON that faultbands.js takes.
type FaultBand struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	// Name is the fault as the scenario spells it, e.g. kill-leader.
	Name string `json:"name"`
	// Targets are the nodes it hit.
	Targets []string `json:"targets,omitempty"`
	// Kind picks the colour: kill, pause, partition, clients, link, clock,
	// upgrade or other.
	Kind string `json:"kind"`
	// Healed is false when the fault was still in force when the history ended.
	Healed bool `json:"healed"`
	// Detail is the fault's own note, e.g. a version change "3.8.0 -> 3.9.1".
	Detail string `json:"detail,omitempty"`
}

// FaultBands returns the fault windows of a history that may have taken
// effect (a failed injection did not), as the charts shade them.
func FaultBands(ops []history.Op) []FaultBand {
	return bandsOf(fault.Windows(ops))
}

// bandsOf returns the bands of the windows that may have taken effect.
func bandsOf(ws []fault.Window) []FaultBand {
	out := []FaultBand{}
	for _, w := range ws {
		if w.Applied() {
			out = append(out, FaultBand{
				Start: seconds(w.Start), End: seconds(w.End), Name: w.Name(), Targets: w.Targets,
				Kind: faultClass(w.Kind), Healed: w.Healed, Detail: w.Detail,
			})
		}
	}
	return out
}

// RecoveryBands returns the fault windows of a Summary's recoveries as the
// charts shade them, for a run whose history is not at hand.
func RecoveryBands(rs []Recovery) []FaultBand {
	out := []FaultBand{}
	for _, r := range rs {
		if !r.Applied {
			continue
		}
		out = append(out, FaultBand{
			Start: seconds(r.Window.Start), End: seconds(r.Window.End), Name: r.Name, Targets: r.Targets,
			Kind: faultClass(fault.OfAction(string(r.Kind))), Healed: r.Healed,
		})
	}
	return out
}

// faultClass picks the colour of a fault from its kind: its own, but a
// rollback's is an upgrade's, and a kind the table does not know is other.
func faultClass(k fault.Kind) string {
	switch k {
	case fault.Rollback:
		return string(fault.Upgrade)
	case "":
		return "other"
	}
	if _, ok := fault.Of(k); !ok {
		return "other"
	}
	return string(k)
}

// chartData is everything the page's charts draw, as the page script reads
// it from JSON. Times are seconds since the run started, latencies
// milliseconds.
type chartData struct {
	// End is the right edge of every chart.
	End float64 `json:"end"`
	// Bucket is the width of the time buckets.
	Bucket     float64          `json:"bucket"`
	Faults     []FaultBand      `json:"faults"`
	Throughput throughput       `json:"throughput"`
	Latency    []scatterSeries  `json:"latency"`
	Quantiles  []quantileSeries `json:"quantiles"`
	// Nodes are the rows of the roles chart, in order.
	Nodes    []string      `json:"nodes"`
	Roles    []roleSpan    `json:"roles"`
	Outages  []span        `json:"outages"`
	Versions []versionMark `json:"versions"`
}

// throughput holds completions per second by outcome, per bucket starting at
// Bucket × i.
type throughput struct {
	OK   []float64 `json:"ok"`
	Fail []float64 `json:"fail"`
	Info []float64 `json:"info"`
}

// scatterSeries is the latency of one operation and outcome: [invoked at,
// latency] pairs, perhaps sampled.
type scatterSeries struct {
	F      string       `json:"f"`
	Type   history.Type `json:"type"`
	Total  int          `json:"total"`
	Points [][2]float64 `json:"points"`
}

// quantileSeries is the latency of one operation's ok calls per bucket (by
// invocation time); a bucket without calls is null.
type quantileSeries struct {
	F   string     `json:"f"`
	P50 []*float64 `json:"p50"`
	P90 []*float64 `json:"p90"`
	P99 []*float64 `json:"p99"`
}

// roleSpan is a span in which a node kept one role.
type roleSpan struct {
	Node  string  `json:"node"`
	Role  string  `json:"role"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// span is a window in seconds.
type span struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// versionMark is a node changing version: the completion of an upgrade or
// rollback.
type versionMark struct {
	Node   string  `json:"node"`
	At     float64 `json:"at"`
	F      string  `json:"f"`
	Detail string  `json:"detail,omitempty"`
}

// seconds converts nanoseconds since the start to seconds, to the microsecond.
func seconds(ns int64) float64 { return math.Round(float64(ns)/1e3) / 1e6 }

// millis converts a duration to milliseconds, to the microsecond.
func millis(d int64) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// bucketSeconds picks the narrowest nice width that keeps the bucket count
// within maxBuckets.
func bucketSeconds(end time.Duration) int64 {
	secs := int64(math.Ceil(end.Seconds()))
	for _, w := range niceSeconds {
		if secs <= w*maxBuckets {
			return w
		}
	}
	w := niceSeconds[len(niceSeconds)-1]
	return (secs + w*maxBuckets - 1) / (w * maxBuckets) * w
}

// buildCharts lays out a digested history for the charts: at most
// maxBuckets buckets per series over time, and sampled latency scatters.
func buildCharts(dg *Digest, windows []fault.Window, s Summary, nodes []string) chartData {
	end := dg.latest.Time
	for _, w := range windows {
		end = max(end, w.End)
	}
	bw := bucketSeconds(time.Duration(end))
	n := int(end/(bw*int64(time.Second))) + 1
	bucket := func(t int64) int { return min(max(int(t/(bw*int64(time.Second))), 0), n-1) }

	// Empty lists, not null: the page's script maps over every one.
	d := chartData{End: seconds(end), Bucket: float64(bw), Faults: bandsOf(windows), Outages: []span{}, Versions: []versionMark{}}
	for _, w := range windows {
		if w.EndsItself() && w.Applied() && w.Healed {
			for _, node := range w.Targets {
				d.Versions = append(d.Versions, versionMark{Node: node, At: seconds(w.End), F: w.F, Detail: w.Detail})
			}
		}
	}
	d.Throughput = dg.throughput(n, bw, bucket)
	d.Latency, d.Quantiles = dg.latencies(n, bucket)
	d.Nodes, d.Roles = rolesOf(dg.nemesis, nodes, end)
	for _, o := range s.Outages {
		d.Outages = append(d.Outages, span{Start: seconds(o.Start), End: seconds(o.End)})
	}
	return d
}

// throughput gives client completions per bucket by outcome, as rates.
func (dg *Digest) throughput(n int, bw int64, bucket func(int64) int) throughput {
	var out [3][]float64
	for i, perSecond := range dg.completed {
		out[i] = make([]float64, n)
		for sec, c := range perSecond {
			out[i][bucket(int64(sec)*int64(time.Second))] += c / float64(bw)
		}
	}
	return throughput{OK: out[0], Fail: out[1], Info: out[2]}
}

// latPoint is one call: when it was invoked and how long it took, in ns.
type latPoint struct{ at, lat int64 }

// latencies returns the latency scatter, one series per operation and
// outcome, and the quantiles of ok calls per operation and bucket.
func (dg *Digest) latencies(n int, bucket func(int64) int) ([]scatterSeries, []quantileSeries) {
	order := map[history.Type]int{history.OK: 0, history.Fail: 1, history.Info: 2}
	keys := slices.SortedFunc(maps.Keys(dg.scatter), func(a, b series) int {
		return cmp.Or(strings.Compare(a.f, b.f), cmp.Compare(order[a.typ], order[b.typ]))
	})
	scatter := make([]scatterSeries, 0, len(keys))
	quantiles := []quantileSeries{}
	for _, k := range keys {
		sample := dg.scatter[k]
		if k.typ == history.OK {
			quantiles = append(quantiles, quantilesOf(k.f, dg.okLatency[k.f], dg.slot, n, bucket))
		}
		kept := sample.points(bucket)
		s := scatterSeries{F: k.f, Type: k.typ, Total: sample.total, Points: make([][2]float64, len(kept))}
		for i, p := range kept {
			s.Points[i] = [2]float64{seconds(p.at), millis(p.lat)}
		}
		scatter = append(scatter, s)
	}
	return scatter, quantiles
}

// quantilesOf returns p50, p90 and p99 of the latencies per bucket of
// invocation time, in milliseconds, from their sketches per slot of slot
// seconds.
func quantilesOf(f string, slots []*sketch, slot int64, n int, bucket func(int64) int) quantileSeries {
	byBucket := make([]*sketch, n)
	for i, sk := range slots {
		if sk == nil {
			continue
		}
		b := bucket(int64(i) * slot * int64(time.Second))
		if byBucket[b] == nil {
			byBucket[b] = newSketch(exactBucket)
		}
		byBucket[b].merge(sk)
	}
	q := quantileSeries{F: f, P50: make([]*float64, n), P90: make([]*float64, n), P99: make([]*float64, n)}
	for b, sk := range byBucket {
		if sk == nil {
			continue
		}
		qs := sk.quantiles()
		p50, p90, p99 := millis(int64(qs.P50)), millis(int64(qs.P90)), millis(int64(qs.P99))
		q.P50[b], q.P90[b], q.P99[b] = &p50, &p90, &p99
	}
	return q
}

// rolesOf turns the harness's role observations into spans per node, from
// each observation to the next that changed the node's role or left the
// node out. Nodes come in
// the order given, then any others the observations name, sorted.
func rolesOf(ops []history.Op, nodes []string, end int64) ([]string, []roleSpan) {
	rows := append([]string{}, nodes...)
	known := map[string]bool{}
	for _, n := range rows {
		known[n] = true
	}
	var extra []string
	open := map[string]int{} // node -> index of its open span
	spans := []roleSpan{}
	for _, op := range ops {
		if !op.IsNemesis() || (op.F != history.FRoles && op.F != history.FHealthy) || len(op.Roles) == 0 {
			continue
		}
		at := seconds(op.Time)
		for node, role := range op.Roles {
			if !known[node] {
				known[node] = true
				extra = append(extra, node)
			}
			role = strings.ToLower(role)
			if i, ok := open[node]; ok {
				if spans[i].Role == role {
					continue
				}
				spans[i].End = at
			}
			open[node] = len(spans)
			spans = append(spans, roleSpan{Node: node, Role: role, Start: at})
		}
		// A node an observation leaves out has left the ensemble (a spare
		// that a reconfiguration stopped): its span ends there.
		for node, i := range open {
			if _, ok := op.Roles[node]; !ok {
				spans[i].End = at
				delete(open, node)
			}
		}
	}
	for _, i := range open {
		spans[i].End = seconds(end)
	}
	sort.Strings(extra)
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].Start < spans[j].Start })
	return append(rows, extra...), spans
}
