package set

import (
	"testing"

	"github.com/zkchaos/zkchaos/history/gen"
	"github.com/zkchaos/zkchaos/internal/checkertest"
	"github.com/zkchaos/zkchaos/internal/oracle"
)

var differential = checkertest.ElementDifferential{Generate: gen.SetHistory, Oracle: oracle.Set, Checker: Checker{}, Anomalies: gen.SetAnomalies}

// TestSetAgreesWithOracle holds the set checker to the brute-force oracle on
// small simulated histories, with and without planted anomalies.
func TestSetAgreesWithOracle(t *testing.T) { differential.Run(t) }

// FuzzSetOracle holds the set checker to the oracle on histories
// the fuzzer shapes through the generator.
func FuzzSetOracle(f *testing.F) {
	f.Add([]byte("seed0000\x06\x02\x11\x03"))
	f.Fuzz(differential.Fuzz)
}
