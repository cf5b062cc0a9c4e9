package nemesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/zkadmin"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// Script runs scripted steps once, in order. Every step is recorded: a
// trigger as an FTrigger record with what it saw, an action as an invoke and
// a completion carrying the step number and its trigger, a sleep, wait or
// binding as an FStep record.
type Script struct {
	// Steps are run in order.
	Steps []ScriptStep
	// Seed fixes every random choice: delays, followers and nodes drawn.
	Seed int64
	// Logger receives a line per step.
	Logger *slog.Logger
}

// pollEvery is how often mntr and role triggers and leader waits ask.
const pollEvery = 10 * time.Millisecond

// windowSettle is how long, after an action, the log may stay quiet before
// every line written before the action is taken to have been read.
const windowSettle = 200 * time.Millisecond

// Available says why the cluster cannot run the script, or nil: each
// action step asks what its fault kind needs, each log trigger that the
// cluster follows logs.
func (s Script) Available(c cluster.Cluster) error {
	for i, st := range s.Steps {
		var err error
		if k, ok := st.kind(); ok {
			err = Spec{Kind: k}.available(c)
		}
		if err == nil && st.When != nil && len(st.When.Log) > 0 {
			err = cluster.Supports(c, cluster.CapFollowLog)
		}
		if err != nil {
			return fmt.Errorf("script step %d (%s): %w", i+1, st.Describe(), err)
		}
	}
	return nil
}

// Run runs the steps until the last one is done, a step fails, or ctx ends,
// and returns. A step that fails (a trigger that never fires, a node that
// cannot be killed) is recorded with its error and ends the script; the run
// is judged all the same, and the error is returned. Faults in force when
// the script ends stay for the caller's HealAll.
func (s Script) Run(ctx context.Context, c cluster.Cluster, rec Recorder) error {
	r := &scriptRun{Script: s, c: c, rec: rec, log: orDiscard(s.Logger),
		rng:   rand.New(rand.NewPCG(uint64(s.Seed), 0x736372697074)), // "script"
		bound: map[string]string{}, acted: map[int][]string{}}
	for i, st := range s.Steps {
		n := i + 1
		if err := r.step(ctx, n, st); err != nil {
			if ctx.Err() != nil {
				r.log.Info("script cut short", "step", n, "reason", context.Cause(ctx))
				return nil
			}
			r.log.Warn("script stopped", "step", n, "what", st.Describe(), "err", err)
			return fmt.Errorf("script step %d (%s): %w", n, st.Describe(), err)
		}
	}
	r.log.Info("script done", "steps", len(s.Steps))
	return nil
}

// scriptRun is the state of one script's run.
type scriptRun struct {
	Script
	c     cluster.Cluster
	rec   Recorder
	log   *slog.Logger
	rng   *rand.Rand
	bound map[string]string // bound name -> node name
	acted map[int][]string  // step number -> node names it acted on
}

func (r *scriptRun) step(ctx context.Context, n int, st ScriptStep) error {
	label := fmt.Sprintf("step %d: %s", n, st.Describe())
	var trig *history.Trigger
	var rest <-chan cluster.LogLine
	stepCtx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the log follow kept for the window
	if st.When != nil {
		var err error
		trig, rest, err = r.await(stepCtx, *st.When)
		op := history.Op{Type: history.Info, F: history.FTrigger, Process: history.NemesisProcess,
			Fault: &history.Fault{Name: label, Step: n, Trigger: trig}}
		if trig != nil {
			op.Fault.Targets = []string{trig.Node}
		}
		if err != nil {
			op.Error = err.Error()
		}
		record(r.rec, r.log, op)
		if err != nil {
			return err
		}
		r.log.Info("trigger fired", "step", n, "node", trig.Node, "saw", trig.Saw)
		if d := between(r.rng, st.Delay, max(st.Delay, st.MaxDelay)); d > 0 {
			trig.DelayNS = int64(d)
			if !sleep(ctx, d) {
				return ctx.Err()
			}
		}
	}
	switch a := st.action(); a {
	case "":
		return nil
	case "sleep":
		record(r.rec, r.log, r.note(n, label))
		if !sleep(ctx, st.Sleep) {
			return ctx.Err()
		}
		return nil
	case "wait-leader":
		leader, waited, err := r.waitLeader(ctx, st.WaitLeader)
		op := r.note(n, label)
		if err != nil {
			op.Error = err.Error()
		} else {
			op.Fault.Targets = []string{leader}
			op.Fault.Detail = "leader after " + waited.Round(time.Millisecond).String()
		}
		record(r.rec, r.log, op)
		return err
	case "wait-healthy":
		took, err := r.c.WaitHealthy(ctx, st.WaitHealthy)
		op := r.note(n, label)
		if err != nil {
			op.Error = err.Error()
		} else {
			op.Fault.Detail = "healthy after " + took.Round(time.Millisecond).String()
		}
		record(r.rec, r.log, op)
		return err
	case "bind":
		node, err := r.bind(ctx, st)
		op := r.note(n, label)
		if err != nil {
			op.Error = err.Error()
		} else {
			op.Fault.Targets = []string{node}
			op.Fault.Detail = st.Bind + " = " + node
		}
		record(r.rec, r.log, op)
		return err
	default:
		return r.act(ctx, n, label, a, st, trig, rest)
	}
}

