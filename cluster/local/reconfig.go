package local

import (
	"context"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // ZooKeeper's digest scheme is SHA-1
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/zkadmin"
)

// Bounds of a membership change.
const (
	// reconfigTimeout bounds one SetMembership: starting the spares that
	// join, the reconfiguration, and reading the configuration back.
	reconfigTimeout = 45 * time.Second
	// membershipTimeout bounds reading the configuration, tries included.
	membershipTimeout = 20 * time.Second
	// reconfigTries bounds how often SetMembership tries the change, each
	// time from the configuration then in force.
	reconfigTries = 3
	// retryInterval is the pause between two tries to read it.
	retryInterval = 250 * time.Millisecond
	// adminSession is the session timeout of the connection that reads and
	// changes the configuration.
	adminSession = 10 * time.Second
	// configZnode holds the ensemble's configuration.
	configZnode = "/zookeeper/config"
	// superUser is the user whose digest the servers accept as super user,
	// which a reconfiguration needs.
	superUser = "super"
)

var _ cluster.Reconfigurer = (*Ensemble)(nil)

// reconf is what membership changes need: the super user's password, which
// only this process knows (the servers get its digest), and the membership
// last read.
type reconf struct {
	password string
	// change serializes SetMembership.
	change sync.Mutex
	// mu guards current and joining.
	mu      sync.Mutex
	current cluster.Membership
	// joining are the spares started to join that the configuration last
	// read does not hold yet.
	joining map[string]bool
}

// newReconf returns the membership machinery of an ensemble started with
// Config.Reconfig, or nil.
func newReconf(cfg Config) *reconf {
	if !cfg.Reconfig {
		return nil
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return &reconf{password: hex.EncodeToString(b)}
}

// superFlag is the JVM flag that makes the servers accept the super user:
// the digest of its password, never the password itself. A reconfiguration
// needs the super user (or skipACL, which would drop every ACL for every
// client); the password lives only in this process, and the servers listen
// on loopback.
func (r *reconf) superFlag() string {
	sum := sha1.Sum([]byte(superUser + ":" + r.password)) //nolint:gosec // ZooKeeper's digest scheme
	return "-Dzookeeper.DigestAuthenticationProvider.superDigest=" + superUser + ":" +
		base64.StdEncoding.EncodeToString(sum[:])
}

// dynamicPath is the dynamic configuration file the ensemble writes for a
// node whose data directory is dataDir; the servers write later versions
// beside it.
func dynamicPath(dataDir string) string {
	return filepath.Join(filepath.Dir(dataDir), "zoo.cfg.dynamic")
}

// Member roles in a dynamic configuration's server lines.
const (
	participant = "participant"
	observer    = "observer"
)

// serverLine renders p's line of a dynamic configuration, every address on
// loopback: server.ID=host:quorum:election:role;host:client.
func (p peer) serverLine(role string) string {
	return fmt.Sprintf("server.%d=%s:%d:%d:%s;%s:%d", p.id, loopback, p.quorumPort, p.electPort, role,
		loopback, p.clientPort)
}

// renderDynamic renders a dynamic configuration file of server lines.
func renderDynamic(lines []string) string {
	return strings.Join(lines, "\n") + "\n"
}

// initialLines are the server lines of the configuration the ensemble
// starts with: every peer a participant.
func initialLines(peers []peer) []string {
	out := make([]string, len(peers))
	for i, p := range peers {
		out[i] = p.serverLine(participant)
	}
	return out
}

// peerOf returns what a dynamic configuration says about n.
func (n *node) peerOf() peer {
	_, port, _ := net.SplitHostPort(n.ClientAddr)
	client, _ := strconv.Atoi(port)
	return peer{id: n.ID, clientPort: client, quorumPort: n.quorumPort, electPort: n.electPort}
}

// parseConfig reads /zookeeper/config's data: server.N lines (a member is a
// participant unless its line says observer) and the version line. names
// maps server ids to node names.
func parseConfig(data string, names map[int]string) (cluster.Membership, error) {
	var m cluster.Membership
	type member struct {
		id       int
		observer bool
	}
	var members []member
	for line := range strings.SplitSeq(data, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "version="); ok {
			m.Version = v
			continue
		}
		rest, ok := strings.CutPrefix(line, "server.")
		if !ok {
			continue
		}
		idText, spec, ok := strings.Cut(rest, "=")
		id, err := strconv.Atoi(idText)
		if !ok || err != nil || names[id] == "" {
			return m, fmt.Errorf("configuration line %q names no server of this ensemble", line)
		}
		addrs, _, _ := strings.Cut(spec, ";")
		members = append(members, member{id: id, observer: strings.HasSuffix(addrs, ":"+observer)})
	}
	if m.Version == "" {
		return m, fmt.Errorf("configuration %q has no version line", data)
	}
	slices.SortFunc(members, func(a, b member) int { return a.id - b.id })
	for _, mb := range members {
		if mb.observer {
			m.Observers = append(m.Observers, names[mb.id])
		} else {
			m.Voters = append(m.Voters, names[mb.id])
		}
	}
	return m, nil
}

