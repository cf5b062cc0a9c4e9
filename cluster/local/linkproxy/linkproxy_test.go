package linkproxy_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/net/proxy"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/local/linkproxy"
)

// TestMain fails the package when any test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Timings of the tests: quiet is how long "nothing arrives" is watched,
// arrive how long something expected may take.
const (
	quiet  = 300 * time.Millisecond
	arrive = 5 * time.Second
)

// ensemble is a link table with one proxy and one TCP server per node: the
// stand-in for a ZooKeeper ensemble, on loopback.
type ensemble struct {
	t       *testing.T
	table   *linkproxy.Table
	proxies map[string]*linkproxy.Proxy
	servers map[string]*server
}

// server is a loopback TCP server that hands every accepted connection to
// the test.
type server struct {
	ln       net.Listener
	accepted chan net.Conn
	done     chan struct{}
}

// newServer listens on a free loopback port until the test ends.
func newServer(t *testing.T) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &server{ln: ln, accepted: make(chan net.Conn, 16), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted <- c
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-s.done
		close(s.accepted)
		for c := range s.accepted {
			_ = c.Close()
		}
	})
	return s
}

// addr returns the server's address.
func (s *server) addr() string { return s.ln.Addr().String() }

// accept returns the next connection the server accepted.
func (s *server) accept(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-s.accepted:
		t.Cleanup(func() { _ = c.Close() })
		return c
	case <-time.After(arrive):
		t.Fatalf("server %s accepted no connection within %v", s.addr(), arrive)
		return nil
	}
}

// acceptedNothing checks that the server accepted no connection.
func (s *server) acceptedNothing(t *testing.T) {
	t.Helper()
	select {
	case c := <-s.accepted:
		_ = c.Close()
		t.Errorf("server %s accepted a connection from %s", s.addr(), c.RemoteAddr())
	case <-time.After(quiet):
	}
}

// newEnsemble starts a proxy and a server per node; the test's cleanup
// closes them.
func newEnsemble(t *testing.T, nodes ...string) *ensemble {
	t.Helper()
	e := &ensemble{t: t, table: linkproxy.NewTable(), proxies: map[string]*linkproxy.Proxy{}, servers: map[string]*server{}}
	for _, n := range nodes {
		e.servers[n] = newServer(t)
		require.NoError(t, e.table.AddNode(n, e.servers[n].addr()))
	}
	for _, n := range nodes {
		p, err := e.table.Listen(context.Background(), n)
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, p.Close()) })
		e.proxies[n] = p
	}
	return e
}

// socks returns a SOCKS5 client of node from's proxy.
func (e *ensemble) socks(from string) proxy.Dialer {
	d, err := proxy.SOCKS5("tcp", e.proxies[from].Addr(), nil, &net.Dialer{Timeout: arrive})
	require.NoError(e.t, err)
	return d
}

