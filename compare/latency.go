package compare

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/reports"
)

// LatencyRow compares the latency of one operation's ok completions.
type LatencyRow struct {
	// Op is the operation, e.g. read.
	Op string `json:"op"`
	// A and B are each side's quantiles.
	A LatencyStats `json:"a"`
	B LatencyStats `json:"b"`
}

// LatencyStats are the median over runs of each run's quantile.
type LatencyStats struct {
	// Runs counts the runs with ok completions of the operation, and
	// Count those completions.
	Runs  int `json:"runs"`
	Count int `json:"count"`
	// P50, P90 and P99 are the medians over runs of each run's quantile.
	P50 time.Duration `json:"p50_ns"`
	P90 time.Duration `json:"p90_ns"`
	P99 time.Duration `json:"p99_ns"`
}

// latencyRows compares the latency of ok completions per operation.
func latencyRows(a, b []Run) []LatencyRow {
	al, bl := collectLatency(a), collectLatency(b)
	ops := sortedKeys(al, bl)
	out := make([]LatencyRow, 0, len(ops))
	for _, f := range ops {
		out = append(out, LatencyRow{Op: f, A: latencyStats(al[f]), B: latencyStats(bl[f])})
	}
	return out
}

// collectLatency gathers each run's ok-completion quantiles per operation.
func collectLatency(runs []Run) map[string][]reports.Quantiles {
	out := map[string][]reports.Quantiles{}
	for _, r := range runs {
		if r.Results.Summary == nil {
			continue
		}
		for f, byType := range r.Results.Summary.Latency {
			if q, ok := byType[history.OK]; ok && q.Count > 0 {
				out[f] = append(out[f], q)
			}
		}
	}
	return out
}

// latencyStats takes the median over runs of each quantile.
func latencyStats(qs []reports.Quantiles) LatencyStats {
	s := LatencyStats{Runs: len(qs)}
	var p50, p90, p99 []time.Duration
	for _, q := range qs {
		s.Count += q.Count
		p50 = append(p50, q.P50)
		p90 = append(p90, q.P90)
		p99 = append(p99, q.P99)
	}
	s.P50, s.P90, s.P99 = median(p50), median(p90), median(p99)
	return s
}

// number is what median takes: durations and floats.
type number interface{ ~int64 | ~float64 }

// median returns the median of xs (the mean of the middle two for an even
// count), 0 for none.
func median[T number](xs []T) T {
	var zero T
	if len(xs) == 0 {
		return zero
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// sortedKeys returns the keys of a and of b, each once, in order.
func sortedKeys[K cmp.Ordered, V any](a, b map[K]V) []K {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// maxDuration returns the largest of ds, 0 for none.
func maxDuration(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Max(ds)
}
