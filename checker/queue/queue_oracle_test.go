package queue

import (
	"testing"

	"github.com/zkchaos/zkchaos/history/gen"
	"github.com/zkchaos/zkchaos/internal/checkertest"
	"github.com/zkchaos/zkchaos/internal/oracle"
)

var differential = checkertest.ElementDifferential{Generate: gen.QueueHistory, Oracle: oracle.Queue, Checker: Checker{}, Anomalies: gen.QueueAnomalies}

// TestQueueAgreesWithOracle holds the queue checker to the brute-force oracle
// on small simulated histories, with and without planted anomalies.
func TestQueueAgreesWithOracle(t *testing.T) { differential.Run(t) }

// FuzzQueueOracle holds the queue checker to the oracle on histories
// the fuzzer shapes through the generator.
func FuzzQueueOracle(f *testing.F) {
	f.Add([]byte("seed0000\x09\x03\x23\x02"))
	f.Fuzz(differential.Fuzz)
}
