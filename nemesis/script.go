package nemesis

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// ScriptStep is one step of a scripted fault sequence: an optional trigger
// to wait for, an optional delay drawn with the seed, then at most one
// action. A step with a trigger and no action only waits.
type ScriptStep struct {
	// Kill, Start, Pause, Resume, Isolate, PowerLoss, Wipe, Corrupt and
	// FsyncDelay name the nodes the step acts on: node names (n1), names
	// bound by an earlier step, or a role resolved when the step runs
	// (leader, follower, any).
	Kill   Nodes `yaml:"kill,omitempty"`
	Start  Nodes `yaml:"start,omitempty"`
	Pause  Nodes `yaml:"pause,omitempty"`
	Resume Nodes `yaml:"resume,omitempty"`
	// Isolate cuts the nodes off from every other server (reset).
	Isolate Nodes `yaml:"isolate,omitempty"`
	// PowerLoss kills the nodes and drops what their disks had not synced.
	PowerLoss Nodes `yaml:"power-loss,omitempty"`
	// Wipe kills the nodes and empties their data directories but myid.
	Wipe Nodes `yaml:"wipe,omitempty"`
	// Corrupt kills the nodes and flips bits in a region of their newest
	// transaction log or snapshot (File and Region).
	Corrupt Nodes `yaml:"corrupt,omitempty"`
	// File is the file a corrupt step damages: log (default) or snapshot.
	File string `yaml:"file,omitempty"`
	// Region is where a corrupt step flips bits: header, middle or tail
	// (default).
	Region string `yaml:"region,omitempty"`
	// FsyncDelay slows every fsync of the nodes' disks down by By, until
	// a heal step or the end of the run: a slow disk at a chosen moment.
	FsyncDelay Nodes `yaml:"fsync-delay,omitempty"`
	// By is how long a fsync-delay step delays each fsync.
	By time.Duration `yaml:"by,omitempty"`
	// Heal restores every server-to-server link and clears the nodes' disk
	// faults.
	Heal bool `yaml:"heal,omitempty"`
	// Sleep waits this long.
	Sleep time.Duration `yaml:"sleep,omitempty"`
	// WaitLeader waits at most this long until exactly one node leads and
	// serves; the script stops when none does.
	WaitLeader time.Duration `yaml:"wait-leader,omitempty"`
	// WaitHealthy waits at most this long until every node serves with
	// one leader; the script stops when they do not.
	WaitHealthy time.Duration `yaml:"wait-healthy,omitempty"`
	// Bind names a node for later steps: the node holding Role now, or the
	// first node step From acted on.
	Bind string `yaml:"bind,omitempty"`
	// Role is what Bind looks for: leader, follower or any (a node no
	// earlier step bound, drawn with the seed).
	Role string `yaml:"role,omitempty"`
	// From is the 1-based number of an earlier action step.
	From int `yaml:"from,omitempty"`
	// When is a node state to wait for before acting.
	When *Trigger `yaml:"when,omitempty"`
	// Delay and MaxDelay bound the time, drawn uniformly with the seed,
	// between the trigger firing and the action (default 0; MaxDelay
	// defaults to Delay).
	Delay    time.Duration `yaml:"delay,omitempty"`
	MaxDelay time.Duration `yaml:"max-delay,omitempty"`
	// Window is a regular expression for the line of the trigger node's
	// log that closes the window the action aims at; the action's record
	// says whether it was applied before that line (landed) or not
	// (missed). Needs a log trigger.
	Window string `yaml:"window,omitempty"`
}

