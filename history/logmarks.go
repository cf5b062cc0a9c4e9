package history

// Lines the harness writes into a server's log, between the server's own
// output, so that whoever reads the log later knows what the harness did to
// the node. Every one begins with LogMarkPrefix.
const (
	// LogMarkPrefix begins every line of the harness's own.
	LogMarkPrefix = "=== zkchaos: "
	// LogMarkStarted begins the line before each run's output.
	LogMarkStarted = LogMarkPrefix + "node started"
	// LogMarkDamaged begins the line written when the harness corrupted the
	// node's data while it was down; the runs after it start on damaged data.
	LogMarkDamaged = LogMarkPrefix + "data damaged"
	// LogMarkRefused begins the line written after a run that refused the
	// damaged data with one of ZooKeeper's integrity errors (a bad magic
	// number, a failed checksum, no valid snapshot), which the harness
	// checked before writing it; the node's data directory was then wiped,
	// as a replaced disk would be.
	LogMarkRefused = LogMarkPrefix + "node refused its damaged data"
)
