// Package zkadmintest serves four-letter words for tests of the code that
// asks servers for them, without a ZooKeeper.
package zkadmintest

import (
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// Server serves four-letter words on loopback from replies (word to reply)
// until the test ends, and returns its address. A word without a reply gets
// none: its connection is held open until the client gives up, as a paused
// server holds it.
func Server(t testing.TB, replies map[string]string) string {
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
				word := make([]byte, 4)
				if _, err := io.ReadFull(c, word); err != nil {
					return
				}
				reply, ok := replies[string(word)]
				if !ok {
					_, _ = io.Copy(io.Discard, c) // hang until the client gives up
					return
				}
				_, _ = io.WriteString(c, reply)
			}()
		}
	}()
	return l.Addr().String()
}
