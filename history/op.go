// Package history holds the operations of a run: their types, the append-only
// JSONL file they are written to as they happen, and the reader that loads them
// back, tolerating a last line torn by a crash.
//
// An operation is plain data in the manner of Jepsen: {type, f, value, process,
// time}. Each client operation is written twice, an invoke when it is issued
// and a completion (ok, fail or info) when it ends.
package history

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Type says whether a record is an invocation or how an operation completed.
type Type string

const (
	// Invoke is written when an operation is issued.
	Invoke Type = "invoke"
	// OK means the operation certainly happened, with the recorded result.
	OK Type = "ok"
	// Fail means the operation certainly did not happen.
	Fail Type = "fail"
	// Info means the outcome is unknown: the operation may or may not have
	// happened, now or at any later time.
	Info Type = "info"
)

// Operation names of the register workload.
const (
	Read  = "read"
	Write = "write"
	CAS   = "cas"
)

// Process identifies a logical thread of execution with its own ZooKeeper
// session. After an info completion a worker takes a fresh Process, because its
// earlier operation may still be in flight.
type Process int

// NemesisProcess is the process of fault injection records.
const NemesisProcess Process = -1

// MarshalJSON writes the nemesis process as "nemesis" and others as numbers.
func (p Process) MarshalJSON() ([]byte, error) {
	if p == NemesisProcess {
		return []byte(`"nemesis"`), nil
	}
	return strconv.AppendInt(nil, int64(p), 10), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *Process) UnmarshalJSON(b []byte) error {
	if string(b) == `"nemesis"` {
		*p = NemesisProcess
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 32)
	if err != nil {
		return fmt.Errorf("process must be a number or \"nemesis\", got %s", b)
	}
	*p = Process(n)
	return nil
}

// String returns "nemesis" or the process number.
func (p Process) String() string {
	if p == NemesisProcess {
		return "nemesis"
	}
	return strconv.Itoa(int(p))
}

// Op is one record of the history.
type Op struct {
	// Index is the record's position in the history, assigned by the Writer.
	Index int64 `json:"index"`
	// Type is invoke, ok, fail or info.
	Type Type `json:"type"`
	// F names the operation: read, write, cas, or a nemesis action.
	F string `json:"f"`
	// Process is the logical thread that issued the operation.
	Process Process `json:"process"`
	// Time is monotonic nanoseconds since the run started, assigned by the Writer.
	Time int64 `json:"time"`

	// Key is the register (znode) the operation addresses.
	Key string `json:"key,omitempty"`
	// Value is the value written (write, cas) or read (read completions).
	Value *int64 `json:"value,omitempty"`
	// Expect is the znode version a cas requires.
	Expect *int32 `json:"expect,omitempty"`
	// Version is the znode's data version from the returned Stat.
	Version *int32 `json:"version,omitempty"`
	// Zxid is the zxid of the znode's last modification from the returned Stat.
	Zxid int64 `json:"zxid,omitempty"`
	// Path is a znode path an operation created, deleted or saw, e.g. the
	// name a sequential create returned.
	Path string `json:"path,omitempty"`
	// Values are several values at once: the elements a final read found,
	// the values of a transaction, a queue's contents.
	Values []int64 `json:"values,omitempty"`
	// Zxids are per-key zxids aligned with Values: the mzxid of each znode
	// a multi-key read saw or a transaction set.
	Zxids []int64 `json:"zxids,omitempty"`
	// Event names a watch or session event, e.g. NodeDataChanged or
	// StateExpired.
	Event string `json:"event,omitempty"`

	// Node is the server the session was connected to.
	Node string `json:"node,omitempty"`
	// Session is the ZooKeeper session id, when one was established.
	Session int64 `json:"session,omitempty"`
	// Error is the error behind a fail or info completion.
	Error string `json:"error,omitempty"`

	// Fault describes a nemesis action.
	Fault *Fault `json:"fault,omitempty"`
	// Roles maps each node to the role it reported (leader, follower,
	// down), on the harness's role observations (f "roles" and "healthy").
	Roles map[string]string `json:"roles,omitempty"`
	// Snapshot maps every znode a node held at the end of the run to its
	// version and a hash of its data (f "snapshot").
	Snapshot map[string]string `json:"snapshot,omitempty"`
	// Metrics are a node's own counters from mntr (f "snapshot").
	Metrics map[string]int64 `json:"metrics,omitempty"`
}

