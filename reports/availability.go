package reports

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/zkchaos/zkchaos/checker"
	recoverycheck "github.com/zkchaos/zkchaos/checker/recovery"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// availability is the page's account of outages and recovery: what the
// clients saw (from the history, Summary) beside what the servers reported
// (the recovery checker, from role polling).
type availability struct {
	Availability  string // share of the workload's span with ok completions, e.g. 99.2%
	Unavailable   string
	Threshold     string
	LeaderChanges int
	Outages       []outageRow
	Recoveries    []recoveryRow
	RecoveriesAll int
	Kinds         []recoverycheck.Kind
	Final         string // the servers' recovery after the final heal
	FinalError    string
}

type outageRow struct {
	T0, T1             float64
	Start, End, Length string
	During             string // faults whose windows overlap it
}

type recoveryRow struct {
	T0, T1     float64
	Fault      string
	Targets    string
	Start, End string
	Healed     bool
	// What the clients saw.
	Unavailable string
	FirstOK     string
	// What the servers reported; empty when the recovery checker did not
	// measure this window.
	Server         bool
	LeaderBefore   string
	NewLeader      string
	NewLeaderAfter string
	LeaderKept     bool
	Recovered      string
}

// buildAvailability lays out the Summary and the recovery checker's details.
func buildAvailability(s Summary, windows []fault.Window, server *recoverycheck.Details) availability {
	a := availability{
		Availability:  fmt.Sprintf("%.2f%%", 100*s.Availability),
		Unavailable:   formatDuration(s.Unavailable),
		Threshold:     formatDuration(s.OutageThreshold),
		LeaderChanges: s.LeaderChanges,
	}
	if s.Unavailable == 0 {
		a.Unavailable = "0s"
	}
	for _, o := range s.Outages {
		var during []string
		for _, w := range windows {
			if w.Applied() && w.Start <= o.End && o.Start <= w.End {
				during = append(during, w.Name())
			}
		}
		a.Outages = append(a.Outages, outageRow{
			T0: seconds(o.Start), T1: seconds(o.End),
			Start: formatSeconds(float64(o.Start) / 1e9), End: formatSeconds(float64(o.End) / 1e9),
			Length: formatDuration(o.Length()), During: strings.Join(during, ", "),
		})
	}
	var serverWindows []recoverycheck.Window
	if server != nil {
		a.Kinds = server.Kinds
		serverWindows = server.Windows
		if server.Final > 0 {
			a.Final = formatDuration(server.Final)
		}
		a.FinalError = server.FinalError
	}
	used := make([]bool, len(serverWindows))
	a.RecoveriesAll = len(s.Recoveries)
	for _, r := range s.Recoveries {
		if len(a.Recoveries) == maxFaultRows {
			break
		}
		if !r.Applied {
			continue
		}
		row := recoveryRow{
			T0: seconds(r.Window.Start), T1: seconds(r.Window.End),
			Fault: r.Name, Targets: strings.Join(r.Targets, ", "), Healed: r.Healed,
			Start: formatSeconds(float64(r.Window.Start) / 1e9), End: formatSeconds(float64(r.Window.End) / 1e9),
			Unavailable: formatDuration(r.Unavailable), FirstOK: "never",
		}
		if r.Unavailable == 0 {
			row.Unavailable = "0s"
		}
		if r.RecoveredAfter >= 0 {
			row.FirstOK = formatDuration(r.RecoveredAfter)
			if r.RecoveredAfter == 0 {
				row.FirstOK = "0s"
			}
		}
		// The recovery checker measures the same windows (fault.Windows);
		// results written before it did opened theirs at the injection's
		// completion. Either way, the first unused one of the same fault
		// starting inside this window is this fault.
		for i, w := range serverWindows {
			if used[i] || (w.Fault != "" && w.Fault != r.Name) ||
				int64(w.Start) < r.Window.Start || int64(w.Start) > r.Window.End {
				continue
			}
			used[i] = true
			row.Server, row.LeaderBefore, row.NewLeader, row.LeaderKept = true, w.LeaderBefore, w.NewLeader, w.LeaderKept
			if w.NewLeader != "" {
				row.NewLeaderAfter = formatDuration(w.NewLeaderAfter)
			}
			switch {
			case w.Healed == 0:
				row.Recovered = "not healed"
			case !w.Recovered:
				row.Recovered = "not seen"
			case w.RecoveredAfter == 0:
				row.Recovered = "at once"
			default:
				row.Recovered = formatDuration(w.RecoveredAfter)
			}
			break
		}
		a.Recoveries = append(a.Recoveries, row)
	}
	return a
}

// recoveryDetails finds the recovery checker's result in the tree and reads
// its details, whether they are typed (a fresh check) or generic JSON (read
// back from results.json).
func recoveryDetails(root checker.Result) (*recoverycheck.Details, error) {
	r, ok := findChecker(root, recoverycheck.Checker{}.Name())
	if !ok || r.Details == nil {
		return nil, nil
	}
	if d, ok := r.Details.(recoverycheck.Details); ok {
		return &d, nil
	}
	b, err := json.Marshal(r.Details)
	if err != nil {
		return nil, fmt.Errorf("encode recovery details: %w", err)
	}
	var d recoverycheck.Details
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("decode recovery details: %w", err)
	}
	return &d, nil
}

// findChecker finds the first result named name, depth first.
func findChecker(r checker.Result, name string) (checker.Result, bool) {
	if r.Checker == name {
		return r, true
	}
	for _, c := range r.Children {
		if found, ok := findChecker(c, name); ok {
			return found, true
		}
	}
	return checker.Result{}, false
}
