package reports

import (
	"math"
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

// buildCharts aggregates a history into what the charts draw: at most
// maxBuckets buckets per series over time, and sampled latency scatters.
func buildCharts(ops []history.Op, windows []fault.Window, s Summary, nodes []string) chartData {
	var end int64
	for _, op := range ops {
		end = max(end, op.Time)
	}
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
	d.Throughput = throughputOf(ops, n, bw, bucket)
	d.Latency, d.Quantiles = latencyOf(ops, n, bucket)
	d.Nodes, d.Roles = rolesOf(ops, nodes, end)
	for _, o := range s.Outages {
		d.Outages = append(d.Outages, span{Start: seconds(o.Start), End: seconds(o.End)})
	}
	return d
}

// throughputOf counts client completions per bucket by outcome, as rates.
func throughputOf(ops []history.Op, n int, bw int64, bucket func(int64) int) throughput {
	ok, fail, info := make([]float64, n), make([]float64, n), make([]float64, n)
	for _, op := range ops {
		if op.IsNemesis() {
			continue
		}
		switch op.Type {
		case history.OK:
			ok[bucket(op.Time)]++
		case history.Fail:
			fail[bucket(op.Time)]++
		case history.Info:
			info[bucket(op.Time)]++
		}
	}
	for _, xs := range [][]float64{ok, fail, info} {
		for i := range xs {
			xs[i] /= float64(bw)
		}
	}
	return throughput{OK: ok, Fail: fail, Info: info}
}

// latPoint is one call: when it was invoked and how long it took, in ns.
type latPoint struct{ at, lat int64 }

// latencyOf returns the latency scatter, one series per operation and
// outcome, and the quantiles of ok calls per operation and bucket.
func latencyOf(ops []history.Op, n int, bucket func(int64) int) ([]scatterSeries, []quantileSeries) {
	type seriesKey struct {
		f   string
		typ history.Type
	}
	points := map[seriesKey][]latPoint{}
	for _, c := range history.Calls(ops) {
		if c.Complete.Index < 0 {
			continue // never completed: no latency
		}
		k := seriesKey{c.Invoke.F, c.Complete.Type}
		points[k] = append(points[k], latPoint{c.Invoke.Time, max(c.Complete.Time-c.Invoke.Time, 0)})
	}
	keys := make([]seriesKey, 0, len(points))
	for k := range points {
		keys = append(keys, k)
	}
	order := map[history.Type]int{history.OK: 0, history.Fail: 1, history.Info: 2}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].f != keys[j].f {
			return keys[i].f < keys[j].f
		}
		return order[keys[i].typ] < order[keys[j].typ]
	})

	scatter := make([]scatterSeries, 0, len(keys))
	quantiles := []quantileSeries{}
	for _, k := range keys {
		pts := points[k]
		limit := maxScatterOther
		if k.typ == history.OK {
			limit = maxScatterOK
			quantiles = append(quantiles, quantilesOf(k.f, pts, n, bucket))
		}
		kept := sampleLatencies(pts, limit, bucket)
		s := scatterSeries{F: k.f, Type: k.typ, Total: len(pts), Points: make([][2]float64, len(kept))}
		for i, p := range kept {
			s.Points[i] = [2]float64{seconds(p.at), millis(p.lat)}
		}
		scatter = append(scatter, s)
	}
	return scatter, quantiles
}

// sampleLatencies keeps at most limit points: the slowest of every bucket,
// then an even sample of the others. The result is in the input's order.
func sampleLatencies(pts []latPoint, limit int, bucket func(int64) int) []latPoint {
	if len(pts) <= limit {
		return pts
	}
	slowest := map[int]int{} // bucket -> index of its slowest point
	for i, p := range pts {
		b := bucket(p.at)
		if j, ok := slowest[b]; !ok || p.lat > pts[j].lat {
			slowest[b] = i
		}
	}
	keep := make([]bool, len(pts))
	kept := 0
	for _, i := range slowest {
		keep[i] = true
		kept++
	}
	if kept > limit {
		// More buckets than room: the slowest of the slowest.
		idx := make([]int, 0, kept)
		for _, i := range slowest {
			idx = append(idx, i)
		}
		sort.Slice(idx, func(a, b int) bool { return pts[idx[a]].lat > pts[idx[b]].lat })
		for _, i := range idx[limit:] {
			keep[i] = false
		}
		kept = limit
	}
	if room, rest := limit-kept, len(pts)-kept; room > 0 && rest > 0 {
		// Every (rest/room)-th of the points not kept yet.
		seen, taken := 0, 0
		for i := range pts {
			if keep[i] {
				continue
			}
			if taken < room && seen*room >= taken*rest {
				keep[i] = true
				taken++
			}
			seen++
		}
	}
	out := make([]latPoint, 0, limit)
	for i, p := range pts {
		if keep[i] {
			out = append(out, p)
		}
	}
	return out
}

// quantilesOf returns p50, p90 and p99 of the latencies per bucket of
// invocation time, in milliseconds.
func quantilesOf(f string, pts []latPoint, n int, bucket func(int64) int) quantileSeries {
	byBucket := make([][]time.Duration, n)
	for _, p := range pts {
		b := bucket(p.at)
		byBucket[b] = append(byBucket[b], time.Duration(p.lat))
	}
	q := quantileSeries{F: f, P50: make([]*float64, n), P90: make([]*float64, n), P99: make([]*float64, n)}
	for b, ds := range byBucket {
		if len(ds) == 0 {
			continue
		}
		qs := QuantilesOf(ds)
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
