package local

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/zkadmin"
)

// What a clock shift does here (libfaketime 0.9.10, OpenJDK 17, ZooKeeper
// 3.8.0, tickTime 500 ms, syncLimit 10; measured while writing these tests):
//   - The shift applies at once to both clocks of the JVM: System.nanoTime
//     jumps with currentTimeMillis (forward and back), and the JVM's sleeps
//     and waits run at the rate.
//   - Observable from outside: `cons` reports, for every session on a
//     server, the time of its last response (lresp) in that server's wall
//     clock: the node's own clock, whatever its role. A write is stamped by
//     the leader that proposes it, so the mtime of any write shows the
//     leader's clock and never a follower's. mntr's zk_uptime follows the
//     node's monotonic clock but restarts at every election.
//   - A follower jumping forward or back by 60 s (sessions of 10 s): nothing
//     visible, sessions live on (sessions are expired by the leader).
//   - The leader jumping forward by more than the session timeout: racy. In
//     one run it expired every session at once (clients got StateExpired,
//     ephemeral nodes were deleted), in another none; a follower may be
//     dropped later (read timeout) and rejoin within a second.
//   - The leader jumping back: it wedges for about the size of the step (its
//     tick loop waits for the clock to catch up), so it stops pinging its
//     followers; they elect a new leader after syncLimit*tickTime while the
//     old one still answers "Mode: leader" and serves stale reads to its own
//     sessions. Healing a forward shift of the leader with ResetClock is such
//     a step back.
//   - Rates of 2 and 0.5 for 25 s on a leader or a follower: nothing visible.
//   - Wall-clock-only mode (FAKETIME_DONT_FAKE_MONOTONIC=1) makes the JVM
//     crawl: an election took 6.7 s and the ensemble was not healthy after
//     40 s. Not used.
//   - FAKETIME_NO_CACHE=1 (a file read per clock call) halves write
//     throughput (about 1.1-1.5k instead of 2.5-3.1k sets/s with 10
//     workers); FAKETIME_CACHE_DURATION=1 costs nothing measurable but
//     applies a shift up to a second late.

// testClockConfig returns a Config for a real ensemble of n nodes with clock
// control. Like testDistribution it skips in -short mode and, outside CI,
// when libfaketime is missing (under CI that fails).
func testClockConfig(t *testing.T, n int) Config {
	t.Helper()
	cfg := testConfig(t, n)
	if _, err := FindFaketime(); err != nil {
		if errors.Is(err, ErrNotFound) && os.Getenv("CI") == "" {
			t.Skip(err.Error())
		}
		t.Fatal(err)
	}
	cfg.Clock = true
	return cfg
}

func TestFaketimeSpec(t *testing.T) {
	for _, tc := range []struct {
		offset time.Duration
		rate   float64
		want   string
	}{
		{0, 1, "+0 x1"},
		{30 * time.Second, 1, "+30 x1"},
		{-10 * time.Second, 1, "-10 x1"},
		{time.Hour, 1, "+3600 x1"},
		{1500 * time.Millisecond, 2, "+1.5 x2"},
		{-250 * time.Millisecond, 0.5, "-0.25 x0.5"},
		{time.Nanosecond, 1, "+0.000000001 x1"},
		{math.MinInt64, 1, "-9223372036.854775808 x1"},
	} {
		assert.Equal(t, tc.want, faketimeSpec(tc.offset, tc.rate), "offset %v rate %v", tc.offset, tc.rate)
	}
}

func TestMissingFaketimeSaysWhatToInstall(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "libfaketime.so.1")
	_, err := findFaketimeIn([]string{missing})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), missing)
	assert.Contains(t, err.Error(), "apt-get install -y faketime libfaketime")

	dir := t.TempDir()
	_, err = findFaketimeIn([]string{dir})
	assert.ErrorIs(t, err, ErrNotFound, "a directory is not the library")

	for _, path := range faketimeCandidates() {
		assert.True(t, strings.HasSuffix(path, "/faketime/libfaketime.so.1"), path)
	}
}

