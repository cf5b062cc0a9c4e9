// Package fault is the one table of the nemesis's fault kinds (what each
// records when it is injected and healed, what it needs of the cluster,
// which parameters it takes) and reads fault windows back from a history.
// It imports only history and cluster, so that checkers, reports and
// comparisons can know the faults without the nemesis that injects them.
package fault

import (
	"slices"
	"strings"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/history"
)

// Kind is a kind of fault as a scenario names it, e.g. kill or partition.
type Kind string

// The fault kinds.
const (
	// Kill kills nodes; healing starts them.
	Kill Kind = "kill"
	// Pause freezes nodes; healing thaws them.
	Pause Kind = "pause"
	// Partition cuts server-to-server links in a grudge's shape.
	Partition Kind = "partition"
	// Clients cuts clients off their nodes.
	Clients Kind = "clients"
	// Link degrades links with delay, jitter and loss.
	Link Kind = "link"
	// Clock moves nodes' clocks.
	Clock Kind = "clock"
	// Upgrade restarts every node, one at a time, on another distribution.
	Upgrade Kind = history.FUpgrade
	// Rollback is an upgrade back to an earlier distribution.
	Rollback Kind = history.FRollback
	// Reconfig changes the ensemble's membership; healing restores it.
	Reconfig Kind = "reconfig"
	// PowerLoss kills nodes and drops what their disks had not synced;
	// healing starts them.
	PowerLoss Kind = "power-loss"
	// FsyncDelay slows nodes' fsyncs down; healing clears their disk
	// faults.
	FsyncDelay Kind = "fsync-delay"
	// WriteDelay slows nodes' writes down; healing clears their disk
	// faults.
	WriteDelay Kind = "write-delay"
	// DiskError fails a share of nodes' writes or fsyncs with EIO; healing
	// clears their disk faults.
	DiskError Kind = "disk-error"
	// DiskFull fails nodes' writes with ENOSPC; healing clears their disk
	// faults.
	DiskFull Kind = "disk-full"
	// Wipe kills nodes and empties their data directories but for myid;
	// healing starts them, to resync from the leader.
	Wipe Kind = "wipe"
	// Corrupt kills nodes and flips bits in their newest transaction log
	// or snapshot; healing starts them.
	Corrupt Kind = "corrupt"
)

// Heal actions: the f of the records that undo a fault.
const (
	// HealStart starts nodes that are down.
	HealStart = "start"
	// HealResume thaws paused nodes.
	HealResume = "resume"
	// Heal restores links and clocks.
	Heal = "heal"
)

// Info is what the table knows about one kind.
type Info struct {
	// Kind is the kind's name.
	Kind Kind
	// Action is the f of the records that inject it.
	Action string
	// Heal is the f of the records that undo it. A kind that ends with
	// its own completion (EndsItself) has one too: healing starts any
	// node a failed step left down.
	Heal string
	// Needs is the capability the kind asks of the cluster (a clock fault
	// that changes the rate asks for cluster.CapClockRate instead).
	Needs cluster.Capability
	// Params are the scenario parameters the kind takes.
	Params []string
	// Aliases are other words histories and results use for Action: those
	// of imported histories (stop, crash) and the first word of Action
	// that results once reported as the kind (isolate, shape).
	Aliases []string
}

// EndsItself reports whether a fault of the kind is over at its own
// completion rather than at a heal (upgrade, rollback).
func (i Info) EndsItself() bool { return history.EndsItself(i.Action) }

