// Package cluster describes a ZooKeeper ensemble under test: its nodes, who
// leads, whether it is healthy, and which fault capabilities the backend
// offers. Backends live in sub-packages (cluster/local for real processes on
// this machine). A cluster does not know which workload runs on it.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
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
	// Observer is a non-voting member that serves clients (dynamic
	// reconfiguration turned it from a voter into an observer).
	Observer Role = "observer"
	// Removed is a server that runs but is no longer in the ensemble's
	// configuration (dynamic reconfiguration removed it).
	Removed Role = "removed"
	// Joining is a server started to join the ensemble by a dynamic
	// reconfiguration that is not yet in the configuration last read.
	Joining Role = "joining"
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
	// Can says why the cluster cannot do what the capability names in its
	// current setting (a component it needs is missing, or it was started
	// without the means to), or nil. It need not say whether the cluster
	// has the capability's methods: Check does.
	Can(need Capability) error
}

// Killer is a cluster whose servers can be killed and started again.
type Killer interface {
	Cluster
	// Kill stops the server at once (SIGKILL for local processes).
	Kill(ctx context.Context, node Node) error
	// Start starts a killed server again with its data intact.
	Start(ctx context.Context, node Node) error
	// Running reports whether the server's process is up and not being
	// killed; a node that is not running can be started.
	Running(node Node) bool
}

// Disker is a cluster whose servers' disks can lose what was written and
// not synced (fsync), as at a power cut.
type Disker interface {
	Killer
	// PowerLoss kills the server at once, then drops every write its disk
	// had not synced; Start starts it again on what was durable.
	PowerLoss(ctx context.Context, node Node) error
	// SetDiskFaults switches the faults the server's disk injects to f,
	// replacing earlier ones; the zero DiskFaults clears them.
	SetDiskFaults(ctx context.Context, node Node, f DiskFaults) error
}

// DiskFaults are the faults a server's disk injects while they are set.
// The zero value injects none.
type DiskFaults struct {
	// FsyncDelay delays every fsync, FsyncJitter adds a uniformly random
	// extra delay up to it.
	FsyncDelay, FsyncJitter time.Duration
	// WriteDelay delays every write, WriteJitter adds a uniformly random
	// extra delay up to it.
	WriteDelay, WriteJitter time.Duration
	// WriteErrors and FsyncErrors are the shares, in [0, 1], of writes and
	// fsyncs that fail with EIO.
	WriteErrors, FsyncErrors float64
	// Full makes writes fail with ENOSPC once FreeBytes more bytes have
	// been written since the faults were set (at once when it is 0).
	Full bool
	// FreeBytes is how many bytes a full disk still takes (Full).
	FreeBytes int64
}

// Wiper is a cluster whose servers' data can be lost whole, as when a
// machine's disk is replaced.
type Wiper interface {
	Killer
	// Wipe kills the server if it runs, then removes everything in its
	// data directory but its identity (myid), as provisioning a new disk
	// would; Start starts it again on the empty directory.
	Wipe(ctx context.Context, node Node) error
	// Corrupt kills the server if it runs, then flips the bits of a region
	// of its newest file of one kind, and says which file and bytes; Start
	// starts it again on the damaged file.
	Corrupt(ctx context.Context, node Node, damage Damage) (string, error)
}

// Damage is what Corrupt flips: a region of a server's newest transaction
// log or snapshot.
type Damage struct {
	// File is DamageLog or DamageSnapshot.
	File string
	// Region is DamageHeader, DamageMiddle or DamageTail.
	Region string
}

// Files and regions Corrupt damages.
const (
	// DamageLog is the newest transaction log (version-2/log.*).
	DamageLog = "log"
	// DamageSnapshot is the newest snapshot (version-2/snapshot.*).
	DamageSnapshot = "snapshot"
	// DamageHeader is the file's first bytes: its magic, version and dbid.
	DamageHeader = "header"
	// DamageMiddle is the middle of what the file holds.
	DamageMiddle = "middle"
	// DamageTail is the end of what the file holds: a log's last
	// transaction (not the zeros the log is preallocated with), a
	// snapshot's checksum.
	DamageTail = "tail"
)

// Upgrader is a cluster whose servers can each be restarted on another
// ZooKeeper distribution, keeping their data: what a rolling upgrade or
// rollback does, one node at a time. Distributions are named as in a
// scenario's cluster.distribution (see CheckDistributionName).
type Upgrader interface {
	Killer
	// Describe resolves a distribution name, fetching the distribution if
	// need be, and returns its label for records and reports, e.g.
	// "debian 3.8.0-11+deb12u2"; the error says why no server could run it.
	Describe(ctx context.Context, distribution string) (string, error)
	// Restart stops the server and starts it again on the named
	// distribution, with its data and configuration, then waits until it
	// serves again in sync with the leader. The server keeps that
	// distribution for later starts, also when Restart fails.
	Restart(ctx context.Context, node Node, distribution string) error
	// Version labels the distribution the server runs (or will run at its
	// next start), in Describe's format.
	Version(node Node) string
}

// DebianPrefix begins a distribution name that asks for one version of
// Debian's ZooKeeper package, e.g. "debian=3.8.0-11+deb12u2".
const DebianPrefix = "debian="

// debianVersionRE matches a Debian package version (an optional numeric
// epoch, then a digit, then letters, digits and . + ~ -: Debian Policy
// 5.6.12), and an optional @SUITE naming the Debian suite that has it.
var debianVersionRE = regexp.MustCompile(`^([0-9]+:)?[0-9][A-Za-z0-9.+~-]*(@[a-z][a-z0-9-]*)?$`)