func TestClockRefusesAnInheritedFaketime(t *testing.T) {
	if _, err := FindFaketime(); err != nil {
		t.Skip(err.Error())
	}
	t.Setenv("FAKETIME", "+1d")
	_, err := newClocks(Config{Clock: true})
	assert.ErrorContains(t, err, "FAKETIME")
	c, err := newClocks(Config{})
	assert.NoError(t, err)
	assert.Nil(t, c, "no clock control without Config.Clock")
}

func TestClockNeedsConfigClock(t *testing.T) {
	e := preparedEnsemble(t, 1)
	ctx := context.Background()
	n := e.Nodes()[0]
	for _, c := range []cluster.Capability{cluster.CapClock, cluster.CapClockRate} {
		assert.EqualError(t, e.Can(c), "the ensemble was started without clock support", c)
	}
	err := e.SetClock(ctx, n, cluster.ClockShift{Offset: time.Second})
	assert.ErrorContains(t, err, "set clock of n1")
	assert.ErrorContains(t, err, "Config.Clock")
	assert.ErrorContains(t, e.ResetClock(ctx, n), "Config.Clock")
	env, err := e.clockEnvLocked(e.nodes[0], []string{"A=1"})
	require.NoError(t, err)
	assert.Equal(t, []string{"A=1"}, env, "no clock control, no preload")
	_, err = os.Stat(filepath.Join(e.nodes[0].dir, faketimeFile))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// readSpec reads a node's faketime file and parses its offset and rate.
func readSpec(t *testing.T, n *node) (time.Duration, float64) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.dir, faketimeFile))
	require.NoError(t, err)
	m := regexp.MustCompile(`^([+-][0-9.]+) x([0-9.]+)\n$`).FindStringSubmatch(string(b))
	require.NotNil(t, m, "faketime file holds %q", b)
	secs, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	rate, err := strconv.ParseFloat(m[2], 64)
	require.NoError(t, err)
	return time.Duration(secs * float64(time.Second)), rate
}

func TestClockFileFollowsShifts(t *testing.T) {
	e := preparedEnsemble(t, 2)
	e.clock = &clocks{lib: "/usr/lib/x/faketime/libfaketime.so.1", shifts: map[string]clockSetting{}}
	ctx := context.Background()
	n := e.nodes[0]
	require.NoError(t, e.Can(cluster.CapClock))

	// A node starts on real time, with libfaketime preloaded in front of any
	// other preload.
	e.mu.Lock()
	env, err := e.clockEnvLocked(n, []string{"LD_PRELOAD=/other.so"})
	_, err2 := e.clockEnvLocked(e.nodes[1], nil)
	e.mu.Unlock()
	require.NoError(t, err)
	require.NoError(t, err2)
	assert.Contains(t, env, "LD_PRELOAD=/usr/lib/x/faketime/libfaketime.so.1:/other.so")
	assert.Contains(t, env, "FAKETIME_TIMESTAMP_FILE="+filepath.Join(n.dir, "faketime.rc"))
	assert.Contains(t, env, "FAKETIME_NO_CACHE=1")
	off, rate := readSpec(t, n)
	assert.Equal(t, time.Duration(0), off)
	assert.Equal(t, 1.0, rate)

	require.NoError(t, e.SetClock(ctx, n.Node, cluster.ClockShift{Offset: 30 * time.Second}))
	off, rate = readSpec(t, n)
	assert.Equal(t, 30*time.Second, off)
	assert.Equal(t, 1.0, rate)
	off, _ = readSpec(t, e.nodes[1])
	assert.Equal(t, time.Duration(0), off, "other nodes keep real time")

	// libfaketime applies a rate from the process's start: the offset
	// written takes back what the rate would add for the time the process
	// already ran (10 s here), so the clock does not jump.
	running := &process{pid: 1 << 30, started: time.Now().Add(-10 * time.Second), done: make(chan struct{})}
	e.mu.Lock()
	n.proc = running
	e.mu.Unlock()
	require.NoError(t, e.SetClock(ctx, n.Node, cluster.ClockShift{Offset: 5 * time.Second, Rate: 2}))
	off, rate = readSpec(t, n)
	assert.InDelta(t, float64(-5*time.Second), float64(off), float64(200*time.Millisecond))
	assert.Equal(t, 2.0, rate)

	// A restart keeps the skew reached so far, measured from the new start.
	time.Sleep(300 * time.Millisecond)
	close(running.done)
	e.mu.Lock()
	_, err = e.clockEnvLocked(n, nil)
	e.mu.Unlock()
	require.NoError(t, err)
	off, rate = readSpec(t, n)
	assert.InDelta(t, float64(5300*time.Millisecond), float64(off), float64(200*time.Millisecond))
	assert.Equal(t, 2.0, rate)

	require.NoError(t, e.ResetClock(ctx, n.Node))
	off, rate = readSpec(t, n)
	assert.Equal(t, time.Duration(0), off)
	assert.Equal(t, 1.0, rate, "a reset writes the rate too: libfaketime keeps the last rate it read otherwise")

	assert.ErrorContains(t, e.SetClock(ctx, n.Node, cluster.ClockShift{Rate: -1}), "rate")
	assert.ErrorContains(t, e.SetClock(ctx, n.Node, cluster.ClockShift{Rate: math.NaN()}), "rate")
	assert.ErrorContains(t, e.SetClock(ctx, cluster.Node{Name: "n9"}, cluster.ClockShift{}), `no node "n9"`)
	entries, err := os.ReadDir(n.dir)
	require.NoError(t, err)
	for _, ent := range entries {
		assert.False(t, strings.HasPrefix(ent.Name(), ".faketime"), "temporary file %s left behind", ent.Name())
	}
}

