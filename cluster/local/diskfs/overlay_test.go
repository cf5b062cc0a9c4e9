package diskfs

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOverlayMatchesAPlainFile applies random writes and truncations to an
// overlay over a backing file and to a plain file side by side: reads agree
// at every step, and after apply the backing file is the plain one.
func TestOverlayMatchesAPlainFile(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 1))
		dir := t.TempDir()
		initial := make([]byte, rng.IntN(200))
		for i := range initial {
			initial[i] = byte('A' + rng.IntN(26))
		}
		backing := filepath.Join(dir, "backing")
		require.NoError(t, os.WriteFile(backing, initial, 0o644))
		fd, err := syscall.Open(backing, syscall.O_RDWR, 0)
		require.NoError(t, err)
		want := append([]byte(nil), initial...)
		ov := newOverlay(int64(len(initial)))
		for range 30 {
			off := int64(rng.IntN(300))
			if rng.IntN(4) == 0 {
				ov.truncate(off)
				want = resize(want, off)
			} else {
				data := make([]byte, 1+rng.IntN(40))
				for i := range data {
					data[i] = byte('a' + rng.IntN(26))
				}
				ov.write(off, data)
				want = resize(want, max(int64(len(want)), off+int64(len(data))))
				copy(want[off:], data)
			}
			got := make([]byte, 400)
			n, err := ov.read(fd, int64(len(initial)), got, 0)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got[:n]), "seed %d", seed)
		}
		require.NoError(t, ov.apply(fd, int64(len(initial))))
		require.NoError(t, syscall.Close(fd))
		b, err := os.ReadFile(backing)
		require.NoError(t, err)
		require.Equal(t, string(want), string(b), "seed %d: apply", seed)
	}
}

// resize cuts b to n bytes or extends it with zeros.
func resize(b []byte, n int64) []byte {
	if n <= int64(len(b)) {
		return b[:n]
	}
	return append(b, make([]byte, n-int64(len(b)))...)
}
