package reports

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// perSecond buckets by whole seconds, up to n buckets.
func perSecond(n int) func(int64) int {
	return func(t int64) int { return min(int(t/int64(time.Second)), n-1) }
}

// sampleLatencies samples pts as a digest does, at most limit of them.
func sampleLatencies(pts []latPoint, limit int, bucket func(int64) int) []latPoint {
	s := &scatterSample{limit: limit, stride: 1, slowest: map[int64]latPoint{}}
	for _, p := range pts {
		s.add(p)
	}
	return s.points(bucket)
}

// okReads digests one ok read per point.
func okReads(pts []latPoint) *Digest {
	d := NewDigest()
	for _, p := range pts {
		d.Add(&history.Op{Type: history.Invoke, F: history.Read, Process: 1, Time: p.at})
		d.Add(&history.Op{Type: history.OK, F: history.Read, Process: 1, Time: p.at + p.lat})
	}
	return d
}

func TestSampleLatenciesKeepsTheSlowestOfEveryBucketAndSamplesTheRest(t *testing.T) {
	var pts []latPoint
	for s := range 10 {
		for i := range 1000 {
			lat := int64(i%50) * int64(time.Millisecond)
			if i == 617 {
				lat = int64(s+1) * int64(time.Second) // the outlier of second s
			}
			pts = append(pts, latPoint{at: int64(s)*int64(time.Second) + int64(i)*int64(time.Millisecond), lat: lat})
		}
	}
	kept := sampleLatencies(pts, 500, perSecond(10))
	require.Len(t, kept, 500)
	outliers := 0
	for i, p := range kept {
		if p.lat >= int64(time.Second) {
			outliers++
		}
		if i > 0 {
			assert.Less(t, kept[i-1].at, p.at, "in the input's order")
		}
	}
	assert.Equal(t, 10, outliers, "the slowest call of every second stays")
	perBucket := map[int]int{}
	for _, p := range kept {
		perBucket[int(p.at/int64(time.Second))]++
	}
	for s := range 10 {
		assert.InDelta(t, 50, perBucket[s], 2, "an even sample: second %d", s)
	}

	assert.Equal(t, pts[:300], sampleLatencies(pts[:300], 500, perSecond(10)), "under the cap, everything")
}

func TestSampleLatenciesWithMoreBucketsThanRoom(t *testing.T) {
	var pts []latPoint
	for s := range 100 {
		pts = append(pts, latPoint{at: int64(s) * int64(time.Second), lat: int64(s)}, latPoint{at: int64(s)*int64(time.Second) + 1, lat: 0})
	}
	kept := sampleLatencies(pts, 10, perSecond(100))
	require.Len(t, kept, 10)
	for _, p := range kept {
		assert.GreaterOrEqual(t, p.lat, int64(90), "the slowest of the slowest")
	}
}

func TestLatencyOfKeepsFailAndInfoUpToTheirCap(t *testing.T) {
	var ops []history.Op
	add := func(p history.Process, f string, typ history.Type, at, lat int64) {
		ops = append(ops,
			history.Op{Type: history.Invoke, F: f, Process: p, Time: at},
			history.Op{Type: typ, F: f, Process: p, Time: at + lat})
	}
	for i := range 6000 {
		at := int64(i) * int64(time.Millisecond)
		add(1, history.Read, history.OK, at, 100_000)
		if i < 4000 {
			add(2, history.CAS, history.Fail, at, 200_000)
		}
		if i < 10 {
			add(3, history.Write, history.Info, at, int64(5*time.Second))
		}
	}
	for i := range ops {
		ops[i].Index = int64(i)
	}
	scatter, quantiles := DigestOf(ops).latencies(7, perSecond(7))
	require.Len(t, scatter, 3)
	assert.Equal(t, history.CAS, scatter[0].F)
	assert.Equal(t, 4000, len(scatter[0].Points), "every failed cas: under the cap")
	assert.Equal(t, history.Read, scatter[1].F)
	assert.Equal(t, maxScatterOK, len(scatter[1].Points), "ok reads are sampled")
	assert.Equal(t, 6000, scatter[1].Total)
	assert.Equal(t, [2]float64{0, 0.1}, scatter[1].Points[0], "seconds and milliseconds")
	assert.Equal(t, 10, len(scatter[2].Points))
	assert.Equal(t, 5000.0, scatter[2].Points[0][1])

	require.Len(t, quantiles, 1, "quantiles of ok calls only")
	assert.Equal(t, history.Read, quantiles[0].F)
	require.Len(t, quantiles[0].P50, 7)
	assert.Equal(t, 0.1, *quantiles[0].P99[0])
	assert.Nil(t, quantiles[0].P50[6], "no call was invoked in the last second")
}

func TestQuantilesOfPerBucket(t *testing.T) {
	var pts []latPoint
	for i := range 100 {
		pts = append(pts, latPoint{at: int64(i) * int64(10*time.Millisecond), lat: int64(i+1) * int64(time.Millisecond)})
	}
	dg := okReads(pts)
	q := quantilesOf("read", dg.okLatency[history.Read], dg.slot, 2, perSecond(2))
	assert.Equal(t, 50.0, *q.P50[0])
	assert.Equal(t, 90.0, *q.P90[0])
	assert.Equal(t, 99.0, *q.P99[0])
	assert.Nil(t, q.P50[1])
}

