package local

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster"
)

const srvrFollower = `Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC
Latency min/avg/max: 0/0.0/0
Received: 3
Sent: 2
Connections: 1
Outstanding: 0
Zxid: 0x100000000
Mode: follower
Node count: 5
`

func TestParseSrvr(t *testing.T) {
	for reply, want := range map[string]cluster.Role{
		srvrFollower: cluster.Follower,
		strings.Replace(srvrFollower, "Mode: follower", "Mode: leader", 1):     cluster.Leader,
		strings.Replace(srvrFollower, "Mode: follower", "Mode: standalone", 1): cluster.Down,
		strings.Replace(srvrFollower, "Mode: follower", "Mode: observer", 1):   cluster.Down,
		notServing + "\n": cluster.Down,
	} {
		got, err := parseSrvr(reply)
		require.NoError(t, err, reply)
		assert.Equal(t, want, got, reply)
	}
	for _, bad := range []string{"", "srvr is not executed because it is not in the whitelist.\n"} {
		got, err := parseSrvr(bad)
		assert.Error(t, err, bad)
		assert.Equal(t, cluster.Down, got)
	}
}

// fakeServer answers every connection with reply after reading four bytes,
// or never answers when reply is "".
func fakeServer(t *testing.T, reply string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4)
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				if reply == "" {
					_, _ = io.Copy(io.Discard, c) // hang until the client gives up
					return
				}
				_, _ = io.WriteString(c, reply)
			}()
		}
	}()
	return l.Addr().String()
}

func TestSrvrAgainstFakeServer(t *testing.T) {
	role, err := Srvr(context.Background(), fakeServer(t, srvrFollower))
	require.NoError(t, err)
	assert.Equal(t, cluster.Follower, role)

	role, err = Srvr(context.Background(), fakeServer(t, notServing+"\n"))
	require.NoError(t, err)
	assert.Equal(t, cluster.Down, role)
}

func TestFourLetterHonoursDeadlineAndCancel(t *testing.T) {
	addr := fakeServer(t, "") // accepts, never answers: like a paused server
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := FourLetter(ctx, addr, "srvr")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	role, err := Srvr(ctx, addr)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, cluster.Down, role)
}

func TestFourLetterNobodyListening(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	role, err := Srvr(context.Background(), addr)
	assert.Error(t, err)
	assert.Equal(t, cluster.Down, role)
	_, err = FourLetter(context.Background(), addr, "toolong")
	assert.ErrorContains(t, err, "four letters")
}

func TestFreePorts(t *testing.T) {
	ports, err := freePorts(15)
	require.NoError(t, err)
	require.Len(t, ports, 15)
	lo, _ := ephemeralRange()
	seen := map[int]bool{}
	for _, p := range ports {
		assert.False(t, seen[p], "port %d twice", p)
		seen[p] = true
		if lo-lowestPort >= 1000 {
			assert.True(t, p >= lowestPort && p < lo, "port %d outside [%d, %d)", p, lowestPort, lo)
		}
		l, err := net.Listen("tcp", net.JoinHostPort(loopback, strconv.Itoa(p)))
		require.NoError(t, err, "port %d is free", p)
		l.Close()
	}
}

func TestTailLines(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "log")
	var b strings.Builder
	for i := range 100 {
		b.WriteString("line " + strconv.Itoa(i) + "\n")
	}
	require.NoError(t, os.WriteFile(p, []byte(b.String()), 0o644))
	got := tailLines(p, 3)
	assert.Equal(t, "line 97\nline 98\nline 99", got)

	require.NoError(t, os.WriteFile(p, nil, 0o644))
	assert.Equal(t, "(empty log)", tailLines(p, 3))
	assert.Contains(t, tailLines(filepath.Join(dir, "missing"), 3), "cannot read")

	big := strings.Repeat(strings.Repeat("x", 1000)+"\n", 200) + "last\n"
	require.NoError(t, os.WriteFile(p, []byte(big), 0o644))
	lines := strings.Split(tailLines(p, 20), "\n")
	assert.Len(t, lines, 20)
	assert.Equal(t, "last", lines[19])
}