// changeOf is what turns cur into want: the names that join or change
// their role, each with its role in want, and the names that leave.
func changeOf(cur, want cluster.Membership) (joining map[string]string, leaving []string) {
	joining = map[string]string{}
	for _, v := range want.Voters {
		if !slices.Contains(cur.Voters, v) {
			joining[v] = participant
		}
	}
	for _, o := range want.Observers {
		if !slices.Contains(cur.Observers, o) {
			joining[o] = observer
		}
	}
	for _, name := range append(slices.Clone(cur.Voters), cur.Observers...) {
		if !want.Has(name) {
			leaving = append(leaving, name)
		}
	}
	return joining, leaving
}

// Spares lists the servers beyond Nodes that SetMembership can add.
func (e *Ensemble) Spares() []cluster.Node {
	var out []cluster.Node
	for _, n := range e.nodes {
		if n.spare {
			out = append(out, n.Node)
		}
	}
	return out
}

// Initial is the membership the ensemble started with: every node a voter.
func (e *Ensemble) Initial() cluster.Membership {
	var m cluster.Membership
	for _, n := range e.Nodes() {
		m.Voters = append(m.Voters, n.Name)
	}
	return m
}

// names maps every server's id, spares included, to its name.
func (e *Ensemble) names() map[int]string {
	out := map[int]string{}
	for _, n := range e.nodes {
		out[n.ID] = n.Name
	}
	return out
}

// markRemoved marks the nodes outside the membership last read as removed,
// or as joining when they were started to join it.
func (e *Ensemble) markRemoved(roles map[string]cluster.Role) {
	if e.reconf == nil {
		return
	}
	e.reconf.mu.Lock()
	defer e.reconf.mu.Unlock()
	cur := e.reconf.current
	if cur.Version == "" {
		return // not read yet: the initial membership
	}
	for name := range roles {
		switch {
		case cur.Has(name):
		case e.reconf.joining[name]:
			roles[name] = cluster.Joining
		default:
			roles[name] = cluster.Removed
		}
	}
}

// errNoReconfig says why membership changes fail without Config.Reconfig.
var errNoReconfig = errors.New("the ensemble was started without dynamic reconfiguration " +
	"(start it with local.Config{Reconfig: true})")

// admin runs f on a connection to the running servers, authenticated as the
// super user, and closes it; ctx ending closes the connection, which ends
// f's pending request.
func (e *Ensemble) admin(ctx context.Context, f func(*zk.Conn) error) error {
	if e.reconf == nil {
		return errNoReconfig
	}
	var addrs []string
	for _, n := range e.nodes {
		if e.Running(n.Node) {
			addrs = append(addrs, n.ClientAddr)
		}
	}
	if len(addrs) == 0 {
		return errors.New("no server runs")
	}
	conn, _, err := zk.Connect(addrs, adminSession, zk.WithLogger(silent{}))
	if err != nil {
		return fmt.Errorf("connect to %v: %w", addrs, err)
	}
	defer conn.Close()
	done := make(chan error, 1)
	e.guard.Go("reconfiguration request", func() {
		if err := conn.AddAuth("digest", []byte(superUser+":"+e.reconf.password)); err != nil {
			done <- fmt.Errorf("authenticate as super user: %w", err)
			return
		}
		done <- f(conn)
	})
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		conn.Close() // fails the pending request at once
		<-done
		return ctx.Err()
	}
}