// Names of the harness's own observation records, written by the nemesis
// process.
const (
	// FRoles records the roles of all nodes whenever they change.
	FRoles = "roles"
	// FHealthy records the wait for a healthy ensemble after the final
	// heal; Error says if it never came.
	FHealthy = "healthy"
	// FSnapshot records what one node holds at the end of the run.
	FSnapshot = "snapshot"
	// FTrigger records a scripted step's trigger: the node state it waited
	// for and saw (Fault.Trigger), or, with Error, that it never came.
	FTrigger = "trigger"
	// FStep records a scripted step that changes nothing in the cluster:
	// a sleep, a wait for a leader, a name bound to a node.
	FStep = "step"
)

// IsObservation reports whether the nemesis record's f is one of the
// harness's observations or script bookkeeping rather than a fault or a
// heal.
func IsObservation(f string) bool {
	return f == FRoles || f == FHealthy || f == FSnapshot || f == FTrigger || f == FStep
}

// Nemesis actions that end with their own completion rather than with a
// healing action: a rolling upgrade or rollback moves one node to another
// version from the step's invoke to its completion, and the node runs the
// new version from then on.
const (
	FUpgrade  = "upgrade"
	FRollback = "rollback"
)

// EndsItself reports whether the nemesis action f is over at its own
// completion (FUpgrade, FRollback) instead of at a later healing action.
func EndsItself(f string) bool { return f == FUpgrade || f == FRollback }

// Fault is the payload of a nemesis record.
type Fault struct {
	// Name is the fault's name as the scenario spells it, e.g. kill-leader.
	Name string `json:"name"`
	// Targets are the nodes the action applied to.
	Targets []string `json:"targets,omitempty"`
	// Grudge is who cannot hear whom during a partition: for each node,
	// the nodes whose traffic to it is dropped.
	Grudge map[string][]string `json:"grudge,omitempty"`
	// Detail is free text, e.g. why an action could not be applied.
	Detail string `json:"detail,omitempty"`
	// Step is the 1-based number of the scripted step that wrote the
	// record; 0 outside scripts.
	Step int `json:"step,omitempty"`
	// Trigger is the node state a scripted step waited for and saw.
	Trigger *Trigger `json:"trigger,omitempty"`
	// Membership is the ensemble's configuration after a reconfig
	// fault's injection or heal; nil for every other record.
	Membership *Membership `json:"membership,omitempty"`
}

// Membership is an ensemble's dynamic configuration as a record states it.
type Membership struct {
	// Version is the configuration's version, the hex zxid that
	// /zookeeper/config's version= line holds; "" when it could not be
	// read.
	Version string `json:"version,omitempty"`
	// Voters are the participants' names.
	Voters []string `json:"voters,omitempty"`
	// Observers are the observers' names.
	Observers []string `json:"observers,omitempty"`
}

// Trigger is what fired a state-triggered step, and whether its action
// landed inside the window it aimed at.
type Trigger struct {
	// Node is the node whose state was watched.
	Node string `json:"node"`
	// Saw is the log line, or the "mntr"/"srvr" field and value, that fired
	// the trigger.
	Saw string `json:"saw,omitempty"`
	// DelayNS is the delay drawn after the trigger fired, before the action.
	DelayNS int64 `json:"delay_ns,omitempty"`
	// Window is "landed" when the action was applied before the node logged
	// the line that closes the window the step aims at, "missed" when the
	// line came first, "" when the step names no window.
	Window string `json:"window,omitempty"`
	// Closed is the closing line, when the window was missed.
	Closed string `json:"closed,omitempty"`
}

// Window outcomes of a Trigger.
const (
	WindowLanded = "landed"
	WindowMissed = "missed"
)

// IsNemesis reports whether the record belongs to the nemesis.
func (o Op) IsNemesis() bool { return o.Process == NemesisProcess }

// Int64 returns a pointer to v, for the optional fields of Op.
func Int64(v int64) *int64 { return &v }

// Int32 returns a pointer to v, for the optional fields of Op.
func Int32(v int32) *int32 { return &v }

// String renders an operation compactly for messages and reports.
func (o Op) String() string {
	b, err := json.Marshal(o)
	if err != nil {
		return fmt.Sprintf("%s %s %s process %s", o.Type, o.F, o.Key, o.Process)
	}
	return string(b)
}
