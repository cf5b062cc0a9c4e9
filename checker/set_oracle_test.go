package checker

import (
	"testing"

	"github.com/zkchaos/zkchaos/history/gen"
	"github.com/zkchaos/zkchaos/internal/oracle"
)

var setDifferential = sqDifferential{generate: gen.SetHistory, oracle: oracle.Set, checker: Set{}, anomalies: gen.SetAnomalies}

// TestSetAgreesWithOracle holds checker.Set to the brute-force oracle on
// small simulated histories, with and without planted anomalies.
func TestSetAgreesWithOracle(t *testing.T) { setDifferential.run(t) }

// FuzzSetOracle holds checker.Set to the oracle on histories
// the fuzzer shapes through the generator.
func FuzzSetOracle(f *testing.F) {
	f.Add([]byte("seed0000\x06\x02\x11\x03"))
	f.Fuzz(setDifferential.fuzz)
}
