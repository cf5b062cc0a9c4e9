// Package scenarios defines the scenario file: which ensemble to start, which
// workload to run on it, which faults to inject and how long to run. Files are
// YAML, decoded strictly: an unknown field, a wrong type or an impossible value
// is an error that names the file, the line and the field.
package scenarios

import (
	"slices"
	"time"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/nemesis"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// Scenario is one scenario file after defaults are applied. Field comments give
// the default used when the field is left out.
type Scenario struct {
	// Name names the scenario in run directories and reports (default: the
	// file name without extension).
	Name string `yaml:"name"`
	// Description says what the scenario tests.
	Description string `yaml:"description,omitempty"`
	// Seed drives every random choice of the run: same seed, same schedule
	// (default 1).
	Seed int64 `yaml:"seed"`
	// TimeLimit is how long the workload runs under faults (default 60s).
	TimeLimit time.Duration `yaml:"time-limit"`
	// Recovery is how long the workload keeps running after every fault is
	// healed, before the final reads (default 5s).
	Recovery time.Duration `yaml:"recovery"`
	// Cluster says which ensemble to test.
	Cluster Cluster `yaml:"cluster"`
	// Workload says which operations the clients issue.
	Workload Workload `yaml:"workload"`
	// Nemesis says which faults are injected and when.
	Nemesis Nemesis `yaml:"nemesis"`
	// Checker tunes how the history is judged.
	Checker Checker `yaml:"checker"`
}

// Cluster is the ensemble under test.
type Cluster struct {
	// Backend is where the ensemble runs, a registered backend's name:
	// "local" (default: real processes on this machine) or "kubernetes"
	// (an ensemble in a Kubernetes cluster).
	Backend string `yaml:"backend"`
	// Nodes is the number of servers (default 3).
	Nodes int `yaml:"nodes"`
	// StartTimeout bounds how long the ensemble may take to become healthy,
	// at start and after the final heal (default: the backend's, 60s
	// locally, 5m on Kubernetes).
	StartTimeout time.Duration `yaml:"start-timeout"`
	// Section is the backend's own settings, written in the file beside
	// the fields above (distribution, tick-time, jvm-flags and force-sync
	// locally; a kubernetes: mapping on Kubernetes); nil only while the
	// backend is unknown.
	Section cluster.Section `yaml:"-"`
}

// Workload is the client side of a run.
type Workload struct {
	// Name is the workload: register (default), set, queue, lock, session,
	// watch or multi.
	Name string `yaml:"name"`
	// Keys is the number of znodes the workload addresses (register, watch,
	// multi; default 5).
	Keys int `yaml:"keys,omitempty"`
	// Workers is the number of concurrent clients, each with its own session
	// pinned to one node, round-robin (default 10).
	Workers int `yaml:"workers"`
	// Rate is the total operations per second over all workers; 0 means as
	// fast as the ensemble answers (default 100).
	Rate float64 `yaml:"rate"`
	// ReadMode is how reads are made: "plain", "sync" or "quorum" (default
	// "quorum": the read is confirmed by a check-only multi through the leader).
	ReadMode string `yaml:"read-mode,omitempty"`
	// OpTimeout bounds every operation; a timed-out operation is indeterminate
	// (default 5s).
	OpTimeout time.Duration `yaml:"op-timeout"`
	// SessionTimeout is the ZooKeeper session timeout of every client
	// (default 10s).
	SessionTimeout time.Duration `yaml:"session-timeout"`
	// Mix weighs the operation kinds of the register (default read 2,
	// write 1, cas 1).
	Mix Mix `yaml:"mix,omitempty"`
	// Hold is how long a lock is held once acquired (lock; default 100ms).
	Hold time.Duration `yaml:"hold,omitempty"`
}

// Mix gives relative weights of the register operations.
type Mix struct {
	// Read weighs reads.
	Read float64 `yaml:"read"`
	// Write weighs blind writes.
	Write float64 `yaml:"write"`
	// CAS weighs compare-and-set writes.
	CAS float64 `yaml:"cas"`
}

// Nemesis is the fault schedule.
type Nemesis struct {
	// Faults are picked from at random with the seed, one at a time (in
	// the order listed with the sequence schedule); empty means no faults.
	// Each is a kind with parameters, e.g. {name: partition, grudge:
	// halves, mode: hang}, or a shorthand name such as kill-leader. A
	// rollback's "to" defaults to the cluster's distribution.
	Faults []nemesis.Spec `yaml:"faults"`
	// Script is an ordered list of steps run once instead of a schedule:
	// kill, start, pause, resume, isolate, power-loss, wipe or heal nodes,
	// sleep, wait for a leader, bind a name to a node by role, and wait for
	// a node's state (a log line, a mntr field, its role) before acting,
	// after a delay drawn from a range. The run ends when the script does (or at
	// time-limit). See nemesis.ScriptStep.
	Script []nemesis.ScriptStep `yaml:"script,omitempty"`
	// Schedule is "interval" (fixed quiet time and duration, the default),
	// "random" (each drawn between its bounds) or "sequence" (as interval,
	// with the faults taken in the order listed, over and over).
	Schedule string `yaml:"schedule"`
	// Warmup is the quiet time before the first fault (default: Interval).
	Warmup time.Duration `yaml:"warmup"`
	// Interval is the quiet time before each fault, the lower bound for
	// random schedules (default 10s).
	Interval time.Duration `yaml:"interval"`
	// MaxInterval is the upper bound of the quiet time of random schedules
	// (default: twice Interval).
	MaxInterval time.Duration `yaml:"max-interval"`
	// Duration is how long each fault lasts before it is healed, the lower
	// bound for random schedules (default 5s).
	Duration time.Duration `yaml:"duration"`
	// MaxDuration is the upper bound of fault durations of random schedules
	// (default: twice Duration).
	MaxDuration time.Duration `yaml:"max-duration"`
}

// Checker tunes the judging of the history.
type Checker struct {
	// TimeBudget bounds the linearizability search; when it runs out the
	// verdict is unknown, never valid (default 60s).
	TimeBudget time.Duration `yaml:"time-budget"`
}

// Read modes of the register workload.
const (
	ReadPlain  = "plain"
	ReadSync   = "sync"
	ReadQuorum = "quorum"
)

// Schedules of the nemesis.
const (
	ScheduleInterval = "interval"
	ScheduleRandom   = "random"
	ScheduleSequence = "sequence"
)

// Workload names, read modes and schedules this version supports.
var (
	knownWorkloads = []string{"register", "set", "queue", "lock", "session", "watch", "multi"}
	// workloadParams lists, per workload, the fields beyond those every
	// workload takes (name, workers, rate, op-timeout, session-timeout).
	workloadParams = map[string][]string{
		"register": {"keys", "read-mode", "mix"},
		"watch":    {"keys"},
		"multi":    {"keys"},
		"lock":     {"hold"},
	}
	knownReadModes = []string{ReadPlain, ReadSync, ReadQuorum}
	knownSchedules = []string{ScheduleInterval, ScheduleRandom, ScheduleSequence}
)

// applyDefaults fills every field the file left out; present reports whether
// the file spelled a field (by its dotted path), so that an explicit zero is
// validated rather than silently replaced.
func (s *Scenario) applyDefaults(defaultName string, present func(path string) bool) {
	d := cluster.Given(present)
	cluster.SetDefault(d, &s.Name, "name", defaultName)
	cluster.SetDefault(d, &s.Seed, "seed", 1)
	cluster.SetDefault(d, &s.TimeLimit, "time-limit", 60*time.Second)
	cluster.SetDefault(d, &s.Recovery, "recovery", 5*time.Second)

	c := &s.Cluster
	c.defaultCluster(present)

	w := &s.Workload
	cluster.SetDefault(d, &w.Name, "workload.name", "register")
	takes := func(f string) bool { return slices.Contains(workloadParams[w.Name], f) }
	if takes("keys") {
		cluster.SetDefault(d, &w.Keys, "workload.keys", 5)
	}
	cluster.SetDefault(d, &w.Workers, "workload.workers", 10)
	cluster.SetDefault(d, &w.Rate, "workload.rate", 100)
	if takes("read-mode") {
		cluster.SetDefault(d, &w.ReadMode, "workload.read-mode", ReadQuorum)
	}
	cluster.SetDefault(d, &w.OpTimeout, "workload.op-timeout", 5*time.Second)
	cluster.SetDefault(d, &w.SessionTimeout, "workload.session-timeout", 10*time.Second)
	if takes("mix") {
		cluster.SetDefault(d, &w.Mix, "workload.mix", Mix{Read: 2, Write: 1, CAS: 1})
	}
	if takes("hold") {
		cluster.SetDefault(d, &w.Hold, "workload.hold", 100*time.Millisecond)
	}

	n := &s.Nemesis
	for i := range n.Faults {
		n.Faults[i] = n.Faults[i].Resolved()
		if n.Faults[i].Kind == fault.Rollback && n.Faults[i].To == "" && c.Section != nil {
			n.Faults[i].To = c.Section.DistributionName()
		}
	}
	cluster.SetDefault(d, &n.Schedule, "nemesis.schedule", ScheduleInterval)
	cluster.SetDefault(d, &n.Interval, "nemesis.interval", 10*time.Second)
	cluster.SetDefault(d, &n.Warmup, "nemesis.warmup", n.Interval)
	cluster.SetDefault(d, &n.MaxInterval, "nemesis.max-interval", 2*n.Interval)
	cluster.SetDefault(d, &n.Duration, "nemesis.duration", 5*time.Second)
	cluster.SetDefault(d, &n.MaxDuration, "nemesis.max-duration", 2*n.Duration)

	cluster.SetDefault(d, &s.Checker.TimeBudget, "checker.time-budget", 60*time.Second)
}
