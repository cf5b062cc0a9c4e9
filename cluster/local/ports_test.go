package local

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
