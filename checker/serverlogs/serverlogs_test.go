package serverlogs

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zkchaos/zkchaos/checker"
)

func writeLog(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "zookeeper.log")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

func TestServerLogs(t *testing.T) {
	ctx := context.Background()
	calm := writeLog(t, "=== zkchaos: command: java -XX:+ExitOnOutOfMemoryError ...\n2026-11-25 INFO [main] Starting quorum peer\n2026-11-25 ERROR [LearnerHandler] Unexpected exception causing shutdown while sock still open\n")
	r := Checker{Logs: map[string]string{"n1": calm}}.Check(ctx, nil)
	assert.Equal(t, checker.Valid, r.Verdict, "errors caused by faults are information")
	assert.Contains(t, r.Message, "1 ERROR/FATAL lines")

	npe := writeLog(t, "2026-11-25 ERROR [QuorumPeer] Unexpected exception\njava.lang.NullPointerException\n\tat org.apache.zookeeper.server.quorum.Learner.syncWithLeader(Learner.java:612)\n")
	r = Checker{Logs: map[string]string{"n1": calm, "n2": npe}}.Check(ctx, nil)
	assert.Equal(t, checker.Invalid, r.Verdict)
	assert.Contains(t, r.Message, "n2: NullPointerException")

	known := writeLog(t, "2026-11-25 WARN [QuorumPeer] Exception when following the leader\njava.lang.NullPointerException: Cannot read field \"hdr\" because \"pif\" is null\n\tat org.apache.zookeeper.server.quorum.Learner.syncWithLeader(Learner.java:655)\n")
	r = Checker{Logs: map[string]string{"n1": known}}.Check(ctx, nil)
	assert.Equal(t, checker.Valid, r.Verdict, "a known, reported bug is named, not judged again")
	assert.Contains(t, r.Message, "ZOOKEEPER-4394 ×1")

	stray := writeLog(t, "2026-12-04 17:46:00,131 [myid:1] - ERROR [LearnerHandler-/127.0.0.1:32784:Leader] - NEWLEADER ACK from sid: 2 is from a different epoch - current 0x300000000 received 0x200000041\n")
	r = Checker{Logs: map[string]string{"n1": stray}}.Check(ctx, nil)
	assert.Equal(t, checker.Valid, r.Verdict)
	assert.Contains(t, r.Message, "ZOOKEEPER-4685 ×1")

	revalidate := writeLog(t, "2026-12-06 18:54:40,114 [myid:1] - WARN  [NIOWorkerThread-2:o.a.z.s.WorkerService$ScheduledWorkRequest@194] - Unexpected exception\n"+
		"java.lang.NullPointerException: Cannot invoke \"org.apache.zookeeper.server.quorum.Learner.validateSession(org.apache.zookeeper.server.ServerCnxn, long, int)\" because the return value of \"org.apache.zookeeper.server.quorum.LearnerZooKeeperServer.getLearner()\" is null\n"+
		"\tat org.apache.zookeeper.server.quorum.LearnerZooKeeperServer.revalidateSession(LearnerZooKeeperServer.java:94)\n")
	r = Checker{Logs: map[string]string{"n1": revalidate}}.Check(ctx, nil)
	assert.Equal(t, checker.Valid, r.Verdict, "a race that only drops a connection is named: %s", r.Message)
	assert.Contains(t, r.Message, "revalidate-without-learner ×1")
	assert.Contains(t, r.Message, "no release fixes it")
	otherNull := writeLog(t, "java.lang.NullPointerException: Cannot invoke \"org.apache.zookeeper.server.quorum.Learner.getZxid()\" because the return value of \"org.apache.zookeeper.server.quorum.LearnerZooKeeperServer.getLearner()\" is null\n")
	assert.Equal(t, checker.Invalid, Checker{Logs: map[string]string{"n1": otherNull}}.Check(ctx, nil).Verdict,
		"another call on a missing learner is not that race")

	digest := writeLog(t, "WARN [CommitProcessor] Digests are not matching. Value is Zxid.\n")
	assert.Equal(t, checker.Invalid, Checker{Logs: map[string]string{"n3": digest}}.Check(ctx, nil).Verdict)

	assert.Equal(t, checker.Unknown, Checker{}.Check(ctx, nil).Verdict)
	empty := writeLog(t, "")
	r = Checker{Logs: map[string]string{"n1": empty, "n2": empty}}.Check(ctx, nil)
	assert.Equal(t, checker.Unknown, r.Verdict, "empty logs say nothing: %s", r.Message)
	assert.Equal(t, checker.Valid, Checker{Logs: map[string]string{"n1": empty, "n2": calm}}.Check(ctx, nil).Verdict)
	missing := Checker{Logs: map[string]string{"n1": filepath.Join(t.TempDir(), "nope.log"), "n2": calm}}.Check(ctx, nil)
	assert.Equal(t, checker.Unknown, missing.Verdict, "a log not read is not judged: %s", missing.Message)
	assert.Contains(t, missing.Message, "1 server log of 2 could not be read whole")
	assert.NotEmpty(t, missing.Details.(Details)["n1"].Error)
	r = Checker{Logs: map[string]string{"n1": filepath.Join(t.TempDir(), "nope.log"), "n2": npe}}.Check(ctx, nil)
	assert.Equal(t, checker.Invalid, r.Verdict, "what was read still counts: %s", r.Message)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	r = Checker{Logs: map[string]string{"n1": calm}}.Check(cancelled, nil)
	assert.Equal(t, checker.Unknown, r.Verdict, "a cancelled scan read nothing: %s", r.Message)
	assert.Contains(t, r.Message, "cancelled")
}