// Trigger is a node state a step waits for: a sequence of log lines, a
// field of the node's mntr reply, or its role. Exactly one is given.
type Trigger struct {
	// Node is the node watched: a node name, a bound name or a role.
	Node string `yaml:"node"`
	// Log are regular expressions matched against the node's log lines, in
	// order: the trigger fires at the line that matches the last one, after
	// earlier lines matched the ones before it.
	Log []string `yaml:"log,omitempty"`
	// Since is where a log trigger starts reading: "start" (default), the
	// first line of the node's current run, so that a trigger placed after
	// a start step cannot miss a line; or "now", the next line written.
	Since string `yaml:"since,omitempty"`
	// Mntr names a field of the node's mntr reply, e.g. zk_peer_state,
	// polled every 10ms until its value matches Match.
	Mntr string `yaml:"mntr,omitempty"`
	// Match is a regular expression for the mntr field's value.
	Match string `yaml:"match,omitempty"`
	// Role waits, polling every 10ms, until the node reports this role
	// through srvr: leader, follower or down.
	Role string `yaml:"role,omitempty"`
	// Timeout bounds the wait (default 60s); the script stops when it
	// runs out.
	Timeout time.Duration `yaml:"timeout,omitempty"`
}

// Nodes is a list of node references; a scenario may write a single one
// without brackets.
type Nodes []string

// UnmarshalYAML accepts a scalar as a list of one.
func (n *Nodes) UnmarshalYAML(v *yaml.Node) error {
	if v.Kind == yaml.ScalarNode {
		*n = Nodes{v.Value}
		return nil
	}
	var list []string
	if err := v.Decode(&list); err != nil {
		return fmt.Errorf("must be a node or a list of nodes: %w", err)
	}
	*n = list
	return nil
}

// Roles a step may name instead of a node.
const (
	RoleLeader   = "leader"
	RoleFollower = "follower"
	RoleAny      = "any"
	RoleDown     = "down"
)

// Where a log trigger starts reading.
const (
	SinceStart = "start"
	SinceNow   = "now"
)

// defaultTriggerTimeout bounds a trigger that gives no timeout.
const defaultTriggerTimeout = time.Minute

// StepProblem is a problem with one field of one scripted step.
type StepProblem struct {
	// Step is the 0-based index of the step.
	Step int
	FieldProblem
}

// nodeAction is an action that acts on nodes: its field's name, the nodes
// the step names in it, and the kind of fault whose means it uses (kill and
// start those of a kill, pause and resume those of a pause).
type nodeAction struct {
	name  string
	nodes Nodes
	kind  fault.Kind
}

// nodeActions lists every action that acts on nodes, set or not.
func (st ScriptStep) nodeActions() []nodeAction {
	return []nodeAction{
		{"kill", st.Kill, fault.Kill},
		{"start", st.Start, fault.Kill},
		{"pause", st.Pause, fault.Pause},
		{"resume", st.Resume, fault.Pause},
		{"isolate", st.Isolate, fault.Partition},
		{"power-loss", st.PowerLoss, fault.PowerLoss},
		{"wipe", st.Wipe, fault.Wipe},
		{"corrupt", st.Corrupt, fault.Corrupt},
		{"fsync-delay", st.FsyncDelay, fault.FsyncDelay},
	}
}

// nodeActionNames lists the names of the actions that act on nodes, for
// messages.
func nodeActionNames() string {
	var names []string
	for _, a := range (ScriptStep{}).nodeActions() {
		names = append(names, a.name)
	}
	return strings.Join(names, ", ")
}

// actions lists the step's actions that are set, by their field names.
func (st ScriptStep) actions() []string {
	var out []string
	for _, a := range st.nodeActions() {
		if len(a.nodes) > 0 {
			out = append(out, a.name)
		}
	}
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(st.Heal, "heal")
	add(st.Sleep != 0, "sleep")
	add(st.WaitLeader != 0, "wait-leader")
	add(st.WaitHealthy != 0, "wait-healthy")
	add(st.Bind != "", "bind")
	return out
}

// action is the step's one action, or "" for a step that only waits.
func (st ScriptStep) action() string {
	if a := st.actions(); len(a) == 1 {
		return a[0]
	}
	return ""
}

// kind is the kind of fault whose means the step's action uses (heal uses
// those of a partition). ok is false for a step that acts on no node.
func (st ScriptStep) kind() (k fault.Kind, ok bool) {
	action := st.action()
	if action == "heal" {
		return fault.Partition, true
	}
	for _, a := range st.nodeActions() {
		if a.name == action {
			return a.kind, true
		}
	}
	return "", false
}

