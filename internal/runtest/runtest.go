// Package runtest holds what tests of whole runs on real ensembles assert
// about a run's verdict, so every such test holds runs to the same rule.
package runtest

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/convergence"
	"github.com/zkchaos/zkchaos/checker/serverlogs"
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
	mismatched := false
	for _, m := range conv.Digest {
		mismatched = mismatched || m["zk_digest_mismatches_count"] > 0
	}
	assert.True(t, mismatched, "invalid without the servers' own digest mismatch: %s", check.Message)
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
