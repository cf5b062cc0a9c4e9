package zkadmin

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/zkadmin/zkadmintest"
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
		strings.Replace(srvrFollower, "Mode: follower", "Mode: observer", 1):   cluster.Observer,
		NotServing + "\n": cluster.Down,
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

func TestSrvrAgainstFakeServer(t *testing.T) {
	role, err := Srvr(context.Background(), zkadmintest.Server(t, map[string]string{"srvr": srvrFollower}))
	require.NoError(t, err)
	assert.Equal(t, cluster.Follower, role)

	role, err = Srvr(context.Background(), zkadmintest.Server(t, map[string]string{"srvr": NotServing + "\n"}))
	require.NoError(t, err)
	assert.Equal(t, cluster.Down, role)
}

func TestSrvrVersionReadsTheVersionLine(t *testing.T) {
	v, err := SrvrVersion(context.Background(), zkadmintest.Server(t, map[string]string{"srvr": srvrFollower}))
	require.NoError(t, err)
	assert.Equal(t, "3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC", v)

	_, err = SrvrVersion(context.Background(), zkadmintest.Server(t, map[string]string{"srvr": NotServing + "\n"}))
	assert.ErrorContains(t, err, "no version line")
}

func TestFourLetterHonoursDeadlineAndCancel(t *testing.T) {
	addr := zkadmintest.Server(t, nil) // accepts, never answers: like a paused server
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

func TestMntrValue(t *testing.T) {
	reply := "zk_version\t3.8.0\r\nzk_peer_state\tfollowing - broadcast\nzk_digest_mismatches_count\t0\n"
	v, ok := MntrValue(reply, "zk_peer_state")
	assert.True(t, ok)
	assert.Equal(t, "following - broadcast", v)
	v, ok = MntrValue(reply, "zk_version")
	assert.True(t, ok)
	assert.Equal(t, "3.8.0", v, "a CRLF line ending is not part of the value")
	_, ok = MntrValue(reply, "zk_missing")
	assert.False(t, ok)
}
