package checker

import (
	"testing"

	"github.com/zkchaos/zkchaos/history/gen"
	"github.com/zkchaos/zkchaos/internal/oracle"
)

var queueDifferential = sqDifferential{generate: gen.QueueHistory, oracle: oracle.Queue, checker: Queue{}, anomalies: gen.QueueAnomalies}

// TestQueueAgreesWithOracle holds checker.Queue to the brute-force oracle
// on small simulated histories, with and without planted anomalies.
func TestQueueAgreesWithOracle(t *testing.T) { queueDifferential.run(t) }

// FuzzQueueOracle holds checker.Queue to the oracle on histories
// the fuzzer shapes through the generator.
func FuzzQueueOracle(f *testing.F) {
	f.Add([]byte("seed0000\x09\x03\x23\x02"))
	f.Fuzz(queueDifferential.fuzz)
}