// silent drops go-zookeeper's log lines.
type silent struct{}

// Printf drops a line.
func (silent) Printf(string, ...any) {}

// Membership reads the configuration in force from the ensemble (after a
// sync, so that it is the leader's) and remembers it for Roles. While the
// servers elect a leader (after a reconfiguration, say) it tries again,
// for at most membershipTimeout.
func (e *Ensemble) Membership(ctx context.Context) (cluster.Membership, error) {
	ctx, cancel := context.WithTimeout(ctx, membershipTimeout)
	defer cancel()
	for {
		m, err := e.readMembership(ctx)
		if err == nil || errors.Is(err, errNoReconfig) {
			return m, err
		}
		select {
		case <-ctx.Done():
			return m, err
		case <-time.After(retryInterval):
		}
	}
}

// readMembership reads the configuration once.
func (e *Ensemble) readMembership(ctx context.Context) (cluster.Membership, error) {
	var m cluster.Membership
	err := e.admin(ctx, func(c *zk.Conn) error {
		if _, err := c.Sync(configZnode); err != nil {
			return fmt.Errorf("sync %s: %w", configZnode, err)
		}
		data, _, err := c.Get(configZnode)
		if err != nil {
			return fmt.Errorf("read %s: %w", configZnode, err)
		}
		m, err = parseConfig(string(data), e.names())
		return err
	})
	if err != nil {
		return m, fmt.Errorf("read the membership: %w", err)
	}
	e.reconf.mu.Lock()
	e.reconf.current = m
	for name := range e.reconf.joining {
		if m.Has(name) {
			delete(e.reconf.joining, name)
		}
	}
	e.reconf.mu.Unlock()
	return m, nil
}

// SetMembership changes the configuration to want's voters and observers
// in one incremental reconfiguration, tried again (at most reconfigTries
// times in all) from the configuration then in force when it fails. Spares
// that join are started first on fresh directories, with the current
// configuration and themselves, and given time to connect to the leader;
// spares outside the configuration read afterwards are stopped, also after
// a failed reconfiguration.
// Initial nodes that leave keep running, outside the configuration, until
// they are added back. It returns the configuration in force afterwards.
func (e *Ensemble) SetMembership(ctx context.Context, want cluster.Membership) (cluster.Membership, error) {
	if e.reconf == nil {
		return cluster.Membership{}, errNoReconfig
	}
	e.reconf.change.Lock()
	defer e.reconf.change.Unlock()
	ctx, cancel := context.WithTimeout(ctx, reconfigTimeout)
	defer cancel()
	for _, name := range append(slices.Clone(want.Voters), want.Observers...) {
		if _, err := e.lookup(cluster.Node{Name: name}); err != nil {
			return cluster.Membership{}, fmt.Errorf("set membership: %w", err)
		}
	}
	cur, err := e.Membership(ctx)
	if err != nil {
		return cur, err
	}
	for try := 1; !cur.Same(want) && try <= reconfigTries; try++ {
		if err = e.reconfigOnce(ctx, cur, want); err == nil || ctx.Err() != nil {
			break
		}
		e.log.Warn("reconfiguration failed", "try", try, "err", err)
		next, rerr := e.Membership(ctx)
		if rerr != nil {
			break
		}
		cur = next
	}
	after, serr := e.settle(ctx, cur, err)
	if serr != nil && after.Same(want) && ctx.Err() == nil {
		// The connection went with a server that left (the leader, say)
		// after the change was committed: the configuration says so.
		e.log.Info("reconfiguration in force despite the error", "err", serr)
		return after, nil
	}
	return after, serr
}