// note builds the FStep record of a step that changes nothing in the
// cluster.
func (r *scriptRun) note(n int, label string) history.Op {
	return history.Op{Type: history.Info, F: history.FStep, Process: history.NemesisProcess,
		Fault: &history.Fault{Name: label, Step: n}}
}

// act applies a kill, start, pause, resume, isolate, power-loss, wipe,
// corrupt, fsync-delay or heal, recorded as an
// invoke and a completion, and measures the window when the step names one.
func (r *scriptRun) act(ctx context.Context, n int, label, action string, st ScriptStep, trig *history.Trigger, rest <-chan cluster.LogLine) error {
	nodes, err := r.resolve(ctx, st.targets())
	if err != nil {
		op := history.Op{Type: history.Fail, F: action, Process: history.NemesisProcess,
			Fault: &history.Fault{Name: label, Step: n, Trigger: trig}, Error: err.Error()}
		record(r.rec, r.log, op)
		return err
	}
	if action == "heal" {
		nodes = r.c.Nodes()
	}
	f := action
	if action == "isolate" {
		p, _ := fault.Of(fault.Partition)
		f = p.Action
	}
	payload := &history.Fault{Name: label, Step: n, Targets: names(nodes), Trigger: trig}
	invoke := history.Op{Type: history.Invoke, F: f, Process: history.NemesisProcess, Fault: payload}
	record(r.rec, r.log, invoke)
	done := invoke
	done.Type = history.Info
	done.Fault = &history.Fault{Name: label, Step: n, Targets: names(nodes)}
	err = r.apply(ctx, st, action, nodes, done.Fault)
	applied := time.Now()
	if trig != nil {
		t := *trig
		if st.Window != "" && err == nil {
			t.Window, t.Closed = measureWindow(rest, regexp.MustCompile(st.Window), applied)
		}
		done.Fault.Trigger = &t
	}
	if err != nil {
		done.Error = err.Error()
	}
	record(r.rec, r.log, done)
	r.acted[n] = names(nodes)
	if err != nil {
		return err
	}
	r.log.Info("script step done", "step", n, "action", action, "targets", names(nodes))
	return nil
}

