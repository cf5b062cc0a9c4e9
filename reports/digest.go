package reports

import (
	"cmp"
	"maps"
	"math/bits"
	"slices"
	"time"

	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// Digest folds a history, one record at a time and in order, into what the
// summary and the charts of a report need, in memory that grows with the
// run's duration in seconds and its faults, not with its calls: counts per
// second, latency quantile sketches, a sample of the latency scatter and the
// nemesis's records. A report of a history of any length is drawn from it.
type Digest struct {
	open    map[history.Process]invoked // calls in flight
	nemesis []history.Op
	latest  history.Op // the record with the highest time
	records int64
	hasOps  bool

	latency   map[series]*sketch        // every completed call's latency
	scatter   map[series]*scatterSample // the latency scatter
	okLatency map[string][]*sketch      // ok calls' latency per f, per slot of invocation time
	slot      int64                     // the seconds one slot of okLatency spans
	slotHolds int64                     // the time up to which the chart's bucket width, and so slot, stays
	completed [3][]float64              // completions per second: ok, fail, info

	span     Window // client records, first to last; Start < 0 before any
	oks      int
	lastOK   int64
	okGaps   *sketch  // between ok completions
	longGaps []Window // those of them (and the one before the first) longer than minOutage
	pending  []int64  // nemesis times still waiting for an ok completion after them
	okAfter  map[int64]int64
}

// invoked is what a digest keeps of a call in flight, however many never
// complete.
type invoked struct {
	F    string
	Time int64
}

// series is one operation and outcome.
type series struct {
	f   string
	typ history.Type
}

// NewDigest returns an empty Digest.
func NewDigest() *Digest {
	return &Digest{
		open: map[history.Process]invoked{}, latency: map[series]*sketch{}, scatter: map[series]*scatterSample{},
		okLatency: map[string][]*sketch{}, slot: 1, span: Window{Start: -1}, okGaps: newSketch(exactGaps), okAfter: map[int64]int64{},
	}
}

// DigestOf folds ops.
func DigestOf(ops []history.Op) *Digest {
	d := NewDigest()
	for i := range ops {
		d.Add(&ops[i])
	}
	return d
}

// Sketch sizes: how many durations a sketch keeps exactly before it turns
// into a histogram.
const (
	exactLatency = 1 << 16 // per operation and outcome, for the summary
	exactGaps    = 1 << 16 // gaps between ok completions
	exactSlot    = 256     // per operation and slot of time, for the quantile chart
	exactBucket  = 1 << 14 // per operation and chart bucket
)

// Add folds the next record of the history. It keeps nothing of op but the
// nemesis's records.
func (d *Digest) Add(op *history.Op) {
	d.records++
	if d.records == 1 || op.Time >= d.latest.Time {
		d.latest = *op
	}
	if op.IsNemesis() {
		d.nemesis = append(d.nemesis, *op)
		d.pending = append(d.pending, op.Time)
		return
	}
	d.hasOps = true
	if d.span.Start < 0 {
		d.span.Start = op.Time
	}
	d.span.End = max(d.span.End, op.Time)
	if op.Type == history.Invoke {
		d.open[op.Process] = invoked{F: op.F, Time: op.Time}
		return
	}
	switch op.Type {
	case history.OK:
		d.ok(op.Time)
		d.count(0, op.Time)
	case history.Fail:
		d.count(1, op.Time)
	case history.Info:
		d.count(2, op.Time)
	}
	inv, ok := d.open[op.Process]
	if !ok {
		return
	}
	delete(d.open, op.Process)
	k := series{inv.F, op.Type}
	if d.latency[k] == nil {
		d.latency[k] = newSketch(exactLatency)
	}
	d.latency[k].add(op.Time - inv.Time)
	lat := max(op.Time-inv.Time, 0)
	if d.scatter[k] == nil {
		limit := maxScatterOther
		if op.Type == history.OK {
			limit = maxScatterOK
		}
		d.scatter[k] = &scatterSample{limit: limit, stride: 1, slowest: map[int64]latPoint{}}
	}
	d.scatter[k].add(latPoint{inv.Time, lat})
	if op.Type == history.OK {
		d.widen(op.Time)
		i := secondOf(inv.Time) / d.slot
		slots := d.okLatency[inv.F]
		for int64(len(slots)) <= i {
			slots = append(slots, nil)
		}
		if slots[i] == nil {
			slots[i] = newSketch(exactSlot)
		}
		slots[i].add(lat)
		d.okLatency[inv.F] = slots
	}
}

// widen makes the slots of okLatency as wide as a history that reaches t
// allows: the widest that divide every width its chart's buckets can take
// (slotSeconds). Their number stays within twice the chart's buckets
// however long the history, and each slot still falls in one bucket.
func (d *Digest) widen(t int64) {
	if t <= d.slotHolds {
		return
	}
	bw := bucketSeconds(time.Duration(t))
	d.slotHolds = bw * maxBuckets * int64(time.Second)
	w := slotSeconds(bw)
	if w <= d.slot {
		return
	}
	for f, slots := range d.okLatency {
		wider := make([]*sketch, (int64(len(slots))*d.slot+w-1)/w)
		for i, sk := range slots {
			if sk == nil {
				continue
			}
			j := int64(i) * d.slot / w
			if wider[j] == nil {
				wider[j] = newSketch(exactSlot)
			}
			wider[j].merge(sk)
		}
		d.okLatency[f] = wider
	}
	d.slot = w
}

// slotSeconds is the greatest common divisor of the chart bucket widths
// (niceSeconds, and beyond them multiples of the last) of at least width
// seconds.
func slotSeconds(width int64) int64 {
	last := niceSeconds[len(niceSeconds)-1]
	g := last
	for _, w := range niceSeconds {
		if w >= width {
			g = gcd(g, w)
		}
	}
	return g
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// secondOf is the whole second of a time since the run started.
func secondOf(t int64) int64 { return max(t, 0) / int64(time.Second) }

// count counts a completion of outcome i at t.
func (d *Digest) count(i int, t int64) {
	sec := secondOf(t)
	for int64(len(d.completed[i])) <= sec {
		d.completed[i] = append(d.completed[i], 0)
	}
	d.completed[i][sec]++
}

// ok folds an ok completion at t: the gap since the one before, and the
// first ok completion after each nemesis record.
func (d *Digest) ok(t int64) {
	prev := d.span.Start
	if d.oks > 0 {
		prev = d.lastOK
		d.okGaps.add(t - d.lastOK)
	}
	if time.Duration(t-prev) > minOutage {
		d.longGaps = append(d.longGaps, Window{Start: prev, End: t})
	}
	d.oks++
	d.lastOK = max(d.lastOK, t)
	for len(d.pending) > 0 && d.pending[0] < t {
		d.okAfter[d.pending[0]] = t
		d.pending = d.pending[1:]
	}
}

// Others returns the nemesis's records and the latest record, whose time
// ends the fault windows still open: what a page needs of the history
// besides the digest and the evidence.
func (d *Digest) Others() []history.Op {
	if d.records == 0 || d.latest.IsNemesis() {
		return d.nemesis
	}
	return append(slices.Clip(d.nemesis), d.latest)
}

// Windows returns the history's fault windows.
func (d *Digest) Windows() []fault.Window { return fault.Windows(d.Others()) }

// Summary computes the history's Summary.
func (d *Digest) Summary() Summary {
	s := Summary{Latency: map[string]map[history.Type]Quantiles{}}
	for k, sk := range d.latency {
		if s.Latency[k.f] == nil {
			s.Latency[k.f] = map[history.Type]Quantiles{}
		}
		s.Latency[k.f][k.typ] = sk.quantiles()
	}
	s.OutageThreshold = minOutage
	if d.oks >= 2 {
		s.OutageThreshold = max(minOutage, outageGapFactor*d.okGaps.quantiles().P50)
	}
	if d.span.Start >= 0 && d.span.End > d.span.Start {
		gaps := d.longGaps
		prev := d.span.Start
		if d.oks > 0 {
			prev = d.lastOK
		}
		if time.Duration(d.span.End-prev) > minOutage {
			gaps = append(slices.Clip(gaps), Window{Start: prev, End: d.span.End})
		}
		for _, g := range gaps {
			if time.Duration(g.End-g.Start) > s.OutageThreshold {
				s.Outages = append(s.Outages, g)
				s.Unavailable += g.Length()
			}
		}
		s.Availability = 1 - float64(s.Unavailable)/float64(d.span.End-d.span.Start)
	}
	for _, w := range d.Windows() {
		s.Recoveries = append(s.Recoveries, recovery(w, d.firstOKAfter, s.Outages))
	}
	s.Leaders, s.LeaderChanges = leadership(d.Others())
	return s
}

// firstOKAfter returns the time of the first ok completion after t, a
// nemesis record's time.
func (d *Digest) firstOKAfter(t int64) (int64, bool) {
	after, ok := d.okAfter[t]
	return after, ok
}

// sketch holds durations: all of them while they are few, then a histogram
// of them with buckets 1/32 of a power of two wide (about 3 % of the value).
type sketch struct {
	limit int
	exact []time.Duration
	hist  map[int32]int64
	n     int
	min   int64
	max   int64
}

func newSketch(limit int) *sketch { return &sketch{limit: limit} }

// add adds one duration, in nanoseconds.
func (s *sketch) add(v int64) {
	if s.n == 0 || v > s.max {
		s.max = v
	}
	if s.n == 0 || v < s.min {
		s.min = v
	}
	s.n++
	if s.hist == nil {
		s.exact = append(s.exact, time.Duration(v))
		if len(s.exact) <= s.limit {
			return
		}
		s.hist = map[int32]int64{}
		for _, x := range s.exact {
			s.hist[histBucket(int64(x))]++
		}
		s.exact = nil
		return
	}
	s.hist[histBucket(v)]++
}

// merge adds the durations of o.
func (s *sketch) merge(o *sketch) {
	if o.hist == nil {
		for _, v := range o.exact {
			s.add(int64(v))
		}
		return
	}
	if s.hist == nil {
		s.hist = map[int32]int64{}
		for _, x := range s.exact {
			s.hist[histBucket(int64(x))]++
		}
		s.exact = nil
	}
	for b, c := range o.hist {
		s.hist[b] += c
	}
	if s.n == 0 || o.max > s.max {
		s.max = o.max
	}
	if s.n == 0 || o.min < s.min {
		s.min = o.min
	}
	s.n += o.n
}

// quantiles returns the nearest-rank quantiles: exact while the sketch holds
// every duration, within a bucket's width after.
func (s *sketch) quantiles() Quantiles {
	if s.hist == nil {
		return QuantilesOf(s.exact)
	}
	buckets := slices.Sorted(maps.Keys(s.hist))
	rank := func(p float64) time.Duration {
		want := min(max(int64(p*float64(s.n)+0.999999999), 1), int64(s.n))
		var seen int64
		for _, b := range buckets {
			if seen += s.hist[b]; seen >= want {
				return time.Duration(min(max(histValue(b), s.min), s.max))
			}
		}
		return time.Duration(s.max)
	}
	return Quantiles{Count: s.n, P50: rank(0.5), P90: rank(0.9), P99: rank(0.99), Max: time.Duration(s.max)}
}

// histBucket is the histogram bucket of v: exact below 64 ns, then 32
// buckets per power of two.
func histBucket(v int64) int32 {
	if v < 64 {
		return int32(max(v, 0))
	}
	e := bits.Len64(uint64(v)) // 7 or more
	return int32(64 + (e-7)*32 + int((v>>(e-6))&31))
}

// histValue is the middle of bucket b.
func histValue(b int32) int64 {
	if b < 64 {
		return int64(b)
	}
	e := int(b-64)/32 + 7
	low := (32 + int64(b-64)%32) << (e - 6)
	return low + (int64(1)<<(e-6))/2
}

// scatterSample keeps a bounded sample of one series' latency points: all of
// them while they are at most limit, the slowest of every second, and every
// stride-th point, the stride doubling whenever the sample doubles the
// limit.
type scatterSample struct {
	limit   int
	total   int
	all     []latPoint
	slowest map[int64]latPoint // per second of invocation
	stride  int
	sample  []latPoint
}

func (s *scatterSample) add(p latPoint) {
	if s.total < s.limit+1 {
		s.all = append(s.all, p)
	}
	if s.total%s.stride == 0 {
		s.sample = append(s.sample, p)
		if len(s.sample) >= 2*s.limit {
			kept := s.sample[:0]
			for i, q := range s.sample {
				if i%2 == 0 {
					kept = append(kept, q)
				}
			}
			s.sample, s.stride = kept, s.stride*2
		}
	}
	s.total++
	sec := secondOf(p.at)
	if q, ok := s.slowest[sec]; !ok || p.lat > q.lat {
		s.slowest[sec] = p
	}
	if s.total > s.limit {
		s.all = nil
	}
}

// points returns at most limit points in invocation order: every point when
// there are no more, or else the slowest of every chart bucket and an even
// share of the sample.
func (s *scatterSample) points(bucket func(int64) int) []latPoint {
	if s.all != nil {
		return s.all
	}
	slowest := map[int]latPoint{}
	for _, p := range s.slowest {
		b := bucket(p.at)
		if q, ok := slowest[b]; !ok || p.lat > q.lat || (p.lat == q.lat && p.at < q.at) {
			slowest[b] = p
		}
	}
	kept := slices.SortedFunc(maps.Values(slowest), func(a, b latPoint) int { return cmp.Compare(b.lat, a.lat) })
	kept = kept[:min(len(kept), s.limit)]
	chosen := map[latPoint]bool{}
	for _, p := range kept {
		chosen[p] = true
	}
	var rest []latPoint
	for _, p := range s.sample {
		if !chosen[p] {
			rest = append(rest, p)
		}
	}
	if room := s.limit - len(kept); room > 0 && len(rest) > 0 {
		for i := range min(room, len(rest)) {
			kept = append(kept, rest[i*len(rest)/min(room, len(rest))])
		}
	}
	slices.SortFunc(kept, func(a, b latPoint) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.lat, b.lat)) })
	return kept
}