// targets are the node references the step's action names: those of its
// first action that names nodes.
func (st ScriptStep) targets() Nodes {
	for _, a := range st.nodeActions() {
		if len(a.nodes) > 0 {
			return a.nodes
		}
	}
	return nil
}

// damage is what a corrupt step flips, defaults as for the corrupt fault.
func (st ScriptStep) damage() cluster.Damage { return damageOf(st.File, st.Region) }

// Describe renders the step as a scenario reader would say it, e.g.
// "kill C when C logs /NEWLEADER/ +0s..50ms".
func (st ScriptStep) Describe() string {
	var what string
	switch a := st.action(); a {
	case "kill", "start", "pause", "resume", "isolate", "power-loss", "wipe":
		what = a + " " + strings.Join(st.targets(), ", ")
	case "corrupt":
		d := st.damage()
		what = fmt.Sprintf("corrupt %s (%s %s)", strings.Join(st.targets(), ", "), d.File, d.Region)
	case "fsync-delay":
		what = fmt.Sprintf("fsync-delay %s by %s", strings.Join(st.targets(), ", "), st.By)
	case "heal":
		what = "heal links and disk delays"
	case "sleep":
		what = "sleep " + st.Sleep.String()
	case "wait-leader":
		what = "wait for a leader"
	case "wait-healthy":
		what = "wait until healthy"
	case "bind":
		if st.From > 0 {
			what = fmt.Sprintf("bind %s to the node of step %d", st.Bind, st.From)
		} else {
			what = fmt.Sprintf("bind %s to %s", st.Bind, st.Role)
		}
	default:
		what = "wait"
	}
	if w := st.When; w != nil {
		switch {
		case len(w.Log) > 0:
			what += fmt.Sprintf(" when %s logs /%s/", w.Node, strings.Join(w.Log, "/ then /"))
		case w.Mntr != "":
			what += fmt.Sprintf(" when %s's %s matches /%s/", w.Node, w.Mntr, w.Match)
		default:
			what += fmt.Sprintf(" when %s is %s", w.Node, w.Role)
		}
		if hi := max(st.Delay, st.MaxDelay); hi > 0 {
			what += fmt.Sprintf(" +%s..%s", st.Delay, hi)
		}
	}
	return what
}

