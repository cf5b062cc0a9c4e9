package local

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/zkadmin"
	"github.com/zkchaos/zkchaos/cluster/zkadmin/zkadmintest"
)

// Real-ensemble tests run one at a time: on two cores, concurrent JVM
// ensembles starve each other. Those that spend their time waiting out
// elections, session expiry or a clock catching up (t.Parallel) run two at a
// time once the others are done. Deadlines are generous and the assertions
// are about outcomes, not speed.

// waitTimeout bounds every wait for the ensemble to settle.
const waitTimeout = 60 * time.Second

// connect opens a ZooKeeper session to one node only.
func connect(t *testing.T, n cluster.Node) *zk.Conn {
	t.Helper()
	conn, events, err := zk.Connect([]string{n.ClientAddr}, 30*time.Second, zk.WithLogInfo(false),
		zk.WithLogger(quietLogger{}))
	require.NoError(t, err, "connect to %s", n.Name)
	t.Cleanup(conn.Close)
	deadline := time.After(waitTimeout)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return conn
			}
		case <-deadline:
			t.Fatalf("no session with %s (%s) after %v", n.Name, n.ClientAddr, waitTimeout)
		}
	}
}

// quietLogger silences the zk client's logging.
type quietLogger struct{}

// Printf discards the message.
func (quietLogger) Printf(string, ...any) {}

// rolesCount counts leaders and followers.
func rolesCount(roles map[string]cluster.Role) (leaders, followers int) {
	for _, r := range roles {
		switch r {
		case cluster.Leader:
			leaders++
		case cluster.Follower:
			followers++
		}
	}
	return leaders, followers
}

// assertOneLeader checks that e has n nodes, one leading and the others
// following, and returns the nodes and their roles.
func assertOneLeader(ctx context.Context, t *testing.T, e *Ensemble, n int) ([]cluster.Node, map[string]cluster.Role) {
	t.Helper()
	nodes := e.Nodes()
	require.Len(t, nodes, n)
	roles := e.Roles(ctx)
	leaders, followers := rolesCount(roles)
	assert.Equal(t, 1, leaders, "roles %v", roles)
	assert.Equal(t, n-1, followers, "roles %v", roles)
	return nodes, roles
}

// listenAddrs returns the local addresses of the TCP sockets in LISTEN state
// that process pid holds, each after its table's name ("tcp 127.0.0.1:2181").
func listenAddrs(t *testing.T, pid int) []string {
	t.Helper()
	var addrs []string
	for _, s := range sockets(t, pid, "0A") {
		addrs = append(addrs, s.table+" "+s.local)
	}
	return addrs
}

// socket is one TCP socket of a process, as /proc/PID/net lists it.
type socket struct {
	// table is "tcp" or "tcp6".
	table string
	// local and remote are the two ends' addresses, decoded.
	local, remote string
}

// sockets returns the TCP sockets that process pid holds in the given state
// ("0A" listening, "01" established).
func sockets(t *testing.T, pid int, state string) []socket {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	require.NoError(t, err)
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var out []socket
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			if len(fields) < 10 || fields[3] != state || !inodes[fields[9]] {
				continue
			}
			out = append(out, socket{table: table, local: decodeProcAddr(fields[1]), remote: decodeProcAddr(fields[2])})
		}
		f.Close()
	}
	return out
}

// decodeProcAddr turns /proc/net/tcp's "0100007F:1F90" into "127.0.0.1:8080"
// (IPv6 addresses are left in hex).
func decodeProcAddr(s string) string {
	host, port, ok := strings.Cut(s, ":")
	p, _ := strconv.ParseUint(port, 16, 16)
	if !ok || len(host) != 8 {
		return fmt.Sprintf("[%s]:%d", host, p)
	}
	v, _ := strconv.ParseUint(host, 16, 32)
	return fmt.Sprintf("%d.%d.%d.%d:%d", v&0xff, v>>8&0xff, v>>16&0xff, v>>24, p)
}

