package sequential

import (
	"errors"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOwnersAgreeWithAMapThroughTheFile(t *testing.T) {
	files := 0
	w := newOwners(func() (*os.File, error) {
		files++
		return os.CreateTemp(t.TempDir(), "owners-")
	})
	t.Cleanup(func() {
		if w.file != nil {
			w.file.Close()
		}
	})
	want := map[int64]uint32{}
	rng := rand.New(rand.NewPCG(1, 2))
	var next int64 = 1 << 32 // epoch 1
	for i := range 400_000 {
		var z int64
		switch r := rng.IntN(10); {
		case r < 6: // a new transaction
			next += 1 + rng.Int64N(3)
			z = next
		case r < 9: // an old one, perhaps long gone from memory
			z = 1<<32 + rng.Int64N(next-1<<32+1)
		default: // another epoch's, or a zxid no server gives
			z = rng.Int64N(1<<40) - 1<<39
		}
		if i == 200_000 {
			next = 2<<32 + 1 // a new epoch
		}
		key := uint32(1 + rng.IntN(50))
		got, err := w.claim(z, key)
		require.NoError(t, err)
		if _, ok := want[z]; !ok {
			want[z] = key
		}
		require.Equal(t, want[z], got, "zxid %#x", z)
	}
	assert.Equal(t, 1, files, "one file for the pages out of memory")
	assert.LessOrEqual(t, len(w.held), ownerPagesHeld)
	assert.Greater(t, len(w.placed), ownerPagesHeld, "pages went to the file and came back")
}

func TestOwnersSayWhenTheFileFails(t *testing.T) {
	w := newOwners(func() (*os.File, error) { return nil, errors.New("disk full") })
	var err error
	for z := int64(1); z < 2*ownerPagesHeld*ownerPageLen && err == nil; z += ownerPageLen {
		_, err = w.claim(z, 1)
	}
	require.ErrorContains(t, err, "disk full")
}
