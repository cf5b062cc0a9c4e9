// Package local runs a ZooKeeper ensemble as real server processes on this
// machine: one JVM per node, each with its own directory, data and log, every
// port on loopback. An Ensemble implements cluster.Killer: nodes can be
// killed with SIGKILL and started again on the same data; and
// cluster.Upgrader: each node can be restarted on another distribution.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/local/diskfs"
	"github.com/zkchaos/zkchaos/cluster/zkadmin"
	"github.com/zkchaos/zkchaos/internal/guard"
)

// Timings of the health checks.
const (
	// roleTimeout bounds one node's srvr in Roles.
	roleTimeout = time.Second
	// pollInterval is how often WaitHealthy asks for the roles.
	pollInterval = 100 * time.Millisecond
	// tailSize is how many log lines error messages quote.
	tailSize = 20
)

// Ensemble is a running local ensemble. It implements cluster.Killer,
// cluster.Upgrader and cluster.LogFollower (follow.go). All methods are safe
// for concurrent use.
type Ensemble struct {
	cfg Config
	// dist is the distribution the ensemble was started on.
	dist  Distribution
	log   *slog.Logger
	nodes []*node
	// guard starts the goroutines that live as long as the ensemble:
	// those of the context Start was given.
	guard guard.Guard

	// mu guards the process and the distribution of every node, and
	// closed.
	mu     sync.Mutex
	closed bool
	// clock controls the nodes' clocks (clock.go); nil without Config.Clock.
	clock *clocks
	// links holds the link proxies (partition.go); nil without
	// Config.Partitions.
	links *links
	// reconf holds what membership changes need (reconfig.go); nil
	// without Config.Reconfig.
	reconf *reconf
}

var _ cluster.Upgrader = (*Ensemble)(nil)

// node is one server of the ensemble.
type node struct {
	cluster.Node
	dir, dataDir, cfgPath, logPath string
	quorumPort, electPort          int
	// proc is the latest run of the server, nil before the first start.
	proc *process
	// paused is the run that Pause stopped (pause.go), if any.
	paused *process
	// dist is what the node runs from its next start on: the ensemble's,
	// until Restart moves it to another.
	dist Distribution
	// spare is a server beyond Config.Nodes that runs only while
	// SetMembership made it a member (reconfig.go).
	spare bool
	// disk is the diskfs over dataDir (disk.go); nil without Config.Disk.
	disk *diskfs.FS
	// damaged is set from Corrupt until a run loads the data, refuses it
	// (then the data is wiped) or Wipe empties it (wipe.go).
	damaged bool
}

// Start creates the nodes' directories and configuration under cfg.Dir,
// starts every server at once and waits until the ensemble is healthy (at
// most cfg.StartTimeout). On failure it kills whatever it started and the
// error names the nodes that failed, with the tail of their logs.
func Start(ctx context.Context, cfg Config) (*Ensemble, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start ZooKeeper ensemble in %s: %w", cfg.Dir, err)
	}
	nodesDir := filepath.Join(cfg.Dir, "nodes")
	if entries, err := os.ReadDir(nodesDir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s already holds the nodes of an earlier ensemble: use a fresh run directory", nodesDir)
	}
	dist, err := FindDistribution(ctx, cfg.Distribution)
	if err != nil {
		return nil, err
	}
	clock, err := newClocks(cfg)
	if err != nil {
		return nil, err
	}
	e, err := prepare(cfg, dist)
	if err != nil {
		return nil, err
	}
	e.clock, e.guard, e.reconf = clock, guard.From(ctx), newReconf(cfg)
	e.log.Info("starting ZooKeeper ensemble", "nodes", len(e.nodes), "dir", cfg.Dir,
		"distribution", dist.Name())
	fail := func(err error) (*Ensemble, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if cerr := e.Close(cctx); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, fmt.Errorf("start ZooKeeper ensemble in %s: %w", cfg.Dir, err)
	}
	if cfg.Disk {
		if err := e.mountDisks(); err != nil {
			return fail(err)
		}
	}
	if err := e.startLinks(ctx); err != nil {
		return fail(err)
	}
	e.mu.Lock()
	for _, n := range e.nodes {
		if n.spare {
			continue
		}
		if err := e.spawnLocked(n); err != nil {
			e.mu.Unlock()
			return fail(err)
		}
	}
	e.mu.Unlock()
	took, err := e.WaitHealthy(ctx, cfg.StartTimeout)
	if err != nil {
		return fail(err)
	}
	if err := e.syncDisks(); err != nil {
		return fail(err)
	}
	e.log.Info("ZooKeeper ensemble healthy", "took", took.Round(time.Millisecond), "roles", formatRoles(e.nodes, e.Roles(ctx)))
	return e, nil
}