func TestEnsembleStartsHealthyWithOneLeader(t *testing.T) {
	e := startTestEnsemble(t, testConfig(t, 3))
	ctx := context.Background()

	nodes, roles := assertOneLeader(ctx, t, e, 3)
	assert.NotEmpty(t, cluster.LeaderOf(roles))

	pids := e.PIDs()
	require.Len(t, pids, 3)
	for i, n := range nodes {
		assert.Equal(t, i+1, n.ID)
		assert.Equal(t, "n"+strconv.Itoa(i+1), n.Name)
		assert.True(t, strings.HasPrefix(n.ClientAddr, "127.0.0.1:"), n.ClientAddr)
		assert.True(t, e.Running(n))
		// Every listening socket of the server is on loopback.
		addrs := listenAddrs(t, pids[n.Name])
		assert.NotEmpty(t, addrs, "%s listens nowhere?", n.Name)
		for _, a := range addrs {
			assert.True(t, strings.HasPrefix(a, "tcp 127.0.0.1:"), "%s listens on %s", n.Name, a)
		}
		// The node's files, and a log that the logging backend writes.
		dir := filepath.Join(e.cfg.Dir, "nodes", n.Name)
		myid, err := os.ReadFile(filepath.Join(dir, "data", "myid"))
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(n.ID), strings.TrimSpace(string(myid)))
		log, err := os.ReadFile(e.LogPath(n))
		require.NoError(t, err)
		assert.Contains(t, string(log), "=== zkchaos: node started ")
		assert.Contains(t, string(log), "Reading configuration from: "+filepath.Join(dir, "zoo.cfg"))
		assert.NotContains(t, string(log), "Processing srvr command", "four-letter words should not flood the log")
	}

	// Write and read a znode through every node.
	conns := make([]*zk.Conn, len(nodes))
	for i, n := range nodes {
		conns[i] = connect(t, n)
		path := "/hello-" + n.Name
		_, err := conns[i].Create(path, []byte(n.Name), 0, zk.WorldACL(zk.PermAll))
		require.NoError(t, err, "create %s through %s", path, n.Name)
		data, _, err := conns[i].Get(path)
		require.NoError(t, err)
		assert.Equal(t, n.Name, string(data))
	}
	// Every node ends up with every znode.
	for i, n := range nodes {
		_, err := conns[i].Sync("/")
		require.NoError(t, err)
		for _, m := range nodes {
			data, _, err := conns[i].Get("/hello-" + m.Name)
			require.NoError(t, err, "read /hello-%s through %s", m.Name, n.Name)
			assert.Equal(t, m.Name, string(data))
		}
	}

	// Four-letter words other than srvr work too.
	out, err := zkadmin.FourLetter(ctx, nodes[0].ClientAddr, "ruok")
	require.NoError(t, err)
	assert.Equal(t, "imok", out)
	out, err = zkadmin.FourLetter(ctx, nodes[0].ClientAddr, "mntr")
	require.NoError(t, err)
	assert.Contains(t, out, "zk_server_state")
}