// apply does the step's action to the nodes and notes in done what the
// action chose: an isolation's grudge, the bytes a corruption flipped.
func (r *scriptRun) apply(ctx context.Context, st ScriptStep, action string, nodes []cluster.Node, done *history.Fault) error {
	switch action {
	case "kill":
		return each(nodes, func(n cluster.Node) error { return r.c.(cluster.Killer).Kill(ctx, n) })
	case "start":
		return each(nodes, func(n cluster.Node) error { return r.c.(cluster.Killer).Start(ctx, n) })
	case "pause":
		return each(nodes, func(n cluster.Node) error { return r.c.(cluster.Pauser).Pause(ctx, n) })
	case "resume":
		return each(nodes, func(n cluster.Node) error { return r.c.(cluster.Pauser).Resume(ctx, n) })
	case "power-loss":
		return each(nodes, func(n cluster.Node) error { return r.c.(cluster.Disker).PowerLoss(ctx, n) })
	case "wipe":
		return each(nodes, func(n cluster.Node) error { return r.c.(cluster.Wiper).Wipe(ctx, n) })
	case "corrupt":
		return each(nodes, func(n cluster.Node) error {
			what, err := r.c.(cluster.Wiper).Corrupt(ctx, n, st.damage())
			if what != "" {
				done.Detail = joinDetail(done.Detail, n.Name+": "+what)
			}
			return err
		})
	case "isolate":
		g, err := buildGrudge(GrudgeIsolate, names(r.c.Nodes()), names(nodes))
		if err != nil {
			return err
		}
		done.Grudge = g
		return r.c.(cluster.Partitioner).Partition(ctx, g, cluster.LinkReset)
	case "fsync-delay":
		return each(nodes, func(n cluster.Node) error {
			return r.c.(cluster.Disker).SetDiskFaults(ctx, n, cluster.DiskFaults{FsyncDelay: st.By})
		})
	case "heal":
		if err := r.c.(cluster.Partitioner).HealLinks(ctx); err != nil {
			return err
		}
		// As HealAll does: the disks' faults too, where the cluster has them.
		if (Spec{Kind: fault.FsyncDelay}).available(r.c) != nil {
			return nil
		}
		return each(nodes, func(n cluster.Node) error {
			return r.c.(cluster.Disker).SetDiskFaults(ctx, n, cluster.DiskFaults{})
		})
	}
	return fmt.Errorf("unknown action %q", action)
}

// measureWindow reads the lines the node logged after the trigger: the
// window was missed when a line matching closeRE was received before the
// action was applied. Lines received after that time end the measurement,
// and so does a quiet log (every earlier line has been read by then).
func measureWindow(lines <-chan cluster.LogLine, closeRE *regexp.Regexp, applied time.Time) (outcome, closed string) {
	if lines == nil {
		return "", ""
	}
	quiet := time.NewTimer(windowSettle)
	defer quiet.Stop()
	for {
		select {
		case l, ok := <-lines:
			if !ok || l.At.After(applied) {
				return history.WindowLanded, ""
			}
			if closeRE.MatchString(l.Text) {
				return history.WindowMissed, l.Text
			}
			quiet.Reset(windowSettle)
		case <-quiet.C:
			return history.WindowLanded, ""
		}
	}
}

