package linkproxy

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// conversation is a client's side of a handshake: what it sends, and what
// the proxy answered.
type conversation struct {
	io.Reader
	answer bytes.Buffer
}

// Write records the proxy's answer.
func (c *conversation) Write(p []byte) (int, error) { return c.answer.Write(p) }

func TestGreetingWithoutNoAuthIsRejected(t *testing.T) {
	c := &conversation{Reader: bytes.NewReader([]byte{5, 1, 2})} // username/password only
	assert.Error(t, greet(c))
	assert.Equal(t, []byte{5, 0xff}, c.answer.Bytes())

	c = &conversation{Reader: bytes.NewReader([]byte{5, 2, 2, 0})}
	require.NoError(t, greet(c))
	assert.Equal(t, []byte{5, 0}, c.answer.Bytes())

	c = &conversation{Reader: bytes.NewReader([]byte{4, 1, 0, 80, 127, 0, 0, 1, 0})} // SOCKS4
	assert.Error(t, greet(c))
	assert.Empty(t, c.answer.Bytes(), "no reply to another protocol")
}

func TestRequestAddressTypes(t *testing.T) {
	req := func(cmd, atyp byte, addr ...byte) []byte {
		b := append([]byte{5, cmd, 0, atyp}, addr...)
		return append(b, 0x1f, 0x90) // port 8080
	}
	mapped := netip.MustParseAddr("::ffff:127.0.0.2").As16()
	v6 := netip.MustParseAddr("2001:db8::1").As16()
	tests := []struct {
		name string
		in   []byte
		want string
		code byte // 0: accepted
	}{
		{"ipv4", req(1, 1, 127, 0, 0, 1), "127.0.0.1:8080", 0},
		{"ipv4 loopback net", req(1, 1, 127, 1, 2, 3), "127.1.2.3:8080", 0},
		{"ipv4 elsewhere", req(1, 1, 192, 0, 2, 1), "", repNotAllowed},
		{"ipv6 mapped loopback", req(1, 4, mapped[:]...), "127.0.0.2:8080", 0},
		{"ipv6 elsewhere", req(1, 4, v6[:]...), "", repNotAllowed},
		{"localhost", req(1, 3, append([]byte{9}, "localhost"...)...), "127.0.0.1:8080", 0},
		{"ip literal as a name", req(1, 3, append([]byte{9}, "127.0.0.5"...)...), "127.0.0.5:8080", 0},
		{"a name", req(1, 3, append([]byte{11}, "example.com"...)...), "", repNotAllowed},
		{"bind", req(2, 1, 127, 0, 0, 1), "", repCommandNotSupported},
		{"udp associate", req(3, 1, 127, 0, 0, 1), "", repCommandNotSupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readRequest(bytes.NewReader(tc.in))
			if tc.code == 0 {
				require.NoError(t, err)
				assert.Equal(t, tc.want, got.String())
				return
			}
			var ref *refusal
			require.True(t, errors.As(err, &ref), "want a refusal, got %v", err)
			assert.Equal(t, tc.code, ref.code)
		})
	}

	_, err := readRequest(bytes.NewReader([]byte{5, 1, 0, 9, 0, 0}))
	var ref *refusal
	require.True(t, errors.As(err, &ref))
	assert.Equal(t, byte(repAddrNotSupported), ref.code)

	_, err = readRequest(bytes.NewReader([]byte{5, 1, 0, 1, 127}))
	assert.Error(t, err, "a truncated request")
	assert.False(t, errors.As(err, &ref), "a truncated request gets no reply")
}

func TestReplyCarriesTheBoundAddress(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeReply(&b, repSucceeded, netip.MustParseAddrPort("127.0.0.1:4242")))
	assert.Equal(t, []byte{5, 0, 0, 1, 127, 0, 0, 1, 0x10, 0x92}, b.Bytes())
	b.Reset()
	require.NoError(t, writeReply(&b, repConnectionRefused, netip.AddrPort{}))
	assert.Equal(t, []byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0}, b.Bytes())
}