func TestKilledLeaderIsReplacedAndRestartedNodeRejoins(t *testing.T) {
	e := startTestEnsemble(t, testConfig(t, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	leaderName := cluster.LeaderOf(e.Roles(ctx))
	require.NotEmpty(t, leaderName)
	var leader cluster.Node
	var survivors []cluster.Node
	for _, n := range e.Nodes() {
		if n.Name == leaderName {
			leader = n
		} else {
			survivors = append(survivors, n)
		}
	}
	oldPID := e.PIDs()[leaderName]

	require.NoError(t, e.Kill(ctx, leader))
	assert.False(t, e.Running(leader))
	assert.NotContains(t, e.PIDs(), leaderName)
	assert.ErrorIs(t, syscall.Kill(oldPID, 0), syscall.ESRCH, "the killed JVM is gone")
	require.NoError(t, e.Kill(ctx, leader), "killing a dead node does nothing")

	// The two survivors elect a new leader among themselves.
	killedAt := time.Now()
	var roles map[string]cluster.Role
	require.Eventually(t, func() bool {
		roles = e.Roles(ctx)
		l, f := rolesCount(roles)
		return l == 1 && f == 1 && roles[leaderName] == cluster.Down
	}, waitTimeout, 100*time.Millisecond, "no new leader among the survivors")
	t.Logf("killed leader %s; survivors serve again with a new leader after %v", leaderName, time.Since(killedAt))
	newLeader := cluster.LeaderOf(roles)
	assert.NotEqual(t, leaderName, newLeader)

	// The quorum takes writes while the old leader is down.
	conn := connect(t, survivors[0])
	_, err := conn.Create("/written-while-down", []byte("v"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	// The old leader restarts on its data and catches up.
	require.NoError(t, e.Start(ctx, leader))
	assert.True(t, e.Running(leader))
	require.NoError(t, e.Start(ctx, leader), "starting a running node does nothing")
	took, err := e.WaitHealthy(ctx, waitTimeout)
	require.NoError(t, err)
	t.Logf("restarted %s; ensemble healthy again after %v", leaderName, took)
	assert.NotEqual(t, oldPID, e.PIDs()[leaderName])

	rejoined := connect(t, leader)
	_, err = rejoined.Sync("/")
	require.NoError(t, err)
	data, _, err := rejoined.Get("/written-while-down")
	require.NoError(t, err)
	assert.Equal(t, "v", string(data))

	log, err := os.ReadFile(e.LogPath(leader))
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(string(log), "=== zkchaos: node started "), "the log is appended across restarts")

	// A kill whose wait is cut short (the run's time limit came while the
	// process was exiting) has still killed the node: it no longer counts
	// as running, so the heal that checks Running starts it again.
	victim := survivors[0]
	cut, cutNow := context.WithCancel(ctx)
	cutNow()
	err = e.Kill(cut, victim)
	if err != nil {
		assert.ErrorIs(t, err, context.Canceled)
	}
	assert.False(t, e.Running(victim), "a node being killed is not running")
	require.NoError(t, e.Start(ctx, victim), "start waits for the killed process, then starts the node")
	assert.True(t, e.Running(victim))
	_, err = e.WaitHealthy(ctx, waitTimeout)
	require.NoError(t, err)
}

func TestFiveNodeEnsemble(t *testing.T) {
	e := startTestEnsemble(t, testConfig(t, 5))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	nodes, roles := assertOneLeader(ctx, t, e, 5)

	// Two followers down: the other three still form a quorum.
	leaderName := cluster.LeaderOf(roles)
	var killed, alive []cluster.Node
	for _, n := range nodes {
		if n.Name != leaderName && len(killed) < 2 {
			killed = append(killed, n)
		} else {
			alive = append(alive, n)
		}
	}
	for _, n := range killed {
		require.NoError(t, e.Kill(ctx, n))
	}
	assert.Len(t, e.PIDs(), 3)
	conn := connect(t, alive[len(alive)-1])
	_, err := conn.Create("/five", []byte("ok"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err, "a write with 3 of 5 nodes up")

	for _, n := range killed {
		require.NoError(t, e.Start(ctx, n))
	}
	_, err = e.WaitHealthy(ctx, waitTimeout)
	require.NoError(t, err)
	c := connect(t, killed[0])
	_, err = c.Sync("/")
	require.NoError(t, err)
	data, _, err := c.Get("/five")
	require.NoError(t, err)
	assert.Equal(t, "ok", string(data))
}

func TestCloseLeavesNoProcess(t *testing.T) {
	e := startTestEnsemble(t, testConfig(t, 3))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pids := e.PIDs()
	require.Len(t, pids, 3)
	nodes := e.Nodes()

	// Close races with kills and starts; none of them may leave a JVM.
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { assert.NoError(t, e.Close(ctx)) })
		wg.Go(func() { assert.NoError(t, e.Kill(ctx, nodes[i])) })
		wg.Go(func() { _ = e.Start(ctx, nodes[i]) }) // fails once closed
	}
	wg.Wait()
	require.NoError(t, e.Close(ctx), "a second Close is fine")

	assert.Empty(t, e.PIDs())
	for _, n := range nodes {
		assert.False(t, e.Running(n))
		assert.Error(t, e.Start(ctx, n), "Start after Close")
	}
	for name, pid := range pids {
		assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "process of %s (pid %d) still exists", name, pid)
		assert.ErrorIs(t, syscall.Kill(-pid, 0), syscall.ESRCH, "process group of %s (pid %d) still exists", name, pid)
		_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
		assert.True(t, errors.Is(err, os.ErrNotExist), "/proc/%d exists", pid)
	}
	assert.Empty(t, processesMentioning(t, e.cfg.Dir), "processes started for this ensemble are still running")
	_, err := e.WaitHealthy(ctx, time.Second)
	assert.ErrorContains(t, err, "closed")
}

// processesMentioning lists the processes whose command line contains s.
func processesMentioning(t *testing.T, s string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var found []string
	for _, ent := range entries {
		if _, err := strconv.Atoi(ent.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), s) {
			found = append(found, ent.Name()+": "+truncate(strings.ReplaceAll(string(cmdline), "\x00", " "), 200))
		}
	}
	return found
}

