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
