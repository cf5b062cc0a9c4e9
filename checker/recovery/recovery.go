// Package recovery judges liveness from the harness's observations of the
// servers' roles: after every fault was healed the ensemble comes back, and
// how long each fault cost.
package recovery

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// Checker judges liveness from the harness's own observations: after every
// fault was healed, the ensemble must come back (every node serving, one
// leader) within the harness's bound. It also measures, per fault, how long
// the ensemble took to have a single leader again and to recover fully after
// the heal. Times come from role observations polled about four times a
// second, so they are accurate to a fraction of a second.
type Checker struct{}

// Name returns "recovery".
func (Checker) Name() string { return "recovery" }

// Window is what one fault window cost in availability.
type Window struct {
	// Fault is the fault's label, e.g. "kill leader".
	Fault string `json:"fault"`
	// Targets are the nodes it hit.
	Targets []string `json:"targets,omitempty"`
	// Start and Healed are times since the run started.
	Start  time.Duration `json:"start_ns"`
	Healed time.Duration `json:"healed_ns,omitempty"`
	// LeaderBefore is who led when the fault began.
	LeaderBefore string `json:"leader_before,omitempty"`
	// NewLeader is the single leader first seen after the old one was lost,
	// and NewLeaderAfter how long after the fault began.
	NewLeader      string        `json:"new_leader,omitempty"`
	NewLeaderAfter time.Duration `json:"new_leader_after_ns,omitempty"`
	// LeaderKept is true when the leader never changed and was never lost.
	LeaderKept bool `json:"leader_kept"`
	// RecoveredAfter is how long after the heal every node served with one
	// leader; Recovered is false when that was never seen before the next
	// fault or the end of the run.
	RecoveredAfter time.Duration `json:"recovered_after_ns,omitempty"`
	Recovered      bool          `json:"recovered"`
}

// Kind summarises the windows of one fault label.
type Kind struct {
	// Fault is the fault's label.
	Fault string `json:"fault"`
	// Count is how many windows it had.
	Count int `json:"count"`
	// Elections is how many of them lost the leader and saw a new one.
	Elections int `json:"elections"`
	// MedianNewLeader is the median time to a new leader over Elections.
	MedianNewLeader time.Duration `json:"median_new_leader_ns,omitempty"`
	// MedianRecovery is the median time to full recovery after the heal.
	MedianRecovery time.Duration `json:"median_recovery_ns,omitempty"`
	// NotRecovered counts windows never seen recovered.
	NotRecovered int `json:"not_recovered"`
}

// Details is the evidence of the recovery checker.
type Details struct {
	// Final is how long the ensemble took to be healthy after the final
	// heal, when it was.
	Final time.Duration `json:"final_recovery_ns,omitempty"`
	// FinalError says why the ensemble was not healthy after the final heal.
	FinalError string `json:"final_error,omitempty"`
	// Kinds summarises per fault label.
	Kinds []Kind `json:"kinds,omitempty"`
	// Windows lists every fault.
	Windows []Window `json:"windows,omitempty"`
}

type rolesAt struct {
	t     int64
	roles map[string]string
}

// StartByKey judges the nemesis's records alone, the only ones it reads.
func (c Checker) StartByKey(context.Context) checker.KeyJudgement { return checker.Whole(c) }

