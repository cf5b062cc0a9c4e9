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