func TestStartFailureNamesTheNodeAndQuotesItsLog(t *testing.T) {
	cfg := testConfig(t, 3)
	cfg.JVMFlags = []string{"-XX:+ZkchaosNoSuchOption"}
	cfg.StartTimeout = waitTimeout
	start := time.Now()
	e, err := Start(context.Background(), cfg)
	require.Error(t, err)
	assert.Nil(t, e)
	assert.Less(t, time.Since(start), waitTimeout, "a crashed node fails the start at once, not at the deadline")
	msg := err.Error()
	assert.Contains(t, msg, "node n")
	assert.Contains(t, msg, "exited on its own")
	assert.Contains(t, msg, "Unrecognized VM option 'ZkchaosNoSuchOption'", "the log tail is quoted")
	assert.Contains(t, msg, filepath.Join(cfg.Dir, "nodes"))
}

func TestStartRefusesUsedRunDirectory(t *testing.T) {
	cfg := Config{Dir: t.TempDir()}
	require.NoError(t, os.MkdirAll(filepath.Join(cfg.Dir, "nodes", "n1"), 0o755))
	_, err := Start(context.Background(), cfg)
	assert.ErrorContains(t, err, "fresh run directory")
}

func TestMissingDistributionSaysWhatToInstall(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-zookeeper")
	_, err := FindDistribution(context.Background(), missing)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), missing)
	assert.Contains(t, err.Error(), `apt-get install -y zookeeper openjdk-17-jre-headless liblog4j1.2-java libslf4j-java`)
	assert.Contains(t, err.Error(), "Apache ZooKeeper release directory")

	// Start says the same before touching anything.
	dir := t.TempDir()
	_, err = Start(context.Background(), Config{Dir: dir, Distribution: missing})
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), "apt-get install")
	entries, rerr := os.ReadDir(dir)
	require.NoError(t, rerr)
	assert.Empty(t, entries)
}

