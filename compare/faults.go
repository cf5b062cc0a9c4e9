package compare

import (
	"encoding/json"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/recovery"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// FaultRow compares the recovery from one kind of fault.
type FaultRow struct {
	// Kind is the fault's kind: kill, pause, partition…
	Kind fault.Kind `json:"kind"`
	// A and B pool each side's windows of that kind.
	A FaultStats `json:"a"`
	B FaultStats `json:"b"`
}

// FaultStats pools the fault windows of one kind over a side's runs. Client
// figures come from the runs' summaries (only windows whose injection may
// have taken effect); the new-leader time comes from the recovery checker.
type FaultStats struct {
	// Windows counts the fault windows.
	Windows int `json:"windows"`
	// NotRecovered counts windows after which no operation succeeded
	// before the run ended.
	NotRecovered int `json:"not_recovered"`
	// RecoveredMedian and RecoveredMax are the time from the heal to the
	// first ok operation, over the windows that recovered.
	RecoveredMedian time.Duration `json:"recovered_after_median_ns"`
	RecoveredMax    time.Duration `json:"recovered_after_max_ns"`
	// UnavailableMedian and UnavailableMax are the outage time from the
	// injection until service resumed.
	UnavailableMedian time.Duration `json:"unavailable_median_ns"`
	UnavailableMax    time.Duration `json:"unavailable_max_ns"`
	// Elections counts windows in which the servers elected a new leader,
	// and NewLeaderMedian is the median time from the fault to it.
	Elections       int           `json:"elections"`
	NewLeaderMedian time.Duration `json:"new_leader_median_ns,omitempty"`
}

// faultSamples gathers one side's fault windows of each kind.
type faultSamples struct {
	windows, notRecovered int
	recovered, unavail    []time.Duration
	newLeader             []time.Duration
}

// faultRows compares recovery per fault kind.
func faultRows(a, b []Run) []FaultRow {
	as, bs := collectFaults(a), collectFaults(b)
	kinds := sortedKeys(as, bs)
	out := make([]FaultRow, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, FaultRow{Kind: k, A: as[k].stats(), B: bs[k].stats()})
	}
	return out
}

// collectFaults pools the fault windows of runs by kind: client-visible
// figures from the summaries, new-leader times from the recovery checker.
func collectFaults(runs []Run) map[fault.Kind]*faultSamples {
	out := map[fault.Kind]*faultSamples{}
	get := func(kind fault.Kind) *faultSamples {
		s := out[kind]
		if s == nil {
			s = &faultSamples{}
			out[kind] = s
		}
		return s
	}
	for _, r := range runs {
		kindOf := map[string]fault.Kind{}
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
				kind = fault.OfLabel(w.Fault)
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
func recoveryWindows(root checker.Result) []recovery.Window {
	rec, ok := root.Child(recovery.Checker{}.Name())
	if !ok || rec.Details == nil {
		return nil
	}
	if d, ok := rec.Details.(recovery.Details); ok {
		return d.Windows
	}
	b, err := json.Marshal(rec.Details)
	if err != nil {
		return nil
	}
	var d recovery.Details
	if json.Unmarshal(b, &d) != nil {
		return nil
	}
	return d.Windows
}
