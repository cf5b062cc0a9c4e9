// Package cluster describes a ZooKeeper ensemble under test: its nodes, who
// leads, whether it is healthy, and which fault capabilities the backend
// offers. Backends live in sub-packages (cluster/local for real processes on
// this machine). A cluster does not know which workload runs on it.
package cluster

import (
	"context"
	"time"
)

// Node is one ZooKeeper server of the ensemble.
type Node struct {
	// ID is the server's myid, starting at 1.
	ID int `json:"id"`
	// Name is the short name used in histories and reports, e.g. "n1".
	Name string `json:"name"`
	// ClientAddr is host:port of the server's client port.
	ClientAddr string `json:"client_addr"`
}

// Role is what a server reports about itself through the srvr command.
type Role string

const (
	// Leader is the elected leader.
	Leader Role = "leader"
	// Follower is a voting follower in sync with the leader.
	Follower Role = "follower"
	// Down means the server is not running or not serving requests.
	Down Role = "down"
)

// Cluster is an ensemble the harness can observe.
type Cluster interface {
	// Nodes lists every server, in myid order.
	Nodes() []Node
	// Roles asks every server for its role; a server that does not answer,
	// or answers that it is not serving, is Down.
	Roles(ctx context.Context) map[string]Role
	// WaitHealthy waits until every server serves requests and exactly one
	// leader exists, or until timeout; it returns how long that took.
	WaitHealthy(ctx context.Context, timeout time.Duration) (time.Duration, error)
	// Close stops every server and releases what the cluster holds.
	Close(ctx context.Context) error
}

// Killer is a cluster whose servers can be killed and started again.
type Killer interface {
	Cluster
	// Kill stops the server at once (SIGKILL for local processes).
	Kill(ctx context.Context, node Node) error
	// Start starts a killed server again with its data intact.
	Start(ctx context.Context, node Node) error
	// Running reports whether the server's process is up.
	Running(node Node) bool
}

// LeaderOf returns the name of the single leader in roles, or "" when there
// is none or more than one.
func LeaderOf(roles map[string]Role) string {
	leader := ""
	for name, r := range roles {
		if r == Leader {
			if leader != "" {
				return ""
			}
			leader = name
		}
	}
	return leader
}