// DebianVersion returns VERSION of a "debian=VERSION" distribution name; ok
// is false for any other name.
func DebianVersion(name string) (version string, ok bool) {
	return strings.CutPrefix(name, DebianPrefix)
}

// CheckDistributionName checks the syntax of a distribution name without
// looking at the disk or at a package archive: "debian" (the installed
// Debian package), "debian=VERSION" with a Debian package version, or the
// path of an unpacked ZooKeeper release.
func CheckDistributionName(name string) error {
	if name == "" {
		return errors.New(`the distribution is empty: want "debian", "debian=VERSION" or the path of an unpacked ZooKeeper release`)
	}
	if v, ok := DebianVersion(name); ok && !debianVersionRE.MatchString(v) {
		return fmt.Errorf("%q: VERSION must be a Debian package version (a digit, then letters, digits and . + ~ -, "+
			"with an optional epoch N: in front, and an optional @SUITE after), e.g. debian=3.8.0-11+deb12u2 "+
			"or debian=3.9.3-1@trixie", name)
	}
	return nil
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

// Pauser is a cluster whose servers can be frozen and thawed (SIGSTOP and
// SIGCONT for local processes).
type Pauser interface {
	Cluster
	// Pause freezes the server: it keeps its sockets but answers nothing.
	Pause(ctx context.Context, node Node) error
	// Resume thaws a paused server.
	Resume(ctx context.Context, node Node) error
	// Paused reports whether the server was paused by Pause and not
	// resumed (or killed) since.
	Paused(node Node) bool
}

// Grudge says who cannot hear whom: for every node name, the names of the
// nodes whose traffic to it is dropped. A symmetric partition lists each
// side in the other's entry; a one-way fault lists only one direction.
type Grudge map[string][]string

// LinkMode is how a link in a grudge fails.
type LinkMode string

const (
	// LinkReset cuts existing connections and refuses new ones, like a
	// firewall that answers with a reset. It is always symmetric.
	LinkReset LinkMode = "reset"
	// LinkHang holds connections open but forwards nothing in the cut
	// direction, like a black hole: peers find out only by timing out.
	LinkHang LinkMode = "hang"
)

// LinkShape degrades links that are otherwise allowed.
type LinkShape struct {
	// Delay is added to every chunk of data forwarded.
	Delay time.Duration `json:"delay,omitempty"`
	// Jitter is the bound of a uniformly random extra delay.
	Jitter time.Duration `json:"jitter,omitempty"`
	// Loss is the probability in [0, 1] that a chunk of data, or a new
	// connection, is answered by resetting the connection: loss as TCP
	// peers experience it when a proxy, not the kernel, drops traffic.
	Loss float64 `json:"loss,omitempty"`
}

// Partitioner is a cluster whose server-to-server and client-to-server links
// can be cut and degraded.
type Partitioner interface {
	Cluster
	// Partition applies the grudge to server-to-server links, replacing any
	// earlier one.
	Partition(ctx context.Context, g Grudge, mode LinkMode) error
	// Shape degrades, in both directions, every server-to-server link with
	// at least one end among the given servers (all links when nodes is
	// empty), replacing earlier shaping.
	Shape(ctx context.Context, nodes []string, s LinkShape) error
	// IsolateClients cuts clients off from the named servers: existing
	// client connections are reset and new ones refused.
	IsolateClients(ctx context.Context, nodes []string) error
	// HealLinks restores every link: no grudge, no shaping, no isolated
	// clients.
	HealLinks(ctx context.Context) error
	// ClientDialer returns the dialer a client pinned to node must use so
	// that client partitions apply to it; its signature is go-zookeeper's.
	ClientDialer(node Node) func(network, address string, timeout time.Duration) (net.Conn, error)
}

// ClockShift is how a server's clock differs from the real one.
type ClockShift struct {
	// Offset is added to the clock.
	Offset time.Duration `json:"offset,omitempty"`
	// Rate is how fast the clock runs relative to real time; 0 means 1.
	Rate float64 `json:"rate,omitempty"`
}

// Clock is a cluster whose servers' clocks can be moved while they run.
// Locally this moves the JVM's monotonic clock too (libfaketime), so it
// affects timeouts, not only timestamps.
type Clock interface {
	Cluster
	// SetClock shifts the server's clock; the shift applies at once.
	SetClock(ctx context.Context, node Node, shift ClockShift) error
	// ResetClock puts the server's clock back to real time.
	ResetClock(ctx context.Context, node Node) error
	// ClockNote says how far a shift reaches, for the records of clock
	// faults, e.g. that the JVM's monotonic clock moves too.
	ClockNote() string
}

// LogFollower is a cluster whose servers' log lines can be followed as the
// servers write them: the base of state-triggered faults.
type LogFollower interface {
	Cluster
	// FollowLog sends the node's log lines, in order and without gaps, as
	// the server writes them, across restarts, until ctx ends; then the
	// channel is closed. With fromStart it begins at the first line of the
	// server's current run (or of its next run, when it is down); otherwise
	// at the next line written.
	FollowLog(ctx context.Context, node Node, fromStart bool) (<-chan LogLine, error)
}

// LogLine is one line of a server's log.
type LogLine struct {
	// Text is the line without its line break.
	Text string
	// At is when the harness received the line from the server.
	At time.Time
}
