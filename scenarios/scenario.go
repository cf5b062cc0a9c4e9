// Package scenarios defines the scenario file: which ensemble to start, which
// workload to run on it, which faults to inject and how long to run. Files are
// YAML, decoded strictly: an unknown field, a wrong type or an impossible value
// is an error that names the file, the line and the field.
package scenarios

import (
	"slices"
	"time"

	"github.com/zkchaos/zkchaos/cluster/local"
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
	// Backend is where the ensemble runs: "local" (default: real processes
	// on this machine) or "kubernetes" (an ensemble in a Kubernetes
	// cluster, see Kubernetes).
	Backend string `yaml:"backend"`
	// Nodes is the number of servers (default 3).
	Nodes int `yaml:"nodes"`
	// Distribution is "debian" (default: Debian's installed zookeeper
	// package), "debian=VERSION" (that version of Debian's
	// libzookeeper-java, fetched once into the user's cache) or the path of
	// an unpacked Apache ZooKeeper binary release.
	Distribution string `yaml:"distribution"`
	// TickTime is ZooKeeper's tickTime (default 500ms).
	TickTime time.Duration `yaml:"tick-time"`
	// JVMFlags tune each server's JVM (default: a small serial-GC heap
	// that starts fast, local.DefaultJVMFlags).
	JVMFlags []string `yaml:"jvm-flags"`
	// ForceSync makes servers fsync their transaction log (default true).
	ForceSync bool `yaml:"force-sync"`
	// StartTimeout bounds how long the ensemble may take to become healthy,
	// at start and after the final heal (default 60s locally, 5m on
	// Kubernetes).
	StartTimeout time.Duration `yaml:"start-timeout"`
	// Kubernetes says where the ensemble is and how faults reach it, for
	// the kubernetes backend only. Distribution, tick-time, jvm-flags and
	// force-sync are the local backend's: on Kubernetes the StatefulSet
	// configures the servers.
	Kubernetes *Kubernetes `yaml:"kubernetes,omitempty"`
}

// Kubernetes is the cluster section of the kubernetes backend.
type Kubernetes struct {
	// Kubeconfig is the kubeconfig file (default: the run command's
	// --kubeconfig, else KUBECONFIG, ~/.kube/config, then the pod's service
	// account, as kubectl resolves it).
	Kubeconfig string `yaml:"kubeconfig,omitempty"`
	// Context is the kubeconfig context (default: the current one).
	Context string `yaml:"context,omitempty"`
	// Namespace holds the ensemble and the chaos objects (default: the
	// context's namespace, or the pod's own).
	Namespace string `yaml:"namespace,omitempty"`
	// Selector is the label selector of the ZooKeeper pods (default
	// "app.kubernetes.io/name=zookeeper"; with deploy, the deployed
	// ensemble's).
	Selector string `yaml:"selector,omitempty"`
	// ClientPort is the servers' client port (default 2181).
	ClientPort int `yaml:"client-port"`
	// Container is the ZooKeeper container, for container-kill (default:
	// each pod's first container).
	Container string `yaml:"container,omitempty"`
	// Connect is how the harness reaches the servers: "in-cluster",
	// "port-forward" (one per pod, through the API server) or "auto"
	// (default: in-cluster when the harness runs in a pod).
	Connect string `yaml:"connect"`
	// Kill is how kill faults take a pod down: "pod-failure", "pod-kill",
	// "container-kill" (Chaos Mesh PodChaos actions), "delete" (a plain pod
	// delete, no Chaos Mesh needed) or "auto" (default: pod-failure when
	// Chaos Mesh is installed, delete otherwise).
	Kill string `yaml:"kill"`
	// InjectTimeout bounds the wait for Chaos Mesh to report each fault in
	// force on every pod it selects; a fault that is not fails the run
	// (default 30s).
	InjectTimeout time.Duration `yaml:"inject-timeout"`
	// Deploy, when given, makes the harness deploy the shipped ZooKeeper
	// StatefulSet before the run and remove it afterwards.
	Deploy *KubernetesDeploy `yaml:"deploy,omitempty"`
}

// KubernetesDeploy is the ensemble the harness deploys itself.
type KubernetesDeploy struct {
	// Name names the StatefulSet and its Services (default "zk").
	Name string `yaml:"name"`
	// Image is the ZooKeeper image (default "zookeeper:3.8.0").
	Image string `yaml:"image"`
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
	// kill, start, pause, resume, isolate or heal nodes, sleep, wait for a
	// leader, bind a name to a node by role, and wait for a node's state
	// (a log line, a mntr field, its role) before acting, after a delay
	// drawn from a range. The run ends when the script does (or at
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

// Backends.
const (
	// BackendLocal runs real ZooKeeper processes on this machine.
	BackendLocal = "local"
	// BackendKubernetes tests an ensemble in a Kubernetes cluster.
	BackendKubernetes = "kubernetes"
)

// Workload and backend names this version supports.
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
	knownBackends  = []string{BackendLocal, BackendKubernetes}
	knownReadModes = []string{ReadPlain, ReadSync, ReadQuorum}
	knownSchedules = []string{ScheduleInterval, ScheduleRandom, ScheduleSequence}
)