func TestThroughputIsARatePerSecond(t *testing.T) {
	ops := []history.Op{client(history.OK, 0.5), client(history.OK, 1.5), client(history.Fail, 2.5), client(history.Info, 3.1),
		{Type: history.Invoke, F: history.Write, Process: 1, Time: sec(0.1)}, nem(history.OK, "kill", 1, "kill-one", "n1")}
	bw := int64(2)
	tp := DigestOf(ops).throughput(2, bw, func(t int64) int { return min(int(t/(bw*int64(time.Second))), 1) })
	assert.Equal(t, throughput{OK: []float64{1, 0}, Fail: []float64{0, 0.5}, Info: []float64{0, 0.5}}, tp)
}

func TestBuildChartsOfALongRunUsesCoarserBuckets(t *testing.T) {
	ops := []history.Op{client(history.OK, 1), client(history.Info, 3*3600)}
	d := buildCharts(DigestOf(ops), nil, Summary{}, nil)
	assert.Equal(t, 30.0, d.Bucket)
	assert.LessOrEqual(t, len(d.Throughput.OK), maxBuckets+1)
	assert.Equal(t, 10800.0, d.End)
}

func TestRolesOfMakesSpansPerNode(t *testing.T) {
	for name, tc := range map[string]struct {
		roles     []map[string]string // observed at 0, 1, 2, ... s
		given     []string
		wantNodes []string
		want      []roleSpan
	}{
		"the nodes given, then others": {
			roles: []map[string]string{
				{"n1": "leader", "n2": "follower"},
				{"n1": "down", "n2": "follower"},
				{"n1": "down", "n2": "leader", "n4": "Observer"},
			},
			given: []string{"n2", "n1"}, wantNodes: []string{"n2", "n1", "n4"},
			want: []roleSpan{
				{Node: "n1", Role: "leader", Start: 0, End: 1},
				{Node: "n2", Role: "follower", Start: 0, End: 2},
				{Node: "n1", Role: "down", Start: 1, End: 10},
				{Node: "n2", Role: "leader", Start: 2, End: 10},
				{Node: "n4", Role: "observer", Start: 2, End: 10},
			},
		},
		"a removed node, and a spare whose span ends when it leaves the observations": {
			roles: []map[string]string{
				{"n1": "leader", "n2": "follower"},
				{"n1": "leader", "n2": "removed"},
				{"n1": "leader", "n2": "follower", "n4": "follower"},
				{"n1": "leader", "n2": "follower"},
			},
			given: []string{"n1", "n2"}, wantNodes: []string{"n1", "n2", "n4"},
			want: []roleSpan{
				{Node: "n1", Role: "leader", Start: 0, End: 10},
				{Node: "n2", Role: "follower", Start: 0, End: 1},
				{Node: "n2", Role: "removed", Start: 1, End: 2},
				{Node: "n2", Role: "follower", Start: 2, End: 10},
				{Node: "n4", Role: "follower", Start: 2, End: 3},
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			var ops []history.Op
			for i, rs := range tc.roles {
				ops = append(ops, history.Op{Type: history.Info, F: history.FRoles, Process: history.NemesisProcess,
					Time: sec(float64(i)), Roles: rs})
			}
			ops = append(ops, client(history.OK, 10))
			nodes, spans := rolesOf(ops, tc.given, sec(10))
			assert.Equal(t, tc.wantNodes, nodes)
			assert.ElementsMatch(t, tc.want, spans)
		})
	}
}

func TestFaultBandsLeaveOutFailedInjections(t *testing.T) {
	ops := []history.Op{
		nem(history.Invoke, "pause", 1, "pause-one", "n1"),
		nem(history.Fail, "pause", 1.5, "pause-one", "n1"),
		nem(history.OK, "partition", 2, "isolate-leader", "n1", "n2", "n3"),
		nem(history.OK, "isolate-clients", 3, "clients", "n2"),
		nem(history.OK, "heal", 6, "isolate-leader"),
		client(history.OK, 10),
	}
	assert.Equal(t, []FaultBand{
		{Start: 2, End: 6, Name: "isolate-leader", Targets: []string{"n1", "n2", "n3"}, Kind: "partition", Healed: true},
		{Start: 3, End: 6, Name: "clients", Targets: []string{"n2"}, Kind: "clients", Healed: true},
	}, FaultBands(ops))
	assert.Equal(t, FaultBands(ops), RecoveryBands(Summarize(ops).Recoveries), "the same bands from a Summary")
	assert.Equal(t, []FaultBand{}, FaultBands(nil), "an empty list, not null, for the plugin")
}

