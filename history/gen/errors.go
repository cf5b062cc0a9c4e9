package gen

// The texts of the client errors the generated histories record, as the
// workloads record go-zookeeper's errors.
const (
	errClosed   = "zk: connection closed"
	errNoServer = "zk: could not connect to a server"
	errTimeout  = "operation timed out"
	errConflict = "zk: version conflict"
	errExpired  = "zk: session has been expired by the server"
)
