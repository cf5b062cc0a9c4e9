package cluster

import "errors"

// Capability is one thing a fault may ask of a cluster, e.g. killing nodes
// or moving their clocks.
type Capability string

// The capabilities a cluster may offer. A backend that has the methods of
// one may still lack it in its current setting (see Cluster.Can).
const (
	// CapKill kills nodes and starts them again (Killer).
	CapKill Capability = "kill"
	// CapPause freezes and thaws nodes (Pauser).
	CapPause Capability = "pause"
	// CapPartition cuts server-to-server links (Partitioner).
	CapPartition Capability = "partition"
	// CapClients cuts clients off their servers (Partitioner).
	CapClients Capability = "clients"
	// CapLink degrades links with delay, jitter and loss (Partitioner).
	CapLink Capability = "link"
	// CapClock offsets nodes' clocks (Clock).
	CapClock Capability = "clock"
	// CapClockRate changes how fast nodes' clocks run (Clock).
	CapClockRate Capability = "clock-rate"
	// CapUpgrade restarts nodes on another distribution (Upgrader).
	CapUpgrade Capability = "upgrade"
	// CapFollowLog follows the servers' log lines (LogFollower).
	CapFollowLog Capability = "follow-log"
	// CapReconfig changes the ensemble's membership while it runs
	// (Reconfigurer).
	CapReconfig Capability = "reconfig"
	// CapDisk loses what the servers' disks had not synced (Disker).
	CapDisk Capability = "disk"
	// CapDiskIO slows the servers' disk I/O down and fails it (Disker).
	CapDiskIO Capability = "disk-io"
	// CapWipe loses or damages the data directories of stopped servers
	// (Wiper). Apart from CapDisk: it changes files while the server is
	// down and needs no disk layer (FUSE) in its way.
	CapWipe Capability = "wipe"
)

// Capabilities is a set of capabilities, e.g. all that a scenario's faults
// need.
type Capabilities map[Capability]bool

// Links reports whether the set holds a capability that acts on links
// (partition, clients, link), which a backend may have to prepare for when
// it starts its nodes.
func (s Capabilities) Links() bool { return s[CapPartition] || s[CapClients] || s[CapLink] }

// Clocks reports whether the set holds a capability that moves clocks,
// which a backend may have to prepare for when it starts its nodes.
func (s Capabilities) Clocks() bool { return s[CapClock] || s[CapClockRate] }

// Disks reports whether the set holds a capability that acts on disks,
// which a backend may have to prepare for when it starts its nodes.
func (s Capabilities) Disks() bool { return s[CapDisk] || s[CapDiskIO] }

// lacking says, for each capability, that a cluster without its methods
// cannot do it.
var lacking = map[Capability]string{
	CapKill:      "this cluster backend cannot kill nodes",
	CapPause:     "this cluster backend cannot pause nodes",
	CapPartition: "this cluster backend cannot partition the network",
	CapClients:   "this cluster backend cannot partition the network",
	CapLink:      "this cluster backend cannot partition the network",
	CapClock:     "this cluster backend cannot move clocks",
	CapClockRate: "this cluster backend cannot move clocks",
	CapUpgrade:   "this cluster backend cannot restart nodes on another distribution",
	CapFollowLog: "this cluster cannot follow servers' logs, which a log trigger needs",
	CapReconfig:  "this cluster backend cannot change the ensemble's membership",
	CapDisk:      "this cluster backend cannot inject disk faults",
	CapDiskIO:    "this cluster backend cannot inject disk faults",
	CapWipe:      "this cluster backend cannot wipe a server's data",
}

// Supports says why c cannot do what need names, or nil: the backend's own
// reason first (Can), then whether c has the methods need calls at all, so
// that a nil answer makes the matching type assertion safe.
func Supports(c Cluster, need Capability) error {
	if err := c.Can(need); err != nil {
		return err
	}
	var ok bool
	switch need {
	case CapKill:
		_, ok = c.(Killer)
	case CapPause:
		_, ok = c.(Pauser)
	case CapPartition, CapClients, CapLink:
		_, ok = c.(Partitioner)
	case CapClock, CapClockRate:
		_, ok = c.(Clock)
	case CapUpgrade:
		_, ok = c.(Upgrader)
	case CapFollowLog:
		_, ok = c.(LogFollower)
	case CapReconfig:
		_, ok = c.(Reconfigurer)
	case CapDisk, CapDiskIO:
		_, ok = c.(Disker)
	case CapWipe:
		_, ok = c.(Wiper)
	}
	if !ok {
		msg, known := lacking[need]
		if !known {
			msg = "unknown capability " + string(need)
		}
		return errors.New(msg)
	}
	return nil
}