// TestRefusedDamagedDataIsExplainedOnlyWhenTheHarnessSawItRefused holds
// the one exception to "data that would not load is bad": a run after the
// harness damaged the data, ended by the harness's note that the run
// refused it for an integrity error.
func TestRefusedDamagedDataIsExplainedOnlyWhenTheHarnessSawItRefused(t *testing.T) {
	ctx := context.Background()
	const (
		run     = "=== zkchaos: node started 2026-12-06T15:52:31Z ===\nINFO [main] Reading snapshot\n"
		refuse  = "ERROR [main:QuorumPeer] Unable to load database on disk\njava.io.IOException: CRC check failed\n"
		damaged = "=== zkchaos: data damaged: log.100000001 bytes 42..57 (middle) ===\n"
		refused = "=== zkchaos: node refused its damaged data (CRC check failed); its data directory is wiped, as a replaced disk would be ===\n"
		loaded  = "INFO [main] Snapshot loaded in 12 ms, highest zxid is 0x0\n"
	)
	for _, c := range []struct {
		name, log string
		want      checker.Verdict
		refusals  int
	}{
		{"refused, noted, started again", run + loaded + damaged + run + refuse + refused + run + loaded, checker.Valid, 1},
		{"refused without the harness's note", run + loaded + damaged + run + refuse + run + loaded, checker.Invalid, 0},
		{"refused in its last run, never noted", run + loaded + damaged + run + refuse, checker.Invalid, 0},
		{"would not load, nothing damaged", run + refuse + refused + run + loaded, checker.Invalid, 0},
		{"a later run fails again on data wiped clean", run + damaged + run + refuse + refused + run + refuse, checker.Invalid, 1},
	} {
		r := Checker{Logs: map[string]string{"n1": writeLog(t, c.log)}}.Check(ctx, nil)
		assert.Equal(t, c.want, r.Verdict, "%s: %s", c.name, r.Message)
		assert.Len(t, r.Details.(Details)["n1"].Refused, c.refusals, c.name)
		if c.refusals > 0 && c.want == checker.Valid {
			assert.Contains(t, r.Message, "damaged data refused at start, as it must be (the data was then wiped): n1 1 time", c.name)
		}
	}
}