// BenchmarkStart measures how long ensembles take to become healthy:
// go test -run '^$' -bench Start -benchtime 5x ./cluster/local/
func BenchmarkStart(b *testing.B) {
	for _, size := range []int{3, 5} {
		b.Run(fmt.Sprintf("nodes=%d", size), func(b *testing.B) {
			for b.Loop() {
				cfg := testConfig(b, size)
				cfg.Logger = nil
				e, err := Start(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				if err := e.Close(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// requireApt skips a test that fetches Debian packages where apt is missing
// (it fails instead under CI, which runs on Debian).
func requireApt(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("apt-get"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip("fetching a Debian package needs apt-get:", err)
	}
}

// classpathOf returns the -cp argument of a running process.
func classpathOf(t *testing.T, pid int) string {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	require.NoError(t, err)
	args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	i := slices.Index(args, "-cp")
	require.True(t, i >= 0 && i+1 < len(args), "no -cp in %q", args)
	return args[i+1]
}

// assertRuns checks that node n's running server is distribution d: its
// command line names d's classpath, and its class-loading log (from
// -Xlog:class+load, since its latest start) shows the server and the jute
// serialization classes loaded from d's jars.
func assertRuns(t *testing.T, e *Ensemble, n cluster.Node, d Distribution) {
	t.Helper()
	pid := e.PIDs()[n.Name]
	require.NotZero(t, pid, "%s runs", n.Name)
	assert.Equal(t, strings.Join(d.Classpath, ":"), classpathOf(t, pid), n.Name)
	log, err := os.ReadFile(e.LogPath(n))
	require.NoError(t, err)
	latest := string(log[strings.LastIndex(string(log), "=== zkchaos: node started"):])
	for class, jar := range map[string]string{
		"org.apache.zookeeper.server.quorum.QuorumPeerMain": "zookeeper.jar",
		"org.apache.zookeeper.server.quorum.QuorumPacket":   "zookeeper-jute.jar",
		"org.apache.jute.BinaryOutputArchive":               "zookeeper-jute.jar",
	} {
		// The JVM names a jar by its real path: Debian 13's jars are links
		// to versioned files (zookeeper.jar -> zookeeper-3.9.3.jar).
		path, err := filepath.EvalSymlinks(filepath.Join(d.Dir, jar))
		require.NoError(t, err)
		assert.Contains(t, latest, class+" source: file:"+path, "%s loads %s from %s", n.Name, class, d.Dir)
	}
}

// serverVersion returns the "Zookeeper version:" line of a server's srvr
// reply: the version and build date compiled into the jar it runs.
func serverVersion(t *testing.T, n cluster.Node) string {
	t.Helper()
	reply, err := zkadmin.FourLetter(context.Background(), n.ClientAddr, "srvr")
	require.NoError(t, err)
	first, _, _ := strings.Cut(reply, "\n")
	require.True(t, strings.HasPrefix(first, "Zookeeper version:"), "srvr reply %q", reply)
	return first
}

// sha256File returns the hex SHA-256 of a file.
func sha256File(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// TestFetchedDebianVersionRunsAndNodesRestartOnAnother fetches Debian's
// 3.8.0-11+deb12u1 into an empty cache, starts an ensemble from it, then
// restarts every node, followers first, on Debian 13's 3.9.3-1+deb13u1 (a
// version of another suite, fetched through a private apt state of it, run
// on the installed Debian 12 libraries), and checks from the outside that
// each server really runs the jars asked for and kept its data.
func TestFetchedDebianVersionRunsAndNodesRestartOnAnother(t *testing.T) {
	testDistribution(t)
	requireApt(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const from, to = "debian=3.8.0-11+deb12u1", "debian=3.9.3-1+deb13u1"

	started := time.Now()
	a, err := FindDistribution(ctx, from)
	require.NoError(t, err)
	t.Logf("%s fetched in %v into %s", from, time.Since(started).Round(time.Millisecond), a.Dir)
	started = time.Now()
	cached, err := FindDistribution(ctx, from)
	require.NoError(t, err)
	t.Logf("%s resolved from the cache in %v", from, time.Since(started))
	assert.Equal(t, a, cached)
	b, err := FindDistribution(ctx, to)
	require.NoError(t, err)
	cache, err := CacheDir()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(cache, "debian", "3.8.0-11+deb12u1", "usr", "share", "java"), a.Dir)
	assert.Equal(t, "debian 3.8.0-11+deb12u1", a.Name())
	assert.Equal(t, "debian 3.9.3-1+deb13u1", b.Name())
	assert.NotEqual(t, sha256File(t, filepath.Join(a.Dir, "zookeeper.jar")), sha256File(t, filepath.Join(b.Dir, "zookeeper.jar")),
		"the two builds differ")

	cfg := testConfig(t, 3)
	cfg.Distribution = from
	cfg.JVMFlags = append(DefaultJVMFlags(), "-Xlog:class+load=info")
	e := startTestEnsemble(t, cfg)
	before := map[string]string{}
	for _, n := range e.Nodes() {
		assert.Equal(t, a.Name(), e.Version(n))
		assertRuns(t, e, n, a)
		before[n.Name] = serverVersion(t, n)
	}
	conn := connect(t, e.Nodes()[0])
	_, err = conn.Create("/upgrade", []byte("written on A"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	var order []cluster.Node
	leader := cluster.LeaderOf(e.Roles(ctx))
	require.NotEmpty(t, leader)
	for _, n := range e.Nodes() {
		if n.Name != leader {
			order = append(order, n)
		}
	}
	for _, n := range e.Nodes() {
		if n.Name == leader {
			order = append(order, n)
		}
	}
	for _, n := range order {
		started := time.Now()
		require.NoError(t, e.Restart(ctx, n, to))
		t.Logf("%s (leader %v) restarted on %s and in sync after %v", n.Name, n.Name == leader, to,
			time.Since(started).Round(time.Millisecond))
		assert.Equal(t, b.Name(), e.Version(n))
		assertRuns(t, e, n, b)
		after := serverVersion(t, n)
		assert.NotEqual(t, before[n.Name], after, "srvr reports the new build")
		assert.Contains(t, after, "3.9.3", "srvr reports the new version")
		t.Logf("%s: %q -> %q", n.Name, before[n.Name], after)
		state, synced := syncState(ctx, n.ClientAddr)
		assert.True(t, synced, "%s: %s", n.Name, state)
		mntr, err := zkadmin.FourLetter(ctx, n.ClientAddr, "mntr")
		require.NoError(t, err)
		peer, ok := zkadmin.MntrValue(mntr, "zk_peer_state")
		assert.True(t, ok, "3.9 reports zk_peer_state")
		assert.Contains(t, []string{leadingBroadcast, followingBroadcast}, peer)
	}
	_, err = e.WaitHealthy(ctx, waitTimeout)
	require.NoError(t, err)
	for _, n := range e.Nodes() {
		c := connect(t, n)
		_, err := c.Sync("/upgrade")
		require.NoError(t, err)
		data, _, err := c.Get("/upgrade")
		require.NoError(t, err, n.Name)
		assert.Equal(t, "written on A", string(data), "%s kept its data", n.Name)
	}
}

func TestRestartOnAnUnknownDistributionLeavesTheNodeAlone(t *testing.T) {
	e := startTestEnsemble(t, testConfig(t, 3))
	n := e.Nodes()[1]
	pid := e.PIDs()[n.Name]
	version := e.Version(n)
	missing := filepath.Join(t.TempDir(), "no-such-zookeeper")
	err := e.Restart(context.Background(), n, missing)
	require.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), "restart n2 on "+missing)
	assert.Equal(t, pid, e.PIDs()[n.Name], "the server was not touched")
	assert.Equal(t, version, e.Version(n))
}

func TestSyncStateWantsServingAndBroadcast(t *testing.T) {
	ctx := context.Background()
	mntr := func(state string) string {
		return "zk_version\t3.8.0\nzk_server_state\tfollower\nzk_peer_state\t" + state + "\nzk_znode_count\t5\n"
	}
	const srvrFollower = "Zookeeper version: 3.8.0\nZxid: 0x100000000\nMode: follower\nNode count: 5\n"
	state, synced := syncState(ctx, zkadmintest.Server(t, map[string]string{"srvr": srvrFollower, "mntr": mntr(followingBroadcast)}))
	assert.True(t, synced, state)

	state, synced = syncState(ctx, zkadmintest.Server(t, map[string]string{"srvr": srvrFollower, "mntr": mntr("following - synchronization")}))
	assert.False(t, synced)
	assert.Equal(t, `follower, zk_peer_state "following - synchronization"`, state)

	state, synced = syncState(ctx, zkadmintest.Server(t, map[string]string{"srvr": zkadmin.NotServing + "\n", "mntr": mntr(followingBroadcast)}))
	assert.False(t, synced)
	assert.Equal(t, "not serving", state)

	// A server too old to report zk_peer_state is in sync once it serves.
	state, synced = syncState(ctx, zkadmintest.Server(t, map[string]string{"srvr": srvrFollower, "mntr": "zk_version\t3.5.9\n"}))
	assert.True(t, synced, state)
}