// prepare writes every node's directory and files and returns the ensemble,
// with no process started.
func prepare(cfg Config, dist Distribution) (*Ensemble, error) {
	nodesDir := filepath.Join(cfg.Dir, "nodes")
	ports, err := freePorts(3 * (cfg.Nodes + cfg.Spares))
	if err != nil {
		return nil, err
	}
	peers := make([]peer, cfg.Nodes+cfg.Spares)
	for i := range peers {
		peers[i] = peer{id: i + 1, clientPort: ports[3*i], quorumPort: ports[3*i+1], electPort: ports[3*i+2]}
	}
	e := &Ensemble{cfg: cfg, dist: dist, log: cfg.Logger}
	for _, p := range peers {
		name := "n" + strconv.Itoa(p.id)
		dir := filepath.Join(nodesDir, name)
		n := &node{
			Node: cluster.Node{
				ID:         p.id,
				Name:       name,
				ClientAddr: net.JoinHostPort(loopback, strconv.Itoa(p.clientPort)),
			},
			dir:        dir,
			dataDir:    filepath.Join(dir, "data"),
			cfgPath:    filepath.Join(dir, "zoo.cfg"),
			logPath:    filepath.Join(dir, "zookeeper.log"),
			quorumPort: p.quorumPort,
			electPort:  p.electPort,
			dist:       dist,
			spare:      p.id > cfg.Nodes,
		}
		if err := os.MkdirAll(n.dataDir, 0o755); err != nil {
			return nil, fmt.Errorf("create node directory: %w", err)
		}
		files := map[string]string{
			n.cfgPath:                         renderZooCfg(cfg, p, n.dataDir, peers[:cfg.Nodes]),
			filepath.Join(n.dataDir, "myid"):  strconv.Itoa(p.id) + "\n",
			filepath.Join(n.dir, log4jFile):   log4jProperties,
			filepath.Join(n.dir, logbackFile): logbackXML,
		}
		if cfg.Reconfig {
			files[dynamicPath(n.dataDir)] = renderDynamic(initialLines(peers[:cfg.Nodes]))
		}
		for path, content := range files {
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				return nil, fmt.Errorf("write %s config: %w", name, err)
			}
		}
		e.nodes = append(e.nodes, n)
	}
	return e, nil
}

// command returns the argv and extra environment that start node n on its
// distribution; e.mu must be held.
func (e *Ensemble) command(n *node) (argv, env []string) {
	flags := append([]string(nil), e.cfg.JVMFlags...)
	if e.cfg.NodeJVMFlags != nil {
		flags = append(flags, e.cfg.NodeJVMFlags(n.Node)...)
	}
	if !e.cfg.ForceSync {
		flags = append(flags, "-Dzookeeper.forceSync=no")
	}
	if e.cfg.NodeEnv != nil {
		env = e.cfg.NodeEnv(n.Node)
	}
	if e.reconf != nil {
		flags = append(flags, e.reconf.superFlag())
	}
	return n.dist.Command(flags, n.dir, n.cfgPath), env
}