// resolve turns node references into nodes: a bound name, a node name, or
// a role resolved now.
func (r *scriptRun) resolve(ctx context.Context, refs []string) ([]cluster.Node, error) {
	var out []cluster.Node
	for _, ref := range refs {
		n, err := r.resolveOne(ctx, ref, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// resolveOne resolves one reference; a role picks among the nodes not in
// exclude.
func (r *scriptRun) resolveOne(ctx context.Context, ref string, exclude []string) (cluster.Node, error) {
	all := r.c.Nodes()
	byName := func(name string) (cluster.Node, bool) {
		for _, n := range all {
			if n.Name == name {
				return n, true
			}
		}
		return cluster.Node{}, false
	}
	if name, ok := r.bound[ref]; ok {
		n, _ := byName(name)
		return n, nil
	}
	if n, ok := byName(ref); ok {
		return n, nil
	}
	var candidates []string
	switch ref {
	case RoleLeader:
		l := cluster.LeaderOf(r.c.Roles(ctx))
		if l == "" {
			return cluster.Node{}, errors.New("no single leader now")
		}
		candidates = []string{l}
	case RoleFollower:
		roles := r.c.Roles(ctx)
		for _, n := range all {
			if roles[n.Name] == cluster.Follower {
				candidates = append(candidates, n.Name)
			}
		}
	case RoleAny:
		candidates = names(all)
	default:
		return cluster.Node{}, fmt.Errorf("%q is neither a node (%s), a bound name nor a role", ref,
			strings.Join(names(all), ", "))
	}
	candidates = without(candidates, exclude)
	if len(candidates) == 0 {
		return cluster.Node{}, fmt.Errorf("no node is %s now", ref)
	}
	n, _ := byName(candidates[r.rng.IntN(len(candidates))])
	return n, nil
}

// bind resolves a bind step and remembers the name.
func (r *scriptRun) bind(ctx context.Context, st ScriptStep) (string, error) {
	var node string
	if st.From > 0 {
		acted := r.acted[st.From]
		if len(acted) == 0 {
			return "", fmt.Errorf("step %d acted on no node", st.From)
		}
		node = acted[0]
	} else {
		exclude := slices.Collect(maps.Values(r.bound))
		if st.Role == RoleLeader {
			exclude = nil
		}
		n, err := r.resolveOne(ctx, st.Role, exclude)
		if err != nil {
			return "", err
		}
		node = n.Name
	}
	r.bound[st.Bind] = node
	return node, nil
}

// waitLeader polls until exactly one node leads.
func (r *scriptRun) waitLeader(ctx context.Context, timeout time.Duration) (string, time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if l := cluster.LeaderOf(r.c.Roles(ctx)); l != "" {
			return l, time.Since(start), nil
		}
		if !sleep(ctx, pollEvery*10) {
			return "", time.Since(start), fmt.Errorf("no leader within %s", timeout)
		}
	}
}

// await waits for the trigger and returns what it saw; for a log trigger it
// also returns the rest of the node's log, still followed until ctx ends.
func (r *scriptRun) await(ctx context.Context, w Trigger) (*history.Trigger, <-chan cluster.LogLine, error) {
	node, err := r.resolveOne(ctx, w.Node, nil)
	if err != nil {
		return nil, nil, err
	}
	timeout := w.Timeout
	if timeout == 0 {
		timeout = defaultTriggerTimeout
	}
	t := &history.Trigger{Node: node.Name}
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case len(w.Log) > 0:
		lines, err := r.c.(cluster.LogFollower).FollowLog(ctx, node, w.Since != SinceNow)
		if err != nil {
			return t, nil, err
		}
		saw, err := matchSequence(waitCtx, lines, w.Log)
		if err != nil {
			return t, nil, fmt.Errorf("%s never logged what the trigger waits for within %s: %w", node.Name, timeout, err)
		}
		t.Saw = saw
		return t, lines, nil
	case w.Mntr != "":
		re := regexp.MustCompile(w.Match)
		saw, err := poll(waitCtx, func() (string, bool) {
			reply, err := zkadmin.FourLetter(waitCtx, node.ClientAddr, "mntr")
			if err != nil {
				return "", false
			}
			v, ok := zkadmin.MntrValue(reply, w.Mntr)
			v = strings.TrimSpace(v)
			return w.Mntr + "=" + v, ok && re.MatchString(v)
		})
		t.Saw = saw // on failure, the last value seen
		if err != nil {
			return t, nil, fmt.Errorf("%s's %s never matched /%s/ within %s (last: %q)", node.Name, w.Mntr, w.Match, timeout, saw)
		}
		return t, nil, nil
	default:
		saw, err := poll(waitCtx, func() (string, bool) {
			role := r.c.Roles(waitCtx)[node.Name]
			return "role=" + string(role), string(role) == w.Role
		})
		t.Saw = saw
		if err != nil {
			return t, nil, fmt.Errorf("%s was never %s within %s (last: %s)", node.Name, w.Role, timeout, saw)
		}
		return t, nil, nil
	}
}

// matchSequence reads lines until the patterns have matched, in order, and
// returns the line that matched the last.
func matchSequence(ctx context.Context, lines <-chan cluster.LogLine, patterns []string) (string, error) {
	res := make([]*regexp.Regexp, len(patterns))
	for i, p := range patterns {
		res[i] = regexp.MustCompile(p)
	}
	next := 0
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return "", errors.New("the log follow ended")
			}
			if res[next].MatchString(l.Text) {
				next++
				if next == len(res) {
					return l.Text, nil
				}
			}
		case <-ctx.Done():
			return "", fmt.Errorf("matched %d of %d patterns: %w", next, len(res), ctx.Err())
		}
	}
}

// poll calls check every pollEvery until it reports true or ctx ends; it
// returns the last value seen.
func poll(ctx context.Context, check func() (string, bool)) (string, error) {
	last := ""
	for {
		v, ok := check()
		if v != "" {
			last = v
		}
		if ok {
			return last, nil
		}
		if !sleep(ctx, pollEvery) {
			return last, ctx.Err()
		}
	}
}
