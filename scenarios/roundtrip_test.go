package scenarios

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEveryScenarioFileRoundTrips loads every scenario file that loads
// (shipped, regressions, test data), renders it, parses the rendering and
// renders again: the resolved scenario, the backend's settings included,
// survives its own run directory's scenario.yaml.
func TestEveryScenarioFileRoundTrips(t *testing.T) {
	var loaded int
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		s, err := Load(path)
		if err != nil {
			return nil // test data of errors
		}
		loaded++
		first, err := s.Marshal()
		require.NoError(t, err, path)
		again, err := Parse(path+" (resolved)", "other", first)
		require.NoError(t, err, "%s resolved:\n%s", path, first)
		second, err := again.Marshal()
		require.NoError(t, err, path)
		assert.Equal(t, string(first), string(second), path)
		return nil
	})
	require.NoError(t, err)
	assert.Greater(t, loaded, 20, "the shipped scenarios are found")
}
