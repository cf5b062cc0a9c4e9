package scenarios

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzLoad feeds arbitrary bytes to the scenario loader: it must never
// panic, every error it returns names the file and a line of it, and a
// scenario it accepts must load again from its resolved form, to the same
// resolved form (check loads the copy a run keeps).
func FuzzLoad(f *testing.F) {
	files, err := filepath.Glob("*.yaml")
	require.NoError(f, err)
	for _, pattern := range []string{"regressions/*.yaml", "testdata/*.yaml"} {
		more, err := filepath.Glob(pattern)
		require.NoError(f, err)
		files = append(files, more...)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(b)
	}
	for _, s := range []string{
		"", "---\n", "seed: 2\n---\nseed: 3\n", "a: &a [*a]\n", "name: \"\\e[31m\"\n", "\xef\xbb\xbf\xff",
		"workload:\n  rate: 1e-9\n", "nemesis:\n  interval: 2000000h\n", "cluster:\n  tick-time: 6s\n",
		"nemesis:\n  script:\n    - {bind: A, role: leader}\n    - kill: A\n      when: {node: A, log: [x]}\n      window: y\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", "fuzz", data)
		if err != nil {
			requireLinedErrors(t, "fuzz.yaml", data, err)
			return
		}
		b, err := s.Marshal()
		require.NoError(t, err)
		again, err := Parse("resolved.yaml", "other", b)
		require.NoError(t, err, "the resolved scenario does not load again:\n%s", b)
		twice, err := again.Marshal()
		require.NoError(t, err)
		assert.Equal(t, string(b), string(twice), "the resolved scenario changed on the way")
	})
}