// spawnLocked starts node n's server; e.mu must be held.
func (e *Ensemble) spawnLocked(n *node) error {
	argv, env := e.command(n)
	env, err := e.clockEnvLocked(n, env)
	if err != nil {
		return fmt.Errorf("start %s: %w", n.Name, err)
	}
	p, err := startProcess(e.guard, argv, n.dir, env, n.logPath, func(p *process) { e.exited(n, p) })
	if err != nil {
		return fmt.Errorf("start %s: %w", n.Name, err)
	}
	n.proc = p
	if err := recordPID(n.dir, p.pid); err != nil {
		e.log.Warn("zkchaos heal will not find this server's libfaketime files", "node", n.Name, "pid", p.pid, "err", err)
	}
	e.log.Info("ZooKeeper node started", "node", n.Name, "pid", p.pid, "client_addr", n.ClientAddr,
		"distribution", n.dist.Name())
	return nil
}

// exited logs the end of one of n's processes.
func (e *Ensemble) exited(n *node, p *process) {
	e.clockExited(p)
	if p.outputCut {
		e.log.Warn("ZooKeeper node's output still open after it exited: the rest is dropped",
			"node", n.Name, "pid", p.pid, "waited", outputGrace, "log", n.logPath)
	}
	if p.outputErr != nil {
		e.log.Error("ZooKeeper node's output not fully written to its log", "node", n.Name, "pid", p.pid,
			"log", n.logPath, "err", p.outputErr)
	}
	if p.killed.Load() {
		e.log.Debug("ZooKeeper node exited", "node", n.Name, "pid", p.pid, "status", exitStatus(p.err))
		return
	}
	e.log.Error("ZooKeeper node exited on its own", "node", n.Name, "pid", p.pid,
		"status", exitStatus(p.err), "ran", time.Since(p.started).Round(time.Millisecond), "log", n.logPath)
}

// exitStatus renders a Wait error.
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// Nodes lists every server but the spares (see Spares), in myid order.
func (e *Ensemble) Nodes() []cluster.Node {
	var out []cluster.Node
	for _, n := range e.nodes {
		if !n.spare {
			out = append(out, n.Node)
		}
	}
	return out
}

// Distribution returns the ZooKeeper installation the ensemble was started
// on; Version tells what each node runs since.
func (e *Ensemble) Distribution() Distribution { return e.dist }

// lookup finds the ensemble's node for a cluster.Node, by name or id.
func (e *Ensemble) lookup(target cluster.Node) (*node, error) {
	for _, n := range e.nodes {
		if (target.Name != "" && n.Name == target.Name) || (target.Name == "" && n.ID == target.ID) {
			return n, nil
		}
	}
	return nil, fmt.Errorf("no node %q (id %d) in this ensemble", target.Name, target.ID)
}

// LogPath returns the file that a node's server output goes to, or "" for a
// node of another ensemble.
func (e *Ensemble) LogPath(target cluster.Node) string {
	n, err := e.lookup(target)
	if err != nil {
		return ""
	}
	return n.logPath
}

// PeerPorts returns a node's quorum and election ports (both on loopback).
func (e *Ensemble) PeerPorts(target cluster.Node) (quorum, election int, err error) {
	n, err := e.lookup(target)
	if err != nil {
		return 0, 0, err
	}
	return n.quorumPort, n.electPort, nil
}

// Running reports whether the node's server process is up and not being
// killed: a node killed a moment ago is not running, even while its process
// exits, so that a heal starts it again.
func (e *Ensemble) Running(target cluster.Node) bool {
	n, err := e.lookup(target)
	if err != nil {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return n.proc != nil && !n.proc.exited() && !n.proc.killed.Load()
}

// PIDs maps the name of every running node to its process id, which is also
// its process group id; a later `zkchaos heal` can kill leftovers with it.
func (e *Ensemble) PIDs() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int, len(e.nodes))
	for _, n := range e.nodes {
		if n.proc != nil && !n.proc.exited() {
			out[n.Name] = n.proc.pid
		}
	}
	return out
}

