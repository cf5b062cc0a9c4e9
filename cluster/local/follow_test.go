package local

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster"
)

// markerPrefix begins the first marker line of every run.
const markerPrefix = "=== zkchaos: node started "

// nextLine returns the next line of a follower, failing the test when none
// comes within waitTimeout or the channel is closed.
func nextLine(t *testing.T, ch <-chan cluster.LogLine) cluster.LogLine {
	t.Helper()
	select {
	case l, ok := <-ch:
		require.True(t, ok, "the follower's channel was closed")
		return l
	case <-time.After(waitTimeout):
		t.Fatalf("no log line within %v", waitTimeout)
		return cluster.LogLine{}
	}
}

// linesUntil receives lines until one satisfies stop, and returns them all,
// that one included.
func linesUntil(t *testing.T, ch <-chan cluster.LogLine, stop func(string) bool) []cluster.LogLine {
	t.Helper()
	var got []cluster.LogLine
	for {
		l := nextLine(t, ch)
		got = append(got, l)
		if stop(l.Text) {
			return got
		}
	}
}

// joinLines renders lines as they are in the file.
func joinLines(lines []cluster.LogLine) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

// indexOf returns the index of the first line containing s, or -1.
func indexOf(lines []cluster.LogLine, s string) int {
	for i, l := range lines {
		if strings.Contains(l.Text, s) {
			return i
		}
	}
	return -1
}

// log4jTime parses the timestamp that begins a server's log line
// (log4j's ISO8601 layout, in local time, to the millisecond).
func log4jTime(line string) (time.Time, bool) {
	const layout = "2006-01-02 15:04:05,000"
	if len(line) < len(layout) {
		return time.Time{}, false
	}
	ts, err := time.ParseInLocation(layout, line[:len(layout)], time.Local)
	return ts, err == nil
}

// someFollower returns a node that is not the leader.
func someFollower(t *testing.T, e *Ensemble) cluster.Node {
	t.Helper()
	leader := cluster.LeaderOf(e.Roles(context.Background()))
	require.NotEmpty(t, leader)
	for _, n := range e.Nodes() {
		if n.Name != leader {
			return n
		}
	}
	t.Fatal("no follower")
	return cluster.Node{}
}

// readLog returns the content of a node's log.
func readLog(t *testing.T, e *Ensemble, n cluster.Node) []byte {
	t.Helper()
	b, err := os.ReadFile(e.LogPath(n))
	require.NoError(t, err)
	return b
}

func TestFollowLogFromStartSendsTheRunInFileOrder(t *testing.T) {
	e := startTestEnsemble(t, testConfig(t, 3))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n1 := e.Nodes()[0]

	_, err := e.FollowLog(ctx, cluster.Node{ID: 9, Name: "n9"}, true)
	assert.ErrorContains(t, err, `no node "n9"`)

	ch, err := e.FollowLog(ctx, n1, true)
	require.NoError(t, err)
	first := nextLine(t, ch)
	assert.True(t, strings.HasPrefix(first.Text, markerPrefix), "the run begins with its marker: %q", first.Text)
	second := nextLine(t, ch)
	assert.True(t, strings.HasPrefix(second.Text, "=== zkchaos: command: "), second.Text)
	rest := linesUntil(t, ch, func(s string) bool {
		return strings.HasSuffix(s, "] - LEADING") || strings.HasSuffix(s, "] - FOLLOWING")
	})
	got := append([]cluster.LogLine{first, second}, rest...)
	changed := indexOf(got, "Peer state changed: ")
	assert.True(t, changed > 1, "a peer state change comes before LEADING/FOLLOWING")
	t.Logf("%s: %q after %d lines", n1.Name, got[len(got)-1].Text, len(got))

	// The lines are the file's, from the run's first byte, with no gap and
	// no duplicate; their times go forward.
	log := readLog(t, e, n1)
	joined := joinLines(got)
	require.GreaterOrEqual(t, len(log), len(joined))
	assert.Equal(t, string(log[:len(joined)]), joined)
	for i := 1; i < len(got); i++ {
		assert.False(t, got[i].At.Before(got[i-1].At), "line %d received before line %d", i, i-1)
	}

	// Cancelling ends the follower and closes its channel.
	cancel()
	deadline := time.After(waitTimeout)
	for open := true; open; {
		select {
		case _, open = <-ch:
		case <-deadline:
			t.Fatal("the channel stays open after cancel")
		}
	}
}

