package compare

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/checker"
)

// faultSamples gathers one side's fault windows of each kind.
type faultSamples struct {
	windows, notRecovered int
	recovered, unavail    []time.Duration
	newLeader             []time.Duration
}

// faultRows compares recovery per fault kind.
func faultRows(a, b []Run) []FaultRow {
	as, bs := collectFaults(a), collectFaults(b)
	var kinds []string
	for k := range as {
		kinds = append(kinds, k)
	}
	for k := range bs {
		if _, ok := as[k]; !ok {
			kinds = append(kinds, k)
		}
	}
	slices.Sort(kinds)
	out := make([]FaultRow, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, FaultRow{Kind: k, A: as[k].stats(), B: bs[k].stats()})
	}
	return out
}

// collectFaults pools the fault windows of runs by kind: client-visible
// figures from the summaries, new-leader times from the recovery checker.
func collectFaults(runs []Run) map[string]*faultSamples {
	out := map[string]*faultSamples{}
	get := func(kind string) *faultSamples {
		s := out[kind]
		if s == nil {
			s = &faultSamples{}
			out[kind] = s
		}
		return s
	}
	for _, r := range runs {
		kindOf := map[string]string{}
		if sum := r.Results.Summary; sum != nil {
			for _, w := range sum.Recoveries {
				kindOf[w.Name] = w.Kind
				if !w.Applied {
					continue
				}
				s := get(w.Kind)
				s.windows++
				s.unavail = append(s.unavail, w.Unavailable)
				if w.RecoveredAfter < 0 {
					s.notRecovered++
				} else {
					s.recovered = append(s.recovered, w.RecoveredAfter)
				}
			}
		}
		for _, w := range recoveryWindows(r.Results.Check) {
			if w.NewLeader == "" {
				continue
			}
			kind, ok := kindOf[w.Fault]
			if !ok {
				kind = labelKind(w.Fault)
			}
			get(kind).newLeader = append(get(kind).newLeader, w.NewLeaderAfter)
		}
	}
	return out
}

// stats turns the samples into figures; nil samples are all zero.
func (s *faultSamples) stats() FaultStats {
	if s == nil {
		return FaultStats{}
	}
	return FaultStats{
		Windows: s.windows, NotRecovered: s.notRecovered,
		RecoveredMedian: median(s.recovered), RecoveredMax: maxDuration(s.recovered),
		UnavailableMedian: median(s.unavail), UnavailableMax: maxDuration(s.unavail),
		Elections: len(s.newLeader), NewLeaderMedian: median(s.newLeader),
	}
}

// recoveryWindows returns the fault windows the recovery checker measured,
// decoding its details whether they are typed or came back from JSON.
func recoveryWindows(root checker.Result) []checker.FaultRecovery {
	rec, ok := root.Child(checker.Recovery{}.Name())
	if !ok || rec.Details == nil {
		return nil
	}
	if d, ok := rec.Details.(checker.RecoveryDetails); ok {
		return d.Windows
	}
	b, err := json.Marshal(rec.Details)
	if err != nil {
		return nil
	}
	var d checker.RecoveryDetails
	if json.Unmarshal(b, &d) != nil {
		return nil
	}
	return d.Windows
}

// labelKind reduces a fault label the summary did not name ("kill leader",
// "partition-halves") to its first word.
func labelKind(label string) string {
	if i := strings.IndexAny(label, " -"); i > 0 {
		return label[:i]
	}
	return label
}
