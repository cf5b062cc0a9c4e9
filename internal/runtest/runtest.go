// Package runtest holds what tests of whole runs on real ensembles assert
// about a run's verdict, so every such test holds runs to the same rule, and
// how they read a run's evidence and history.
package runtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/convergence"
	"github.com/zkchaos/zkchaos/checker/serverlogs"
	"github.com/zkchaos/zkchaos/history"
)

// AssertValid fails t unless a run's verdict (check, the run's composed
// result) is valid. One finding is tolerated, and only from its structured
// evidence: ZooKeeper 3.8.0's own. After ZOOKEEPER-4541 a follower's disk
// writer goes on, and the server's digest check finds its data tree
// inconsistent (ZOOKEEPER-4712, fixed in 3.9.3). So an invalid run passes
// only when the replicas hold the same znodes, a server counted digest
// mismatches, its log shows ZOOKEEPER-4541, and no checker but convergence
// and server-logs is invalid or unknown.
func AssertValid(t testing.TB, check checker.Result) {
	t.Helper()
	if check.Verdict == checker.Valid {
		return
	}
	checks := map[string]checker.Result{}
	for _, c := range check.Children {
		checks[c.Checker] = c
	}
	if !assert.Equal(t, checker.Invalid, check.Verdict, "the run is neither valid nor invalid: %s", check.Message) {
		return
	}
	conv, ok := checks["convergence"].Details.(convergence.Details)
	if !assert.True(t, ok, "invalid without convergence evidence: %s", check.Message) {
		return
	}
	assert.Zero(t, conv.DifferenceCount, "the replicas diverged: %s", checks["convergence"].Message)
	assert.True(t, DigestMismatched(conv), "invalid without the servers' own digest mismatch: %s", check.Message)
	logs, ok := checks["server-logs"].Details.(serverlogs.Details)
	assert.True(t, ok, "no server-log evidence: %s", check.Message)
	seen := 0
	for _, nl := range logs {
		seen += nl.KnownBugs["ZOOKEEPER-4541"]
	}
	assert.Positive(t, seen, "a digest mismatch without ZOOKEEPER-4541 in the logs: %s", check.Message)
	for name, c := range checks {
		if name != "convergence" && name != "server-logs" {
			assert.Equal(t, checker.Valid, c.Verdict, "%s: %s", name, c.Message)
		}
	}
	t.Logf("ZooKeeper 3.8.0 diverged by its own digest check (ZOOKEEPER-4541/-4712)")
}

// RequireWorkloadValid stops t unless the checkers of the named workload
// found its history valid, then holds the whole run to AssertValid. It
// returns the workload's result.
func RequireWorkloadValid(t testing.TB, check checker.Result, workload string) checker.Result {
	t.Helper()
	wl := Find(t, check, workload)
	if wl.Verdict != checker.Valid {
		t.Fatalf("the %s checkers found the history %s:\n%s", workload, wl.Verdict, wl.Messages())
	}
	AssertValid(t, check)
	return wl
}

// Find returns the result the named checker produced anywhere in r, and
// fails t without one.
func Find(t testing.TB, r checker.Result, name string) checker.Result {
	t.Helper()
	f, ok := r.Find(name)
	if !ok {
		t.Fatalf("no %s result in:\n%s", name, r.Messages())
	}
	return f
}

// OutDir is where a test keeps a run directory: $ZKCHAOS_TEST_OUT, to keep
// it for a look after the test, else a temporary directory.
func OutDir(t testing.TB) string {
	if d := os.Getenv("ZKCHAOS_TEST_OUT"); d != "" {
		return d
	}
	return t.TempDir()
}

// Details returns the evidence of type D of the first checker, depth first,
// in the tree under r that has such evidence.
func Details[D any](r checker.Result) (D, bool) {
	if d, ok := r.Details.(D); ok {
		return d, true
	}
	for _, c := range r.Children {
		if d, ok := Details[D](c); ok {
			return d, true
		}
	}
	var zero D
	return zero, false
}

// Ops reads the history of the run directory dir, and fails t when it
// cannot.
func Ops(t testing.TB, dir string) []history.Op {
	t.Helper()
	read, err := history.ReadFile(filepath.Join(dir, history.FileName))
	if err != nil {
		t.Fatalf("read the history of %s: %v", dir, err)
	}
	return read.Ops
}

// Faults counts, by action ("kill", "start", "partition", "heal"), the
// nemesis operations in ops that completed without error.
func Faults(ops []history.Op) map[string]int {
	n := map[string]int{}
	for _, op := range ops {
		if op.IsNemesis() && op.Type == history.Info && op.Error == "" {
			n[op.F]++
		}
	}
	return n
}

// DigestMismatched reports whether a server's own digest check (mntr's
// zk_digest_mismatches_count) found its data tree inconsistent.
func DigestMismatched(conv convergence.Details) bool {
	for _, m := range conv.Digest {
		if m["zk_digest_mismatches_count"] > 0 {
			return true
		}
	}
	return false
}