// Table lists every kind of fault the nemesis can inject.
var Table = []Info{
	{Kind: Kill, Action: "kill", Heal: HealStart, Needs: cluster.CapKill,
		Params: []string{"target"}, Aliases: []string{"stop", "crash"}},
	{Kind: Pause, Action: "pause", Heal: HealResume, Needs: cluster.CapPause,
		Params: []string{"target"}},
	{Kind: Partition, Action: "partition", Heal: Heal, Needs: cluster.CapPartition,
		Params: []string{"grudge", "mode", "target"}},
	{Kind: Clients, Action: "isolate-clients", Heal: Heal, Needs: cluster.CapClients,
		Params: []string{"target"}, Aliases: []string{"isolate"}},
	{Kind: Link, Action: "shape-links", Heal: Heal, Needs: cluster.CapLink,
		Params: []string{"target", "delay", "jitter", "loss"}, Aliases: []string{"shape"}},
	{Kind: Clock, Action: "clock", Heal: Heal, Needs: cluster.CapClock,
		Params: []string{"target", "clock", "delta", "period", "rate"}},
	{Kind: Upgrade, Action: history.FUpgrade, Heal: HealStart, Needs: cluster.CapUpgrade,
		Params: []string{"to"}},
	{Kind: Rollback, Action: history.FRollback, Heal: HealStart, Needs: cluster.CapUpgrade,
		Params: []string{"to"}},
	{Kind: Reconfig, Action: "reconfig", Heal: Heal, Needs: cluster.CapReconfig,
		Params: []string{"change", "target"}},
	{Kind: PowerLoss, Action: "power-loss", Heal: HealStart, Needs: cluster.CapDisk,
		Params: []string{"target"}},
	{Kind: FsyncDelay, Action: "fsync-delay", Heal: Heal, Needs: cluster.CapDiskIO,
		Params: []string{"target", "delay", "jitter"}},
	{Kind: WriteDelay, Action: "write-delay", Heal: Heal, Needs: cluster.CapDiskIO,
		Params: []string{"target", "delay", "jitter"}},
	{Kind: DiskError, Action: "disk-error", Heal: Heal, Needs: cluster.CapDiskIO,
		Params: []string{"target", "share", "ops"}},
	{Kind: DiskFull, Action: "disk-full", Heal: Heal, Needs: cluster.CapDiskIO,
		Params: []string{"target", "free"}},
	{Kind: Wipe, Action: "wipe", Heal: HealStart, Needs: cluster.CapWipe,
		Params: []string{"target"}},
	{Kind: Corrupt, Action: "corrupt", Heal: HealStart, Needs: cluster.CapWipe,
		Params: []string{"target", "file", "region"}},
}

// Of returns the table's entry for k; ok is false for a kind it does not
// know.
func Of(k Kind) (info Info, ok bool) {
	i := slices.IndexFunc(Table, func(i Info) bool { return i.Kind == k })
	if i < 0 {
		return Info{}, false
	}
	return Table[i], true
}

// Kinds lists the kinds' names, sorted.
func Kinds() []string {
	out := make([]string, len(Table))
	for i, info := range Table {
		out[i] = string(info.Kind)
	}
	slices.Sort(out)
	return out
}

// ByAction returns the kind that a record's f injects: its Action or one
// of its Aliases. ok is false for any other f, heal actions included.
func ByAction(f string) (k Kind, ok bool) {
	i := slices.IndexFunc(Table, func(i Info) bool { return i.Action == f || slices.Contains(i.Aliases, f) })
	if i < 0 {
		return "", false
	}
	return Table[i].Kind, true
}

// IsHeal reports whether f is an action that undoes faults: start, resume
// or heal.
func IsHeal(f string) bool { return f == HealStart || f == HealResume || f == Heal }

// word reduces a record's f to what the table knows: f itself when it is
// an injecting or healing action, otherwise what comes before its first
// '-' (kill-leader -> kill).
func word(f string) string {
	if _, ok := ByAction(f); ok || IsHeal(f) {
		return f
	}
	if i := strings.IndexByte(f, '-'); i > 0 {
		return f[:i]
	}
	return f
}

// OfAction returns the kind of fault a record's f injects, reducing an f
// the table does not know to its first word (kill-leader is a kill); a
// word the table does not know either is returned as it is.
func OfAction(f string) Kind {
	w := word(f)
	if k, ok := ByAction(w); ok {
		return k
	}
	return Kind(w)
}

// OfLabel returns the kind a fault's label starts with ("kill leader",
// "partition-halves", "power-loss all"): the kind's name, or the first word
// of a label the nemesis did not make.
func OfLabel(label string) Kind {
	for _, info := range Table {
		if k := string(info.Kind); label == k || strings.HasPrefix(label, k+" ") {
			return info.Kind
		}
	}
	if i := strings.IndexAny(label, " -"); i > 0 {
		return Kind(label[:i])
	}
	return Kind(label)
}