// dial connects from one node to another's server through the proxy.
func (e *ensemble) dial(from, to string) (net.Conn, error) {
	c, err := e.socks(from).Dial("tcp", e.servers[to].addr())
	if err == nil {
		e.t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

// pair connects from one node to another and returns both ends: the client
// (from's side) and the server (to's side).
func (e *ensemble) pair(from, to string) (client, srv net.Conn) {
	e.t.Helper()
	c, err := e.dial(from, to)
	require.NoError(e.t, err, "dial %s -> %s", from, to)
	return c, e.servers[to].accept(e.t)
}

// send writes msg to w.
func send(t *testing.T, w net.Conn, msg string) {
	t.Helper()
	require.NoError(t, w.SetWriteDeadline(time.Now().Add(arrive)))
	_, err := w.Write([]byte(msg))
	require.NoError(t, err)
}

// receive reads exactly len(want) bytes from r and checks them.
func receive(t *testing.T, r net.Conn, want string) {
	t.Helper()
	require.NoError(t, r.SetReadDeadline(time.Now().Add(arrive)))
	got := make([]byte, len(want))
	_, err := io.ReadFull(r, got)
	require.NoError(t, err, "waiting for %q", want)
	assert.Equal(t, want, string(got))
}

// silent checks that nothing arrives on r for a while.
func silent(t *testing.T, r net.Conn) {
	t.Helper()
	require.NoError(t, r.SetReadDeadline(time.Now().Add(quiet)))
	b := make([]byte, 64)
	n, err := r.Read(b)
	assert.Zero(t, n, "received %q", b[:n])
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
}

// closedByPeer checks that r is closed (EOF or reset) promptly.
func closedByPeer(t *testing.T, r net.Conn) {
	t.Helper()
	require.NoError(t, r.SetReadDeadline(time.Now().Add(arrive)))
	_, err := io.ReadAll(r)
	if err != nil {
		assert.False(t, errors.Is(err, os.ErrDeadlineExceeded), "the connection was not closed: %v", err)
	}
}

func TestAllowedLinkRelaysBothWays(t *testing.T) {
	e := newEnsemble(t, "n1", "n2")
	c, s := e.pair("n1", "n2")
	send(t, c, "ping")
	receive(t, s, "ping")
	send(t, s, "pong")
	receive(t, c, "pong")

	// A large payload crosses in many chunks, intact.
	payload := make([]byte, 1<<20)
	_, _ = rand.Read(payload)
	go func() { _, _ = c.Write(payload) }()
	require.NoError(t, s.SetReadDeadline(time.Now().Add(arrive)))
	got := make([]byte, len(payload))
	_, err := io.ReadFull(s, got)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(payload, got), "payload corrupted")

	assert.Equal(t, 1, e.table.Connections()[linkproxy.Link{From: "n1", To: "n2"}])
	proxied, _ := e.table.Live()
	assert.Equal(t, 1, proxied)

	// Closing one side ends the relay.
	require.NoError(t, c.Close())
	closedByPeer(t, s)
	require.Eventually(t, func() bool { p, _ := e.table.Live(); return p == 0 }, arrive, 10*time.Millisecond)
}

func TestResetCutsExistingConnectionsAndRefusesNewOnes(t *testing.T) {
	e := newEnsemble(t, "n1", "n2", "n3")
	c12, s12 := e.pair("n1", "n2")
	c21, s21 := e.pair("n2", "n1")
	c13, s13 := e.pair("n1", "n3")

	// One way in the grudge; reset mode cuts both ways.
	require.NoError(t, e.table.Partition(cluster.Grudge{"n2": {"n1"}}, cluster.LinkReset))
	assert.Equal(t, cluster.LinkReset, e.table.Cut("n1", "n2"))
	assert.Equal(t, cluster.LinkReset, e.table.Cut("n2", "n1"))
	for _, conn := range []net.Conn{c12, s12, c21, s21} {
		closedByPeer(t, conn)
	}
	_, err := e.dial("n1", "n2")
	assert.ErrorContains(t, err, "connection refused")
	_, err = e.dial("n2", "n1")
	assert.ErrorContains(t, err, "connection refused")
	e.servers["n1"].acceptedNothing(t) // a refused link never reaches the destination
	e.servers["n2"].acceptedNothing(t)

	// Links outside the grudge are untouched.
	send(t, c13, "still")
	receive(t, s13, "still")

	e.table.Heal()
	c, s := e.pair("n1", "n2")
	send(t, c, "healed")
	receive(t, s, "healed")
}

func TestHangHoldsBytesAndDeliversThemAfterHeal(t *testing.T) {
	e := newEnsemble(t, "n1", "n2")
	c, s := e.pair("n1", "n2")
	require.NoError(t, e.table.Partition(cluster.Grudge{"n1": {"n2"}, "n2": {"n1"}}, cluster.LinkHang))
	send(t, c, "held ")
	send(t, c, "there")
	send(t, s, "held back")
	silent(t, s)
	silent(t, c)

	// A new connection on a hung link opens, but carries nothing.
	c2, err := e.dial("n1", "n2")
	require.NoError(t, err)
	s2 := e.servers["n2"].accept(t)
	send(t, c2, "new")
	silent(t, s2)

	e.table.Heal()
	receive(t, s, "held there")
	receive(t, c, "held back")
	receive(t, s2, "new")
	send(t, c, "after")
	receive(t, s, "after")
}

func TestOneWayHangBlocksOnlyOneDirection(t *testing.T) {
	e := newEnsemble(t, "n1", "n2")
	c, s := e.pair("n1", "n2")
	// n2 cannot hear n1: n1's bytes to n2 are held, n2's bytes to n1 flow.
	require.NoError(t, e.table.Partition(cluster.Grudge{"n2": {"n1"}}, cluster.LinkHang))
	assert.Equal(t, cluster.LinkHang, e.table.Cut("n1", "n2"))
	assert.Equal(t, cluster.LinkMode(""), e.table.Cut("n2", "n1"))
	send(t, c, "unheard")
	send(t, s, "heard")
	receive(t, c, "heard")
	silent(t, s)

	// The same holds for a connection that n2 opens.
	c2, s2 := e.pair("n2", "n1")
	send(t, c2, "n2 speaks")
	receive(t, s2, "n2 speaks")
	send(t, s2, "n1 answers")
	silent(t, c2)

	e.table.Heal()
	receive(t, s, "unheard")
	receive(t, c2, "n1 answers")
}

func TestResetAfterHangClosesHeldConnections(t *testing.T) {
	e := newEnsemble(t, "n1", "n2")
	c, s := e.pair("n1", "n2")
	require.NoError(t, e.table.Partition(cluster.Grudge{"n2": {"n1"}}, cluster.LinkHang))
	send(t, c, "held")
	silent(t, s)
	require.NoError(t, e.table.Partition(cluster.Grudge{"n2": {"n1"}}, cluster.LinkReset))
	closedByPeer(t, s)
	closedByPeer(t, c)
}

func TestDelayIsAddedInEachDirection(t *testing.T) {
	const delay = 100 * time.Millisecond
	e := newEnsemble(t, "n1", "n2", "n3")
	c, s := e.pair("n1", "n2")
	require.NoError(t, e.table.Shape(nil, cluster.LinkShape{Delay: delay, Jitter: 20 * time.Millisecond}))
	for range 3 {
		start := time.Now()
		send(t, c, "ping")
		receive(t, s, "ping")
		oneWay := time.Since(start)
		send(t, s, "pong")
		receive(t, c, "pong")
		roundTrip := time.Since(start)
		t.Logf("one way %v, round trip %v (delay %v each way)", oneWay, roundTrip, delay)
		assert.GreaterOrEqual(t, oneWay, delay)
		assert.GreaterOrEqual(t, roundTrip, 2*delay)
	}

	// Shaping one node's links replaces the earlier shaping: n1-n2 is
	// fast again, n1-n3 is slow both ways.
	require.NoError(t, e.table.Shape([]string{"n3"}, cluster.LinkShape{Delay: time.Hour}))
	send(t, c, "fast")
	receive(t, s, "fast")
	c3, s3 := e.pair("n1", "n3")
	send(t, c3, "slow")
	silent(t, s3)
	send(t, s3, "slow")
	silent(t, c3)
	e.table.Heal()
	receive(t, s3, "slow")
	receive(t, c3, "slow")
}

func TestLossOneResetsEveryConnection(t *testing.T) {
	e := newEnsemble(t, "n1", "n2", "n3")
	c, s := e.pair("n1", "n2")
	require.NoError(t, e.table.Shape([]string{"n2"}, cluster.LinkShape{Loss: 1}))

	_, err := e.dial("n1", "n2")
	assert.ErrorContains(t, err, "connection refused", "a new connection is lost")
	e.servers["n2"].acceptedNothing(t)

	send(t, c, "lost")
	closedByPeer(t, s)
	closedByPeer(t, c)

	// n1-n3 does not touch n2: it is not shaped.
	c3, s3 := e.pair("n1", "n3")
	send(t, c3, "fine")
	receive(t, s3, "fine")
}

func TestOnlyLoopbackDestinationsAreServed(t *testing.T) {
	e := newEnsemble(t, "n1", "n2")
	d := e.socks("n1")
	for _, addr := range []string{"192.0.2.1:80", "10.0.0.1:2181", "[2001:db8::1]:80", "[::1]:2181", "example.com:80"} {
		_, err := d.Dial("tcp", addr)
		assert.ErrorContains(t, err, "connection not allowed by ruleset", addr)
	}

	// An unknown loopback address is relayed untouched, even when every
	// link is cut.
	other := newServer(t)
	require.NoError(t, e.table.Partition(cluster.Grudge{"n1": {"n2"}, "n2": {"n1"}}, cluster.LinkReset))
	_, port, err := net.SplitHostPort(other.addr())
	require.NoError(t, err)
	c, err := d.Dial("tcp", "localhost:"+port)
	require.NoError(t, err)
	defer c.Close()
	s := other.accept(t)
	send(t, c, "hello")
	receive(t, s, "hello")
	assert.Equal(t, 1, e.table.Connections()[linkproxy.Link{From: "n1", To: ""}])
}

func TestClientDialerIsolation(t *testing.T) {
	e := newEnsemble(t, "n1", "n2")
	dial1, dial2 := e.table.Dialer("n1"), e.table.Dialer("n2")
	c1, err := dial1("tcp", e.servers["n1"].addr(), arrive)
	require.NoError(t, err)
	defer c1.Close()
	s1 := e.servers["n1"].accept(t)
	c2, err := dial2("tcp", e.servers["n2"].addr(), arrive)
	require.NoError(t, err)
	defer c2.Close()
	s2 := e.servers["n2"].accept(t)
	_, clients := e.table.Live()
	assert.Equal(t, 2, clients)

	require.NoError(t, e.table.IsolateClients([]string{"n1"}))
	closedByPeer(t, s1) // the server sees the reset
	_, err = c1.Write([]byte("x"))
	assert.Error(t, err, "the client's connection is closed")
	_, err = dial1("tcp", e.servers["n1"].addr(), arrive)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	e.servers["n1"].acceptedNothing(t)

	// Clients of other nodes are untouched.
	send(t, c2, "still")
	receive(t, s2, "still")

	e.table.Heal()
	c, err := dial1("tcp", e.servers["n1"].addr(), arrive)
	require.NoError(t, err)
	defer c.Close()
	s := e.servers["n1"].accept(t)
	send(t, c, "back")
	receive(t, s, "back")

	assert.Error(t, e.table.IsolateClients([]string{"n9"}))
}

func TestCloseEndsEveryConnection(t *testing.T) {
	srv := newServer(t)
	// Every goroutine the proxy starts ends within Close.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	table := linkproxy.NewTable()
	require.NoError(t, table.AddNode("n1"))
	require.NoError(t, table.AddNode("n2", srv.addr()))
	p, err := table.Listen(context.Background(), "n1")
	require.NoError(t, err)
	d, err := proxy.SOCKS5("tcp", p.Addr(), nil, &net.Dialer{Timeout: arrive})
	require.NoError(t, err)

	// An open connection, a hung one with bytes held, and one stuck in
	// the SOCKS handshake.
	open, err := d.Dial("tcp", srv.addr())
	require.NoError(t, err)
	defer open.Close()
	openSrv := srv.accept(t)
	hung, err := d.Dial("tcp", srv.addr())
	require.NoError(t, err)
	defer hung.Close()
	hungSrv := srv.accept(t)
	require.NoError(t, table.Partition(cluster.Grudge{"n2": {"n1"}}, cluster.LinkHang))
	send(t, hung, "held")
	silent(t, hungSrv)
	stuck, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer stuck.Close()

	require.NoError(t, p.Close())
	require.NoError(t, p.Close(), "a second Close is fine")
	for _, c := range []net.Conn{open, openSrv, hung, hungSrv, stuck} {
		closedByPeer(t, c)
	}
	proxied, _ := table.Live()
	assert.Zero(t, proxied)
	_, err = net.Dial("tcp", p.Addr())
	assert.Error(t, err, "the listener is closed")
}

func TestTableRejectsNonsense(t *testing.T) {
	table := linkproxy.NewTable()
	require.NoError(t, table.AddNode("n1", "127.0.0.1:2888", "127.0.0.1:3888"))
	require.NoError(t, table.AddNode("n2", "127.0.0.1:2889"))
	assert.Error(t, table.AddNode("n3", "127.0.0.1:2888"), "an address of n1")
	assert.Error(t, table.AddNode("n3", "10.0.0.1:2888"), "not loopback")
	assert.Error(t, table.AddNode("n3", "nonsense"))
	assert.Error(t, table.AddNode(""))

	assert.ErrorContains(t, table.Partition(cluster.Grudge{"n1": {"n9"}}, cluster.LinkReset), `no node "n9"`)
	assert.ErrorContains(t, table.Partition(cluster.Grudge{"n9": {"n1"}}, cluster.LinkReset), `no node "n9"`)
	assert.Error(t, table.Partition(cluster.Grudge{"n1": {"n2"}}, "drop"))
	assert.Error(t, table.Shape(nil, cluster.LinkShape{Loss: 1.5}))
	assert.Error(t, table.Shape(nil, cluster.LinkShape{Delay: -time.Second}))
	assert.Error(t, table.Shape([]string{"n9"}, cluster.LinkShape{Delay: time.Second}))
	_, err := table.Listen(context.Background(), "n9")
	assert.Error(t, err)

	// A node in its own grudge is ignored.
	require.NoError(t, table.Partition(cluster.Grudge{"n1": {"n1", "n2"}}, cluster.LinkHang))
	assert.Equal(t, cluster.LinkMode(""), table.Cut("n1", "n1"))
	assert.Equal(t, cluster.LinkHang, table.Cut("n2", "n1"))
	// A new grudge replaces the old one.
	require.NoError(t, table.Partition(cluster.Grudge{"n2": {"n1"}}, cluster.LinkHang))
	assert.Equal(t, cluster.LinkMode(""), table.Cut("n2", "n1"))
	assert.Equal(t, cluster.LinkHang, table.Cut("n1", "n2"))
}