// Kill stops the node's server at once with SIGKILL to its process group and
// waits until it has exited. Killing a node that is not running does
// nothing.
func (e *Ensemble) Kill(ctx context.Context, target cluster.Node) error {
	n, err := e.lookup(target)
	if err != nil {
		return fmt.Errorf("kill: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.killLocked(ctx, n); err != nil {
		return fmt.Errorf("kill %s: %w", n.Name, err)
	}
	return nil
}

// killLocked kills node n's server, if it runs, and waits until it has
// exited; e.mu must be held.
func (e *Ensemble) killLocked(ctx context.Context, n *node) error {
	p := n.proc
	if p == nil || p.exited() {
		return nil
	}
	if err := p.kill(); err != nil {
		return err
	}
	if err := waitExit(ctx, p); err != nil {
		return err
	}
	e.log.Info("ZooKeeper node killed", "node", n.Name, "pid", p.pid)
	return nil
}

// waitExit waits until p has exited or ctx ends.
func waitExit(ctx context.Context, p *process) error {
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for pid %d to exit: %w", p.pid, ctx.Err())
	}
}

// Start starts the node's server again on its data, configuration and
// distribution, with the same command as before. It returns once the process runs, without
// waiting for it to join the ensemble (use WaitHealthy). Starting a running
// node does nothing; starting a node that is being killed waits for it to
// exit first. On data Corrupt damaged, it waits until the server has loaded
// its data or refused it: see repairIfRefused.
func (e *Ensemble) Start(ctx context.Context, target cluster.Node) error {
	n, err := e.lookup(target)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	p, damaged, err := e.start(ctx, n)
	if err != nil || !damaged {
		return err
	}
	return e.repairIfRefused(ctx, n, p)
}

// start starts n's server unless it runs, and returns the run it started
// (nil if none) and whether that run starts on data Corrupt damaged.
func (e *Ensemble) start(ctx context.Context, n *node) (*process, bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, false, fmt.Errorf("start %s: the ensemble is closed", n.Name)
	}
	if p := n.proc; p != nil && !p.exited() {
		if !p.killed.Load() {
			return nil, false, nil
		}
		if err := waitExit(ctx, p); err != nil {
			return nil, false, fmt.Errorf("start %s: %w", n.Name, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("start %s: %w", n.Name, err)
	}
	if err := e.spawnLocked(n); err != nil {
		return nil, false, err
	}
	return n.proc, n.damaged, nil
}

// Close kills every server and waits until all have exited; the nodes'
// directories stay. It may be called more than once, and concurrently with
// Kill and Start; after it, Start fails.
func (e *Ensemble) Close(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	first := !e.closed
	e.closed = true
	var errs []error
	for _, n := range e.nodes {
		if p := n.proc; p != nil && !p.exited() {
			if err := p.kill(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
			}
		}
	}
	errs = append(errs, e.thawLocked()...)
	for _, n := range e.nodes {
		if p := n.proc; p != nil {
			if err := waitExit(ctx, p); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
			}
		}
	}
	if err := e.closeLinks(); err != nil {
		errs = append(errs, err)
	}
	if err := e.unmountDisksLocked(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("close ZooKeeper ensemble: %w", errors.Join(errs...))
	}
	if first {
		e.log.Info("ZooKeeper ensemble closed", "dir", e.cfg.Dir)
	}
	return nil
}

// Roles asks every server for its role with srvr, all at once, each with a
// short deadline. A node whose process is not running, that does not
// answer, or that answers it is not serving or is anything but a leader, a
// follower or an observer, is cluster.Down; a node that runs outside the
// configuration is cluster.Removed. Spares are there while they run.
func (e *Ensemble) Roles(ctx context.Context) map[string]cluster.Role {
	running := make([]bool, len(e.nodes))
	e.mu.Lock()
	for i, n := range e.nodes {
		running[i] = n.proc != nil && !n.proc.exited()
	}
	e.mu.Unlock()
	got := make([]cluster.Role, len(e.nodes))
	var g guard.Group
	for i, n := range e.nodes {
		got[i] = cluster.Down
		if !running[i] {
			continue
		}
		g.Go("role of "+n.Name, func() {
			rctx, cancel := context.WithTimeout(ctx, roleTimeout)
			defer cancel()
			role, err := zkadmin.Srvr(rctx, n.ClientAddr)
			if err != nil {
				e.log.Debug("srvr failed", "node", n.Name, "err", err)
			}
			got[i] = role
		})
	}
	g.Wait()
	roles := make(map[string]cluster.Role, len(e.nodes))
	for i, n := range e.nodes {
		if !n.spare || running[i] {
			roles[n.Name] = got[i]
		}
	}
	e.markRemoved(roles)
	return roles
}