// applyDefaults fills every field the file left out; present reports whether
// the file spelled a field (by its dotted path), so that an explicit zero is
// validated rather than silently replaced.
func (s *Scenario) applyDefaults(defaultName string, present func(path string) bool) {
	d := defaulter{present}
	setDefault(d, &s.Name, "name", defaultName)
	setDefault(d, &s.Seed, "seed", 1)
	setDefault(d, &s.TimeLimit, "time-limit", 60*time.Second)
	setDefault(d, &s.Recovery, "recovery", 5*time.Second)

	c := &s.Cluster
	setDefault(d, &c.Backend, "cluster.backend", BackendLocal)
	setDefault(d, &c.Nodes, "cluster.nodes", 3)
	if c.Backend == BackendKubernetes {
		setDefault(d, &c.StartTimeout, "cluster.start-timeout", 5*time.Minute)
		if c.Kubernetes == nil {
			c.Kubernetes = &Kubernetes{}
		}
		k := c.Kubernetes
		setDefault(d, &k.ClientPort, "cluster.kubernetes.client-port", 2181)
		setDefault(d, &k.Connect, "cluster.kubernetes.connect", "auto")
		setDefault(d, &k.Kill, "cluster.kubernetes.kill", "auto")
		setDefault(d, &k.InjectTimeout, "cluster.kubernetes.inject-timeout", 30*time.Second)
		if k.Deploy != nil {
			setDefault(d, &k.Deploy.Name, "cluster.kubernetes.deploy.name", "zk")
			setDefault(d, &k.Deploy.Image, "cluster.kubernetes.deploy.image", "zookeeper:3.8.0")
		} else {
			setDefault(d, &k.Selector, "cluster.kubernetes.selector", "app.kubernetes.io/name=zookeeper")
		}
	} else {
		setDefault(d, &c.Distribution, "cluster.distribution", "debian")
		setDefault(d, &c.TickTime, "cluster.tick-time", 500*time.Millisecond)
		setDefault(d, &c.JVMFlags, "cluster.jvm-flags", local.DefaultJVMFlags())
		setDefault(d, &c.ForceSync, "cluster.force-sync", true)
		setDefault(d, &c.StartTimeout, "cluster.start-timeout", 60*time.Second)
	}

	w := &s.Workload
	setDefault(d, &w.Name, "workload.name", "register")
	takes := func(f string) bool { return slices.Contains(workloadParams[w.Name], f) }
	if takes("keys") {
		setDefault(d, &w.Keys, "workload.keys", 5)
	}
	setDefault(d, &w.Workers, "workload.workers", 10)
	setDefault(d, &w.Rate, "workload.rate", 100)
	if takes("read-mode") {
		setDefault(d, &w.ReadMode, "workload.read-mode", ReadQuorum)
	}
	setDefault(d, &w.OpTimeout, "workload.op-timeout", 5*time.Second)
	setDefault(d, &w.SessionTimeout, "workload.session-timeout", 10*time.Second)
	if takes("mix") {
		setDefault(d, &w.Mix, "workload.mix", Mix{Read: 2, Write: 1, CAS: 1})
	}
	if takes("hold") {
		setDefault(d, &w.Hold, "workload.hold", 100*time.Millisecond)
	}

	n := &s.Nemesis
	for i := range n.Faults {
		n.Faults[i] = n.Faults[i].Resolved()
		if n.Faults[i].Kind == fault.Rollback && n.Faults[i].To == "" && c.Backend == BackendLocal {
			n.Faults[i].To = c.Distribution
		}
	}
	setDefault(d, &n.Schedule, "nemesis.schedule", ScheduleInterval)
	setDefault(d, &n.Interval, "nemesis.interval", 10*time.Second)
	setDefault(d, &n.Warmup, "nemesis.warmup", n.Interval)
	setDefault(d, &n.MaxInterval, "nemesis.max-interval", 2*n.Interval)
	setDefault(d, &n.Duration, "nemesis.duration", 5*time.Second)
	setDefault(d, &n.MaxDuration, "nemesis.max-duration", 2*n.Duration)

	setDefault(d, &s.Checker.TimeBudget, "checker.time-budget", 60*time.Second)
}

type defaulter struct{ present func(path string) bool }

// setDefault sets *p to v when the file did not spell the field at path.
func setDefault[T any](d defaulter, p *T, path string, v T) {
	if !d.present(path) {
		*p = v
	}
}