// clockSkew measures how far node n's wall clock is ahead of real time. conn
// must be a session on n alone. It sends a request, then reads the time of
// the last response that cons reports for the session (lresp, stamped with
// the server's wall clock): the server answered between before and after,
// which bounds the skew.
func clockSkew(ctx context.Context, t *testing.T, conn *zk.Conn, n cluster.Node) (lo, hi time.Duration) {
	t.Helper()
	before := time.Now()
	_, _, err := conn.Exists("/")
	require.NoError(t, err, "exists through %s", n.Name)
	out, err := zkadmin.FourLetter(ctx, n.ClientAddr, "cons")
	require.NoError(t, err)
	after := time.Now()
	sid := fmt.Sprintf("sid=0x%x,", conn.SessionID())
	for line := range strings.Lines(out) {
		if !strings.Contains(line, sid) {
			continue
		}
		m := regexp.MustCompile(`lresp=(\d+)`).FindStringSubmatch(line)
		require.NotNil(t, m, "no lresp in %q", line)
		ms, err := strconv.ParseInt(m[1], 10, 64)
		require.NoError(t, err)
		server := time.UnixMilli(ms)
		// lresp is in whole milliseconds, rounded down.
		return server.Sub(after), server.Sub(before) + time.Millisecond
	}
	t.Fatalf("session %x not in cons of %s:\n%s", conn.SessionID(), n.Name, out)
	return 0, 0
}

// skewTolerance is how far a measured skew may be from the shift set: the
// measurement itself is exact to the round trip; this allows for a rate's
// start-up error.
const skewTolerance = 500 * time.Millisecond

// assertSkew checks that node n's clock is want ahead of real time.
func assertSkew(ctx context.Context, t *testing.T, conn *zk.Conn, n cluster.Node, want time.Duration, when string) {
	t.Helper()
	lo, hi := clockSkew(ctx, t, conn, n)
	t.Logf("%s: %s's clock is %v..%v ahead (want %v)", when, n.Name, lo, hi, want)
	assert.True(t, lo-skewTolerance <= want && want <= hi+skewTolerance,
		"%s: %s's clock is %v..%v ahead of real time, want %v", when, n.Name, lo, hi, want)
}