// healthy reports whether every one of nodes leads or follows and exactly
// one leads.
func healthy(nodes []cluster.Node, roles map[string]cluster.Role) bool {
	leaders := 0
	for _, n := range nodes {
		switch roles[n.Name] {
		case cluster.Leader:
			leaders++
		case cluster.Follower:
		default:
			return false
		}
	}
	return leaders == 1
}

// WaitHealthy polls the roles until every server leads or follows and
// exactly one leads, and returns how long that took. It fails at once when
// the ensemble is closed or a server's process exited on its own (a crash),
// and after timeout with every node's role and the log tail of the nodes
// that do not serve.
func (e *Ensemble) WaitHealthy(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		roles := e.Roles(ctx)
		if healthy(e.Nodes(), roles) {
			return time.Since(start), nil
		}
		if err := e.crashedOrClosed(); err != nil {
			return time.Since(start), err
		}
		select {
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("ensemble not healthy (%s): %w\n%s",
				formatRoles(e.nodes, roles), ctx.Err(), e.tails(roles))
		case <-deadline.C:
			return time.Since(start), fmt.Errorf("ensemble not healthy after %v: %s "+
				"(want every node leader or follower and exactly one leader)\n%s",
				timeout, formatRoles(e.nodes, roles), e.tails(roles))
		case <-tick.C:
		}
	}
}

// crashedOrClosed returns an error when the ensemble is closed or a node's
// process exited without being killed by this package.
func (e *Ensemble) crashedOrClosed() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("the ensemble is closed")
	}
	var msgs []string
	for _, n := range e.nodes {
		p := n.proc
		if p == nil || !p.exited() || p.killed.Load() {
			continue
		}
		msgs = append(msgs, fmt.Sprintf("node %s (pid %d) exited on its own after %v (%s); last lines of %s:\n%s",
			n.Name, p.pid, time.Since(p.started).Round(time.Millisecond), exitStatus(p.err), n.logPath,
			indent(tailLines(n.logPath, tailSize))))
	}
	if len(msgs) > 0 {
		return errors.New(strings.Join(msgs, "\n"))
	}
	return nil
}

// tails quotes the log tail of every node that is not a leader or follower.
func (e *Ensemble) tails(roles map[string]cluster.Role) string {
	var b strings.Builder
	for _, n := range e.nodes {
		if r := roles[n.Name]; r == cluster.Leader || r == cluster.Follower {
			continue
		}
		state := "not running"
		if e.Running(n.Node) {
			state = "running"
		}
		if e.Paused(n.Node) {
			state = "paused"
		}
		fmt.Fprintf(&b, "node %s (%s) is %s; last lines of %s:\n%s\n", n.Name, state, roles[n.Name], n.logPath,
			indent(tailLines(n.logPath, tailSize)))
	}
	return strings.TrimRight(b.String(), "\n")
}

// formatRoles renders roles in node order: "n1=leader n2=follower".
func formatRoles(nodes []*node, roles map[string]cluster.Role) string {
	parts := make([]string, 0, len(nodes))
	for _, n := range nodes {
		if r, ok := roles[n.Name]; ok {
			parts = append(parts, n.Name+"="+string(r))
		}
	}
	return strings.Join(parts, " ")
}

// indent prefixes every line of s with four spaces.
func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