func TestFaultClass(t *testing.T) {
	for f, want := range map[string]string{
		"kill": "kill", "kill-leader": "kill", "crash": "kill", "pause": "pause", "partition": "partition",
		"isolate-clients": "clients", "shape-links": "link", "clock": "clock", "upgrade": "upgrade",
		"rollback": "upgrade", "something-new": "other", "heal": "other",
	} {
		assert.Equal(t, want, faultClass(fault.OfAction(f)), f)
	}
	for _, old := range []string{"isolate", "shape"} {
		assert.NotEqual(t, "other", faultClass(fault.OfAction(old)), "the kind %q of older results", old)
	}
}

// TestEveryFaultKindHasOneColour holds the report's two palettes (the
// fault table's swatches in report.css, the chart bands in faultbands.js)
// to one colour per kind, for every kind the nemesis can inject.
func TestEveryFaultKindHasOneColour(t *testing.T) {
	css, err := pageFiles.ReadFile("report.css")
	require.NoError(t, err)
	js, err := assets.ReadFile("assets/faultbands.js")
	require.NoError(t, err)
	colour := func(re string, text []byte) string {
		m := regexp.MustCompile(re).FindSubmatch(text)
		if m == nil {
			return ""
		}
		return string(m[1])
	}
	seen := map[string]string{}
	for _, k := range append(fault.Kinds(), "other") {
		class := faultClass(fault.Kind(k))
		if k == "other" {
			class = k
		}
		q := regexp.QuoteMeta(class)
		inCSS := colour(`\.fw-`+q+` \{ background: rgba\((\d+, \d+, \d+), `, css)
		inJS := colour(`[\s{]'?`+q+`'?: \[(\d+, \d+, \d+)\]`, js)
		require.NotEmpty(t, inCSS, "report.css has no colour for %s", class)
		assert.Equal(t, inCSS, inJS, "faultbands.js colours %s as report.css does", class)
		if other, dup := seen[inCSS]; dup && other != class {
			t.Errorf("%s and %s share the colour %s", class, other, inCSS)
		}
		seen[inCSS] = class
	}
}

func TestBucketSecondsKeepsTheTimelineWithin600Buckets(t *testing.T) {
	for _, d := range []time.Duration{0, time.Second, 10 * time.Minute, time.Hour, 24 * time.Hour, 30 * 24 * time.Hour} {
		bw := bucketSeconds(d)
		assert.GreaterOrEqual(t, bw, int64(1))
		assert.LessOrEqual(t, int(d.Seconds()/float64(bw))+1, maxBuckets+1, "duration %v, bucket %d s", d, bw)
	}
	assert.Equal(t, int64(1), bucketSeconds(5*time.Minute), "short runs are drawn per second")
}

func TestSlotSecondsDivideEveryBucketWidthToCome(t *testing.T) {
	for _, width := range append(slices.Clone(niceSeconds), 3, 700, 100_000) {
		slot := slotSeconds(width)
		for _, w := range append(slices.Clone(niceSeconds), 2*86400, 3*86400) {
			if w >= width {
				assert.Zero(t, w%slot, "slot %d s for width %d s does not divide %d s", slot, width, w)
			}
		}
	}
	assert.Equal(t, int64(1), slotSeconds(1))
	assert.Equal(t, int64(5), slotSeconds(10), "10 s may become 15 s")
	assert.Equal(t, int64(300), slotSeconds(600), "600 s may become 900 s")
	assert.Equal(t, int64(86400), slotSeconds(200_000))
}

func TestLatencyQuantilesOfALongRunAreThoseOfItsBuckets(t *testing.T) {
	// Nine hours of reads, a few a second: the digest widens its slots
	// as the run goes on, and each chart bucket's quantiles are still
	// those of every latency invoked in it.
	rng := rand.New(rand.NewPCG(4, 2))
	var pts []latPoint
	for at := int64(0); at < int64(9*time.Hour); at += rng.Int64N(int64(2 * time.Second)) {
		pts = append(pts, latPoint{at: at, lat: 1 + rng.Int64N(int64(50*time.Millisecond))})
	}
	dg := okReads(pts)
	assert.LessOrEqual(t, len(dg.okLatency[history.Read]), 2*maxBuckets, "slots kept")
	end := dg.latest.Time
	bw := bucketSeconds(time.Duration(end))
	n := int(end/(bw*int64(time.Second))) + 1
	bucket := func(t int64) int { return min(int(t/(bw*int64(time.Second))), n-1) }
	got := quantilesOf(history.Read, dg.okLatency[history.Read], dg.slot, n, bucket)

	byBucket := make([][]time.Duration, n)
	for _, p := range pts {
		byBucket[bucket(p.at)] = append(byBucket[bucket(p.at)], time.Duration(p.lat))
	}
	for b, lats := range byBucket {
		require.NotEmpty(t, lats)
		want := QuantilesOf(lats)
		require.NotNil(t, got.P50[b], "bucket %d", b)
		assert.Equal(t, millis(int64(want.P50)), *got.P50[b], "p50 of bucket %d", b)
		assert.Equal(t, millis(int64(want.P99)), *got.P99[b], "p99 of bucket %d", b)
	}
}