// reconfigOnce turns cur into want in one incremental reconfiguration,
// starting the spares that join and are not running first.
func (e *Ensemble) reconfigOnce(ctx context.Context, cur, want cluster.Membership) error {
	joining, leaving := changeOf(cur, want)
	var joinLines, leaveIDs []string
	for name, role := range joining {
		n, _ := e.lookup(cluster.Node{Name: name})
		joinLines = append(joinLines, n.peerOf().serverLine(role))
		if n.spare && !e.Running(n.Node) {
			if err := e.startSpare(ctx, n, cur, role); err != nil {
				return err
			}
			e.reconf.mu.Lock()
			if e.reconf.joining == nil {
				e.reconf.joining = map[string]bool{}
			}
			e.reconf.joining[name] = true
			e.reconf.mu.Unlock()
		}
	}
	slices.Sort(joinLines)
	for _, name := range leaving {
		n, _ := e.lookup(cluster.Node{Name: name})
		leaveIDs = append(leaveIDs, strconv.Itoa(n.ID))
	}
	e.log.Info("reconfiguring the ensemble", "from", cur.String(), "to", want.String(), "version", cur.Version,
		"joining", joinLines, "leaving", leaveIDs)
	err := e.admin(ctx, func(c *zk.Conn) error {
		_, err := c.IncrementalReconfig(joinLines, leaveIDs, -1)
		return err
	})
	if err != nil {
		return fmt.Errorf("reconfigure to %s: %w", want.String(), err)
	}
	return nil
}

// settle reads the configuration after a change (or a failed one) and stops
// the spares that run outside it; none is joining any more. Without a
// configuration to go by, it stops nothing.
func (e *Ensemble) settle(ctx context.Context, before cluster.Membership, err error) (cluster.Membership, error) {
	after, rerr := e.Membership(ctx)
	if rerr != nil {
		return before, errors.Join(err, rerr)
	}
	e.reconf.mu.Lock()
	clear(e.reconf.joining)
	e.reconf.mu.Unlock()
	for _, n := range e.nodes {
		if n.spare && !after.Has(n.Name) && e.Running(n.Node) {
			if kerr := e.Kill(ctx, n.Node); kerr != nil {
				err = errors.Join(err, fmt.Errorf("stop spare outside the configuration: %w", kerr))
			}
		}
	}
	e.log.Info("ensemble membership", "members", after.String(), "version", after.Version, "err", err)
	return after, err
}

// startSpare provisions spare n afresh, as a new machine would be: an empty
// data directory with its myid, and a dynamic configuration of cur's
// members and itself in role. It starts the server and waits until it has
// connected to the leader.
func (e *Ensemble) startSpare(ctx context.Context, n *node, cur cluster.Membership, role string) error {
	var lines []string
	for _, name := range append(slices.Clone(cur.Voters), cur.Observers...) {
		m, _ := e.lookup(cluster.Node{Name: name})
		r := participant
		if slices.Contains(cur.Observers, name) {
			r = observer
		}
		lines = append(lines, m.peerOf().serverLine(r))
	}
	lines = append(lines, n.peerOf().serverLine(role))
	if err := os.RemoveAll(n.dataDir); err != nil {
		return fmt.Errorf("provision %s: %w", n.Name, err)
	}
	if err := os.MkdirAll(n.dataDir, 0o755); err != nil {
		return fmt.Errorf("provision %s: %w", n.Name, err)
	}
	files := map[string]string{
		n.cfgPath:                        renderZooCfg(e.cfg, n.peerOf(), n.dataDir, nil),
		dynamicPath(n.dataDir):           renderDynamic(lines),
		filepath.Join(n.dataDir, "myid"): strconv.Itoa(n.ID) + "\n",
	}
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return fmt.Errorf("provision %s: %w", n.Name, err)
		}
	}
	if err := e.Start(ctx, n.Node); err != nil {
		return err
	}
	for {
		rctx, cancel := context.WithTimeout(ctx, roleTimeout)
		r, _ := zkadmin.Srvr(rctx, n.ClientAddr)
		cancel()
		if r == cluster.Follower || r == cluster.Observer || r == cluster.Leader {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("spare %s did not connect to the leader: %w", n.Name, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}