func TestFollowLogSeesARestartedFollowerSync(t *testing.T) {
	e := startTestEnsemble(t, testConfig(t, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := someFollower(t, e)
	// Give the restarted follower something to catch up on.
	conn := connect(t, e.Nodes()[0])
	_, err := conn.Create("/follow", []byte("v"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	ch, err := e.FollowLog(ctx, f, false)
	require.NoError(t, err)
	require.NoError(t, e.Kill(ctx, f))
	require.NoError(t, e.Start(ctx, f))
	got := linesUntil(t, ch, func(s string) bool { return strings.Contains(s, "Learner received NEWLEADER message") })
	marker := indexOf(got, markerPrefix)
	getting := indexOf(got, "Getting a diff from the leader")
	if getting < 0 {
		getting = indexOf(got, "Getting a snapshot from leader")
	}
	require.GreaterOrEqual(t, marker, 0, "the new run's marker line")
	require.Greater(t, getting, marker, "the sync mode comes after the marker")
	newLeader := len(got) - 1
	require.Greater(t, newLeader, getting, "NEWLEADER comes after the sync mode")
	t.Logf("%s after restart: %s", f.Name, got[getting].Text)
	t.Logf("%s after restart: %s", f.Name, got[newLeader].Text)

	// How long after the server logged a line the harness had it.
	var delays []string
	for _, l := range got[marker:] {
		ts, ok := log4jTime(l.Text)
		if !ok {
			continue
		}
		d := l.At.Sub(ts)
		assert.Greater(t, d, -time.Second, "line received before it was logged? %q", l.Text)
		assert.Less(t, d, 10*time.Second, "line received late: %q", l.Text)
		if len(delays) < 3 || l.Text == got[getting].Text || l.Text == got[newLeader].Text {
			delays = append(delays, fmt.Sprintf("%v for %q", d, truncate(l.Text, 100)))
		}
	}
	t.Logf("delay from the log4j timestamp (ms resolution) to LogLine.At:\n%s", strings.Join(delays, "\n"))

	_, err = e.WaitHealthy(ctx, waitTimeout)
	require.NoError(t, err)
}

func TestFollowLogAfterAKillIsCompleteAndTheNextRunComesAfter(t *testing.T) {
	e := startTestEnsemble(t, testConfig(t, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := e.Nodes()[1]

	ch, err := e.FollowLog(ctx, n, true)
	require.NoError(t, err)
	require.NoError(t, e.Kill(ctx, n))
	log := readLog(t, e, n)
	require.NotEmpty(t, log)
	assert.Equal(t, byte('\n'), log[len(log)-1], "the log ends with a whole line")
	// The follower gets all of it, then waits.
	var got []cluster.LogLine
	for len(joinLines(got)) < len(log) {
		got = append(got, nextLine(t, ch))
	}
	assert.Equal(t, string(log), joinLines(got))

	// A follower from the start of a node that is down begins with its
	// next run.
	next, err := e.FollowLog(ctx, n, true)
	require.NoError(t, err)
	require.NoError(t, e.Start(ctx, n))
	assert.True(t, strings.HasPrefix(nextLine(t, ch).Text, markerPrefix), "the next run comes right after the last")
	assert.True(t, strings.HasPrefix(nextLine(t, next).Text, markerPrefix), "the next run's first line")
	after := readLog(t, e, n)
	assert.Equal(t, string(log), string(after[:len(log)]), "the kill's log is left as it was")
	assert.True(t, strings.HasPrefix(string(after[len(log):]), markerPrefix), "the marker lines follow the last run's last line")
	assert.Equal(t, 2, strings.Count(string(after), markerPrefix))
	_, err = e.WaitHealthy(ctx, waitTimeout)
	require.NoError(t, err)
}

// TestFollowOutputOfAKilledProcessIsAllInTheLog kills a process in the
// middle of a burst of output: what it wrote is all in the file when Kill
// returns, lines whole, a last cut line ended.
func TestFollowOutputOfAKilledProcessIsAllInTheLog(t *testing.T) {
	e := preparedEnsemble(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := e.Nodes()[0]
	adoptProcess(t, e, "seq", "1", "1000000000")
	require.Eventually(t, func() bool {
		st, err := os.Stat(e.LogPath(n))
		return err == nil && st.Size() > 1<<20
	}, 10*time.Second, time.Millisecond)
	require.NoError(t, e.Kill(ctx, n))
	log := readLog(t, e, n)
	require.Equal(t, byte('\n'), log[len(log)-1])
	lines := strings.Split(strings.TrimSuffix(string(log), "\n"), "\n")
	require.Greater(t, len(lines), 100000)
	assert.True(t, strings.HasPrefix(lines[0], markerPrefix))
	numbers := lines[2:]
	for i, s := range numbers[:len(numbers)-1] {
		if s != strconv.Itoa(i+1) {
			t.Fatalf("line %d of the output is %q, want %d", i+1, s, i+1)
		}
	}
	last := numbers[len(numbers)-1]
	assert.True(t, strings.HasPrefix(strconv.Itoa(len(numbers)), last), "the last line %q is line %d, maybe cut", last, len(numbers))
	t.Logf("%d lines of output in the log after the kill", len(numbers))
}

// TestFollowOutputWaitAfterExitIsBounded has a process leave a child
// outside its process group holding the output pipe: its exit waits
// outputGrace for the output, then gives up.
func TestFollowOutputWaitAfterExitIsBounded(t *testing.T) {
	e := preparedEnsemble(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := e.Nodes()[0]
	ch, err := e.FollowLog(ctx, n, false)
	require.NoError(t, err)
	p := adoptProcess(t, e, "sh", "-c", "setsid sleep 30 & echo $!; echo started; exec sleep 600")
	// The log did not exist yet: the follower begins with the marker lines.
	got := linesUntil(t, ch, func(s string) bool { return !strings.HasPrefix(s, "=== zkchaos: ") })
	require.Len(t, got, 3)
	stray, err := strconv.Atoi(got[2].Text)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Kill(stray, syscall.SIGKILL) })
	assert.Equal(t, "started", nextLine(t, ch).Text)
	require.Eventually(t, func() bool {
		pgid, err := syscall.Getpgid(stray)
		return err == nil && pgid == stray
	}, 10*time.Second, time.Millisecond, "the child leaves the process group")

	start := time.Now()
	require.NoError(t, e.Kill(ctx, n))
	took := time.Since(start)
	assert.True(t, p.outputCut)
	assert.GreaterOrEqual(t, took, outputGrace)
	assert.Less(t, took, outputGrace+5*time.Second)
	t.Logf("Kill returned after %v with a stray child holding the output", took)
	log := readLog(t, e, n)
	assert.True(t, bytes.HasSuffix(log, []byte("\nstarted\n")), "the output before the kill is in the log")
}