// writeSkew creates a znode through conn and returns how far its mtime,
// stamped by the leader that proposed the write, is from real time.
func writeSkew(t *testing.T, conn *zk.Conn, path string) (lo, hi time.Duration) {
	t.Helper()
	before := time.Now()
	_, err := conn.Create(path, nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err, "create %s", path)
	after := time.Now()
	_, st, err := conn.Get(path)
	require.NoError(t, err)
	mtime := time.UnixMilli(st.Mtime)
	return mtime.Sub(after), mtime.Sub(before) + time.Millisecond
}

// assertWriteSkew checks that a write is stamped want ahead of real time.
func assertWriteSkew(t *testing.T, conn *zk.Conn, path string, want time.Duration, when string) {
	t.Helper()
	lo, hi := writeSkew(t, conn, path)
	t.Logf("%s: mtime of %s is %v..%v ahead (want %v)", when, path, lo, hi, want)
	assert.True(t, lo-skewTolerance <= want && want <= hi+skewTolerance,
		"%s: mtime of %s is %v..%v ahead of real time, want %v", when, path, lo, hi, want)
}

func TestClockBumpIsSeenByTheNode(t *testing.T) {
	t.Parallel() // waits out timeouts; see waitTimeout
	e := startTestEnsemble(t, testClockConfig(t, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	require.NoError(t, e.Can(cluster.CapClock))

	leader, followers := splitByLeader(t, e)
	follower := followers[0]
	for name, pid := range e.PIDs() {
		maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
		require.NoError(t, err)
		assert.Contains(t, string(maps), "libfaketime", "%s runs without libfaketime", name)
	}
	fc, lc := connect(t, follower), connect(t, leader)
	assertSkew(ctx, t, fc, follower, 0, "before any shift")
	assertWriteSkew(t, fc, "/before", 0, "before any shift")

	// An hour on a follower shows at once in its own clock, and nowhere
	// else: the leader stamps writes, also those sent through the follower.
	require.NoError(t, e.SetClock(ctx, follower, cluster.ClockShift{Offset: time.Hour}))
	assertSkew(ctx, t, fc, follower, time.Hour, "follower +1h")
	assertSkew(ctx, t, lc, leader, 0, "follower +1h")
	assertWriteSkew(t, fc, "/through-shifted-follower", 0, "follower +1h")

	// A rate starts from the moment it is set, without a jump.
	setAt := time.Now()
	require.NoError(t, e.SetClock(ctx, follower, cluster.ClockShift{Rate: 2}))
	assertSkew(ctx, t, fc, follower, time.Since(setAt), "follower x2, at once")
	time.Sleep(3 * time.Second)
	assertSkew(ctx, t, fc, follower, time.Since(setAt), "follower x2, 3 s later")

	require.NoError(t, e.ResetClock(ctx, follower))
	assertSkew(ctx, t, fc, follower, 0, "follower reset")

	// A small bump of the leader (below the session timeout and
	// syncLimit*tickTime, so that nothing expires) shows in the mtime of the
	// next write, whichever node it goes through.
	require.NoError(t, e.SetClock(ctx, leader, cluster.ClockShift{Offset: 2 * time.Second}))
	assertSkew(ctx, t, lc, leader, 2*time.Second, "leader +2s")
	assertWriteSkew(t, fc, "/stamped-by-shifted-leader", 2*time.Second, "leader +2s")
	// Back to real time is a 2 s step back for the leader, shorter than
	// syncLimit*tickTime: its followers keep it.
	require.NoError(t, e.ResetClock(ctx, leader))
	assertWriteSkew(t, fc, "/stamped-by-reset-leader", 0, "leader reset")

	// A restarted node keeps its skew; libfaketime's leftovers of the killed
	// process are removed.
	require.NoError(t, e.SetClock(ctx, follower, cluster.ClockShift{Offset: time.Hour}))
	oldPID := e.PIDs()[follower.Name]
	shm := []string{fmt.Sprintf("/dev/shm/faketime_shm_%d", oldPID), fmt.Sprintf("/dev/shm/sem.faketime_sem_%d", oldPID)}
	for _, path := range shm {
		if _, err := os.Stat(path); err == nil {
			t.Logf("libfaketime holds %s while the node runs", path)
		}
	}
	require.NoError(t, e.Kill(ctx, follower))
	require.Eventually(t, func() bool {
		for _, path := range shm {
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "libfaketime's shared memory of the killed node is left in /dev/shm")
	require.NoError(t, e.Start(ctx, follower))
	_, err := e.WaitHealthy(ctx, waitTimeout)
	require.NoError(t, err)
	assertSkew(ctx, t, connect(t, follower), follower, time.Hour, "follower +1h, restarted")
}

// sessionEvents records a session's state changes as they happen.
type sessionEvents struct {
	mu      sync.Mutex
	since   time.Time
	log     []string
	expired bool
}

// watch consumes events until the channel closes.
func (s *sessionEvents) watch(events <-chan zk.Event) {
	for ev := range events {
		if ev.Type != zk.EventSession {
			continue
		}
		s.mu.Lock()
		s.log = append(s.log, fmt.Sprintf("%7.2fs %v", time.Since(s.since).Seconds(), ev.State))
		if ev.State == zk.StateExpired {
			s.expired = true
		}
		s.mu.Unlock()
	}
}

// snapshot returns what happened so far.
func (s *sessionEvents) snapshot() (log []string, expired bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...), s.expired
}

func TestClockJumpEffectOnSessions(t *testing.T) {
	t.Parallel() // waits out timeouts; see waitTimeout
	for _, role := range []cluster.Role{cluster.Follower, cluster.Leader} {
		t.Run(string(role), func(t *testing.T) {
			t.Parallel() // both spend their time waiting out session timeouts
			clockJumpEffectOnSessions(t, role)
		})
	}
}

// clockJumpEffectOnSessions jumps the clock of a node with the given role
// forward by far more than the timeout of a session on that node, and
// checks what must hold whatever ZooKeeper does about it.
func clockJumpEffectOnSessions(t *testing.T, role cluster.Role) {
	const (
		sessionTimeout = 2 * time.Second
		jump           = 30 * time.Second
	)
	e := startTestEnsemble(t, testClockConfig(t, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	leader, followers := splitByLeader(t, e)
	target, observer := followers[0], followers[1]
	if role == cluster.Leader {
		target = leader
	}

	events := &sessionEvents{since: time.Now()}
	conn, ch, err := zk.Connect([]string{target.ClientAddr}, sessionTimeout, zk.WithLogInfo(false),
		zk.WithLogger(quietLogger{}))
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	go events.watch(ch)
	path := "/ephemeral-on-" + target.Name
	require.Eventually(t, func() bool {
		_, err := conn.Create(path, nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
		return err == nil
	}, waitTimeout, 100*time.Millisecond, "no session with %s", target.Name)
	sid := conn.SessionID()
	obs := connect(t, observer)

	jumpedAt := time.Now()
	require.NoError(t, e.SetClock(ctx, target, cluster.ClockShift{Offset: jump}))
	roles := ""
	for time.Since(jumpedAt) < 4*sessionTimeout {
		if r := formatRoles(e.nodes, e.Roles(ctx)); r != roles {
			t.Logf("%7.2fs after the jump: %s", time.Since(jumpedAt).Seconds(), r)
			roles = r
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Whatever happened, the client ends up with a working session (after
	// an expiry the library opens a new one on its own).
	require.Eventually(t, func() bool {
		_, _, err := conn.Exists("/")
		return err == nil
	}, waitTimeout, 100*time.Millisecond, "the client of %s never works again", target.Name)
	log, expired := events.snapshot()
	for _, l := range log {
		t.Logf("session on %s: %s", target.Name, l)
	}
	// An ephemeral node vanishes when its session expires, and only then.
	_, err = obs.Sync("/")
	require.NoError(t, err)
	exists, _, err := obs.Exists(path)
	require.NoError(t, err)
	kept := !expired && conn.SessionID() == sid
	t.Logf("%s (%s) jumped %v ahead with a %v session on it: session kept: %v (id %x -> %x), ephemeral node still there: %v",
		target.Name, role, jump, sessionTimeout, kept, sid, conn.SessionID(), exists)
	assert.Equal(t, kept, exists, "the ephemeral node of session %x must exist exactly while the session does", sid)

	// Healing: back to real time, then a restart, because for a leader the
	// reset alone is a step back that wedges it for the size of the step.
	require.NoError(t, e.ResetClock(ctx, target))
	require.NoError(t, e.Kill(ctx, target))
	require.NoError(t, e.Start(ctx, target))
	took, err := e.WaitHealthy(ctx, 2*waitTimeout)
	require.NoError(t, err)
	t.Logf("healthy again %v after reset and restart of %s", took, target.Name)
}

func TestClockStepBackWedgesTheLeader(t *testing.T) {
	t.Parallel() // waits out timeouts; see waitTimeout
	const step = -12 * time.Second
	e := startTestEnsemble(t, testClockConfig(t, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	leader, survivors := splitByLeader(t, e)
	syncTimeout := time.Duration(e.cfg.SyncLimit) * e.cfg.TickTime
	lc := connect(t, leader)
	_, err := lc.Create("/value", []byte("old"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	steppedAt := time.Now()
	require.NoError(t, e.SetClock(ctx, leader, cluster.ClockShift{Offset: step}))
	// The leader's tick loop waits for its clock to catch up: no pings, so
	// its followers give up on it after syncLimit*tickTime. What they do
	// next is a race: they elect one of themselves, or they find the wedged
	// node still answering the election as leader and follow it again, only
	// to give up once more. Either way they leave it, again and again,
	// until its clock has caught up.
	var roles map[string]cluster.Role
	seen, left := "", false
	require.Eventually(t, func() bool {
		roles = srvrRoles(ctx, survivors)
		if r := fmt.Sprint(e.Roles(ctx)); r != seen {
			seen = r
			t.Logf("%v after the step: %s", time.Since(steppedAt).Round(time.Millisecond), r)
		}
		l, f := rolesCount(roles)
		if l+f < len(survivors) {
			left = true // a follower gave up on the wedged leader
		}
		return left && ((l == 1 && f == 1) || time.Since(steppedAt) > -step)
	}, 2*waitTimeout, 50*time.Millisecond, "the followers of a stepped-back leader never left it")
	// Meanwhile the wedged node still believes it leads, and serves its own
	// sessions from its stale state.
	old, err := zkadmin.Srvr(ctx, leader.ClientAddr)
	require.NoError(t, err)
	t.Logf("%s says %s %v after the step", leader.Name, old, time.Since(steppedAt))
	if time.Since(steppedAt) < -step {
		assert.Equal(t, cluster.Leader, old, "the stepped-back leader should still claim to lead")
	}
	if newLeader := cluster.LeaderOf(roles); newLeader != "" {
		t.Logf("%s stepped back %v; %s leads the others after %v (syncLimit*tickTime = %v)",
			leader.Name, step, newLeader, time.Since(steppedAt), syncTimeout)
		nc := connect(t, survivorNamed(survivors, newLeader))
		_, err = nc.Set("/value", []byte("new"), -1)
		require.NoError(t, err, "the new leader takes writes")
		if data, _, err := lc.Get("/value"); err == nil {
			t.Logf("a session on the wedged %s reads %q after the new leader wrote \"new\"", leader.Name, data)
		} else {
			t.Logf("a session on the wedged %s cannot read: %v", leader.Name, err)
		}
	} else {
		t.Logf("%s stepped back %v; its followers left it and came back to it until its clock caught up", leader.Name, step)
	}

	// Once its clock has caught up it finds no followers, steps down and
	// rejoins (its clock still 12 s behind).
	_, err = e.WaitHealthy(ctx, 2*waitTimeout-step)
	require.NoError(t, err)
	t.Logf("healthy again %v after the step; roles %s", time.Since(steppedAt), formatRoles(e.nodes, e.Roles(ctx)))
}

// survivorNamed returns the node called name.
func survivorNamed(nodes []cluster.Node, name string) cluster.Node {
	for _, n := range nodes {
		if n.Name == name {
			return n
		}
	}
	return cluster.Node{}
}