// Check measures every fault window and judges the final recovery.
func (Checker) Check(_ context.Context, ops []history.Op) checker.Result {
	start := time.Now()
	var observations []rolesAt
	var final *history.Op
	for i := range ops {
		op := &ops[i]
		if !op.IsNemesis() || op.Type == history.Invoke {
			continue
		}
		switch op.F {
		case history.FRoles:
			observations = append(observations, rolesAt{op.Time, op.Roles})
		case history.FHealthy:
			final = op
		}
	}
	var windows []Window
	for _, w := range fault.Windows(ops) {
		if !w.Applied() {
			continue // a failed injection changed nothing
		}
		win := Window{Fault: w.Name(), Targets: w.Targets, Start: time.Duration(w.Start)}
		if w.Healed {
			win.Healed = time.Duration(w.End)
		}
		windows = append(windows, win)
	}
	for i := range windows {
		end := int64(-1)
		if i+1 < len(windows) {
			end = int64(windows[i+1].Start)
		}
		measure(&windows[i], observations, end)
	}

	d := Details{Windows: windows, Kinds: summarise(windows)}
	r := checker.Result{Checker: "recovery", Details: d}
	switch {
	case final == nil && len(windows) == 0:
		r.Verdict, r.Message = checker.Valid, "no faults were injected"
	case final == nil:
		r.Verdict, r.Message = checker.Unknown, "no observation of the ensemble after the final heal (was the run interrupted?)"
	case final.Error != "":
		d.FinalError = final.Error
		r.Verdict = checker.Invalid
		r.Message = "the ensemble did not recover after every fault was healed: " + final.Error
	default:
		r.Verdict = checker.Valid
		r.Message = "the ensemble recovered after the final heal"
		if final.Fault != nil && final.Fault.Detail != "" {
			if d.Final, _ = time.ParseDuration(final.Fault.Detail); d.Final > 0 {
				r.Message += " in " + d.Final.Round(time.Millisecond).String()
			}
		}
	}
	r.Details = d
	if len(d.Kinds) > 0 {
		var parts []string
		for _, k := range d.Kinds {
			p := fmt.Sprintf("%s ×%d", k.Fault, k.Count)
			if k.Elections > 0 {
				p += fmt.Sprintf(": new leader in %s (median of %d)", k.MedianNewLeader.Round(time.Millisecond), k.Elections)
			}
			p += fmt.Sprintf(", recovered %s after heal", k.MedianRecovery.Round(time.Millisecond))
			if k.NotRecovered > 0 {
				p += fmt.Sprintf(" (%d not seen recovered before the next fault)", k.NotRecovered)
			}
			parts = append(parts, p)
		}
		r.Message += "; " + strings.Join(parts, "; ")
	}
	r.Duration = time.Since(start)
	return r
}

// measure fills in leader and recovery times of w from the observations,
// looking no further than end (the next fault), or anywhere when end < 0.
func measure(w *Window, obs []rolesAt, end int64) {
	before := latest(obs, int64(w.Start))
	w.LeaderBefore = LeaderOf(before)
	lost := false
	w.LeaderKept = true
	for _, o := range obs {
		if o.t <= int64(w.Start) {
			continue
		}
		if end >= 0 && o.t > end {
			break
		}
		l := LeaderOf(o.roles)
		if l != w.LeaderBefore {
			w.LeaderKept = false
			lost = true
		}
		if lost && l != "" && w.NewLeader == "" {
			w.NewLeader, w.NewLeaderAfter = l, time.Duration(o.t)-w.Start
		}
	}
	if w.Healed == 0 {
		return
	}
	if healthy(latest(obs, int64(w.Healed))) {
		w.Recovered = true
		return
	}
	for _, o := range obs {
		if o.t <= int64(w.Healed) {
			continue
		}
		if end >= 0 && o.t > end {
			break
		}
		if healthy(o.roles) {
			w.Recovered, w.RecoveredAfter = true, time.Duration(o.t)-w.Healed
			return
		}
	}
}

func latest(obs []rolesAt, t int64) map[string]string {
	var r map[string]string
	for _, o := range obs {
		if o.t > t {
			break
		}
		r = o.roles
	}
	return r
}

// LeaderOf returns the one node that roles names leader, or "" when none or
// several do.
func LeaderOf(roles map[string]string) string {
	leader := ""
	for n, r := range roles {
		if r == "leader" {
			if leader != "" {
				return ""
			}
			leader = n
		}
	}
	return leader
}

func healthy(roles map[string]string) bool {
	if len(roles) == 0 || LeaderOf(roles) == "" {
		return false
	}
	for _, r := range roles {
		if r != "leader" && r != "follower" {
			return false
		}
	}
	return true
}

func summarise(ws []Window) []Kind {
	byKind := map[string]*Kind{}
	elections := map[string][]time.Duration{}
	recoveries := map[string][]time.Duration{}
	for _, w := range ws {
		k := byKind[w.Fault]
		if k == nil {
			k = &Kind{Fault: w.Fault}
			byKind[w.Fault] = k
		}
		k.Count++
		if w.NewLeader != "" {
			k.Elections++
			elections[w.Fault] = append(elections[w.Fault], w.NewLeaderAfter)
		}
		if w.Healed > 0 {
			if w.Recovered {
				recoveries[w.Fault] = append(recoveries[w.Fault], w.RecoveredAfter)
			} else {
				k.NotRecovered++
			}
		}
	}
	var out []Kind
	for name, k := range byKind {
		k.MedianNewLeader = median(elections[name])
		k.MedianRecovery = median(recoveries[name])
		out = append(out, *k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Fault < out[j].Fault })
	return out
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