// ValidateScript checks a script: one action per step (or a trigger
// alone), bindings that name a role or an earlier action step, references
// to names bound earlier, regular expressions that compile, and sensible
// delays and timeouts.
func ValidateScript(steps []ScriptStep) []StepProblem {
	var out []StepProblem
	bound := map[string]bool{}
	for i, st := range steps {
		bad := func(field, format string, args ...any) {
			out = append(out, StepProblem{Step: i, FieldProblem: FieldProblem{Field: field, Msg: fmt.Sprintf(format, args...)}})
		}
		acts := st.actions()
		switch {
		case len(acts) > 1:
			bad(acts[1], "a step does one thing; this one has both %s and %s (split it into steps)", acts[0], acts[1])
		case len(acts) == 0 && st.When == nil:
			bad("", "the step does nothing: give one of %s, heal, "+
				"sleep, wait-leader, wait-healthy, bind, or a when trigger to wait for", nodeActionNames())
		}
		checkRef := func(field, ref string) {
			if ref == "" {
				bad(field, "names no node")
			} else if !bound[ref] && !isRole(ref) && !looksLikeNodeName(ref) {
				bad(field, "%q is neither a node name (n1, n2, ...), a role (leader, follower, any) nor a name bound "+
					"by an earlier step", ref)
			}
		}
		for _, ref := range st.targets() {
			checkRef(st.action(), ref)
		}
		if st.Sleep < 0 {
			bad("sleep", "must be positive")
		}
		if st.WaitLeader < 0 {
			bad("wait-leader", "must be positive")
		}
		if st.WaitHealthy < 0 {
			bad("wait-healthy", "must be positive")
		}
		if st.Bind != "" {
			switch {
			case isRole(st.Bind) || st.Bind == RoleDown:
				bad("bind", "%q is a role word; bind a name such as A", st.Bind)
			case (st.Role == "") == (st.From == 0):
				bad("bind", "needs either role (leader, follower, any) or from (an earlier step's number)")
			case st.Role != "" && !isRole(st.Role):
				bad("role", "%q is not one of: leader, follower, any", st.Role)
			case st.From != 0 && (st.From < 1 || st.From > i || len(steps[st.From-1].targets()) == 0):
				bad("from", "must be the number of an earlier step that acts on nodes (%s), got %d", nodeActionNames(), st.From)
			}
			bound[st.Bind] = true
		} else {
			if st.Role != "" {
				bad("role", "applies only to bind")
			}
			if st.From != 0 {
				bad("from", "applies only to bind")
			}
		}
		if st.Delay < 0 || st.MaxDelay < 0 {
			bad("delay", "must not be negative")
		}
		if st.MaxDelay != 0 && st.MaxDelay < st.Delay {
			bad("max-delay", "must be at least delay (%s), got %s", st.Delay, st.MaxDelay)
		}
		damage := []struct {
			field, value string
			values       []string
		}{
			{"file", st.File, damageFiles},
			{"region", st.Region, damageRegions},
		}
		for _, d := range damage {
			switch {
			case d.value == "":
			case st.action() != "corrupt":
				bad(d.field, "applies only to corrupt")
			case !slices.Contains(d.values, d.value):
				bad(d.field, "%q is not one of: %s", d.value, strings.Join(d.values, ", "))
			}
		}
		switch {
		case st.action() == "fsync-delay" && st.By <= 0:
			bad("by", "how long each fsync is delayed: must be positive, got %s", st.By)
		case st.action() != "fsync-delay" && st.By != 0:
			bad("by", "applies only to fsync-delay")
		}
		if (st.Delay != 0 || st.MaxDelay != 0) && st.When == nil {
			bad("delay", "applies only to a step with a when trigger (use a sleep step otherwise)")
		}
		if st.Window != "" {
			if _, err := regexp.Compile(st.Window); err != nil {
				bad("window", "not a regular expression: %v", err)
			}
			if st.When == nil || len(st.When.Log) == 0 {
				bad("window", "needs a log trigger: the window is measured on the trigger node's log")
			}
			if !slices.Contains([]string{"kill", "power-loss", "pause", "isolate"}, st.action()) {
				bad("window", "applies to a kill, power-loss, pause or isolate step")
			}
		}
		if w := st.When; w != nil {
			checkRef("when.node", w.Node)
			validateTrigger(*w, func(field, format string, args ...any) { bad("when."+field, format, args...) })
		}
	}
	return out
}

func validateTrigger(w Trigger, bad func(field, format string, args ...any)) {
	kinds := 0
	for _, set := range []bool{len(w.Log) > 0, w.Mntr != "", w.Role != ""} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		bad("", "give exactly one of log (regular expressions), mntr (with match) or role")
	}
	for j, re := range w.Log {
		if _, err := regexp.Compile(re); err != nil {
			bad(fmt.Sprintf("log[%d]", j), "not a regular expression: %v", err)
		}
	}
	if w.Since != "" && w.Since != SinceStart && w.Since != SinceNow {
		bad("since", "%q is not one of: start, now", w.Since)
	}
	if w.Since != "" && len(w.Log) == 0 {
		bad("since", "applies only to a log trigger")
	}
	if (w.Mntr == "") != (w.Match == "") {
		bad("match", "mntr and match go together: the field and a regular expression for its value")
	} else if w.Match != "" {
		if _, err := regexp.Compile(w.Match); err != nil {
			bad("match", "not a regular expression: %v", err)
		}
	}
	if w.Role != "" && w.Role != RoleLeader && w.Role != RoleFollower && w.Role != RoleDown {
		bad("role", "%q is not one of: leader, follower, down", w.Role)
	}
	if w.Timeout < 0 {
		bad("timeout", "must be positive")
	}
}

func isRole(s string) bool { return s == RoleLeader || s == RoleFollower || s == RoleAny }

var nodeNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

// looksLikeNodeName reports whether s could be a server's name: n1 for
// local ensembles, a pod name on Kubernetes. Which names exist is known
// only when the run starts.
func looksLikeNodeName(s string) bool { return nodeNameRE.MatchString(s) }
