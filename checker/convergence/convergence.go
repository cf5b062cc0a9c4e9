// Package convergence judges that all replicas hold the same data after
// every fault was healed, from the nodes' snapshots and their own digest
// checks.
package convergence

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// Checker checks that after every fault was healed all replicas hold the
// same data: every node's snapshot (taken after a sync) has the same znodes
// with the same versions and data. It also reads the servers' own digest
// check (mntr's digest mismatch counters), which a server raises when its
// data tree stops matching the digest of the transactions it applied; a
// mismatch makes the run invalid even on a node whose snapshot failed.
type Checker struct{}

// Name returns "convergence".
func (Checker) Name() string { return "convergence" }

// Details is the evidence of the convergence checker.
type Details struct {
	// Nodes are the nodes whose snapshots were compared, and their sizes.
	Nodes map[string]int `json:"nodes"`
	// Differences lists up to 50 znodes on which replicas disagree, each as
	// "path: n1=v3:ab12… n2=(absent)".
	Differences []string `json:"differences,omitempty"`
	// DifferenceCount is how many znodes differ in all.
	DifferenceCount int `json:"difference_count"`
	// Digest lists every node's digest counters from mntr.
	Digest map[string]map[string]int64 `json:"digest,omitempty"`
	// Unreachable lists nodes whose snapshot failed, with the error.
	Unreachable map[string]string `json:"unreachable,omitempty"`
	// snapshots are the index of each node's snapshot record.
	snapshots map[string]int64
	// differ are the znodes of Differences, in the same order.
	differ []string
}

// StartByKey judges the nemesis's records alone, the only ones it reads.
func (c Checker) StartByKey(context.Context) checker.KeyJudgement { return checker.Whole(c) }

// Check compares the snapshots in the history.
func (Checker) Check(_ context.Context, ops []history.Op) checker.Result {
	start := time.Now()
	snaps := map[string]map[string]string{}
	d := Details{Nodes: map[string]int{}, Digest: map[string]map[string]int64{}, Unreachable: map[string]string{}, snapshots: map[string]int64{}}
	for _, op := range ops {
		if op.F != history.FSnapshot || !op.IsNemesis() {
			continue
		}
		d.snapshots[op.Node] = op.Index
		// mntr answers on a connection of its own: a node whose walk
		// failed may still report what its digest check found.
		if len(op.Metrics) > 0 {
			d.Digest[op.Node] = op.Metrics
		}
		if op.Error != "" {
			d.Unreachable[op.Node] = op.Error
			continue
		}
		snaps[op.Node] = op.Snapshot
		d.Nodes[op.Node] = len(op.Snapshot)
	}
	r := checker.Result{Checker: "convergence"}

	var mismatches []string
	for _, m := range digestMismatches(d.Digest) {
		mismatches = append(mismatches, m.String())
	}

	nodes := make([]string, 0, len(snaps))
	for n := range snaps {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	paths := map[string]bool{}
	for _, s := range snaps {
		for p := range s {
			paths[p] = true
		}
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	for _, p := range sorted {
		var vals []string
		for _, n := range nodes {
			v, ok := snaps[n][p]
			if !ok {
				v = "(absent)"
			}
			vals = append(vals, v)
		}
		if len(slices.Compact(slices.Clone(vals))) > 1 {
			d.DifferenceCount++
			if len(d.Differences) < 50 {
				parts := make([]string, len(nodes))
				for i, n := range nodes {
					parts[i] = n + "=" + vals[i]
				}
				d.Differences = append(d.Differences, p+": "+strings.Join(parts, " "))
				d.differ = append(d.differ, p)
			}
		}
	}
	r.Details = d
	switch {
	case len(mismatches) > 0:
		r.Verdict = checker.Invalid
		r.Message = "a server's own digest check found its data tree inconsistent: " + strings.Join(mismatches, ", ")
		if d.DifferenceCount > 0 {
			r.Message += fmt.Sprintf("; and the replicas disagree on %d znodes after every fault was healed, e.g. %s", d.DifferenceCount, d.Differences[0])
		} else {
			r.Message += fmt.Sprintf("; the %d replicas read hold the same %d znodes", len(snaps), len(sorted))
		}
	case d.DifferenceCount > 0:
		r.Verdict = checker.Invalid
		r.Message = fmt.Sprintf("replicas disagree on %d znodes after every fault was healed, e.g. %s", d.DifferenceCount, d.Differences[0])
	case len(snaps) < 2:
		r.Verdict = checker.Unknown
		r.Message = fmt.Sprintf("no evidence: %d node snapshots to compare (%d unreachable)", len(snaps), len(d.Unreachable))
	case len(d.Unreachable) > 0:
		r.Verdict = checker.Unknown
		r.Message = fmt.Sprintf("the %d reachable replicas agree on %d znodes, but %d nodes could not be read", len(snaps), len(sorted), len(d.Unreachable))
	default:
		r.Verdict = checker.Valid
		r.Message = fmt.Sprintf("all %d replicas hold the same %d znodes, versions and data", len(snaps), len(sorted))
		if len(d.Digest) > 0 {
			r.Message += "; no digest mismatch reported by the servers"
		}
	}
	r.Duration = time.Since(start)
	return r
}
