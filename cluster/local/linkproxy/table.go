// Package linkproxy cuts and degrades the links between the servers of a
// local ensemble without root. Every server's JVM reaches its peers through a
// SOCKS5 proxy of its own (-DsocksProxyHost, with an empty
// -DsocksNonProxyHosts so that loopback is proxied too); the proxy knows the
// node it serves, finds the destination node from the address asked for, and
// relays the bytes of each direction as the shared link Table says: forward
// (after a delay), reset, or hold. Client connections are cut by a dialer
// that the Table hands out.
package linkproxy

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/zkchaos/zkchaos/cluster"
)

// Link is one direction of traffic between two nodes: the bytes From sends to
// To. Link{From: a, To: b} is cut when b cannot hear a.
type Link struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// String renders the link as "a->b".
func (l Link) String() string { return l.From + "->" + l.To }

// Table is the state of every link between the nodes of one ensemble, shared
// by all of its proxies and client dialers. The zero value is not usable: use
// NewTable. All methods are safe for concurrent use.
type Table struct {
	mu sync.Mutex
	// nodes are the registered node names.
	nodes map[string]bool
	// addrs maps a peer address ("127.0.0.1:port") to the node listening there.
	addrs map[netip.AddrPort]string
	// cut holds the links of the current grudge and how each fails.
	cut map[Link]cluster.LinkMode
	// shape holds the degraded links.
	shape map[Link]cluster.LinkShape
	// isolated are the nodes that clients cannot reach.
	isolated map[string]bool
	// changed is closed, and replaced, whenever a link changes, which wakes
	// up the relays that wait on it.
	changed chan struct{}
	// relays are the live proxied connections, clients the live client
	// connections, both closed by a reset that concerns them.
	relays  map[*relay]struct{}
	clients map[*clientConn]struct{}
	// accepted counts the proxied connections ever relayed, per link (To is
	// "" for an address that belongs to no node).
	accepted map[Link]int
}

// NewTable returns a table with no node and every link allowed.
func NewTable() *Table {
	return &Table{
		nodes:    map[string]bool{},
		addrs:    map[netip.AddrPort]string{},
		cut:      map[Link]cluster.LinkMode{},
		shape:    map[Link]cluster.LinkShape{},
		isolated: map[string]bool{},
		changed:  make(chan struct{}),
		relays:   map[*relay]struct{}{},
		clients:  map[*clientConn]struct{}{},
		accepted: map[Link]int{},
	}
}

// AddNode registers a node and the loopback addresses ("127.0.0.1:port") its
// peers connect to: for ZooKeeper, its quorum and election ports. A
// connection to one of them is on a link to this node.
func (t *Table) AddNode(name string, peerAddrs ...string) error {
	if name == "" {
		return errors.New("link table: a node needs a name")
	}
	parsed := make([]netip.AddrPort, 0, len(peerAddrs))
	for _, a := range peerAddrs {
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			return fmt.Errorf("link table: node %s: peer address %q: %w", name, a, err)
		}
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		if !allowedDestination(ap.Addr()) {
			return fmt.Errorf("link table: node %s: peer address %s is not in 127.0.0.0/8", name, a)
		}
		parsed = append(parsed, ap)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ap := range parsed {
		if other, ok := t.addrs[ap]; ok && other != name {
			return fmt.Errorf("link table: node %s: address %s already belongs to node %s", name, ap, other)
		}
	}
	t.nodes[name] = true
	for _, ap := range parsed {
		t.addrs[ap] = name
	}
	return nil
}

// Partition applies a grudge, replacing any earlier one (shaping and client
// isolation stay): g[a] lists the nodes whose traffic to a is cut, so each
// b in g[a] cuts Link{b, a}. In reset mode every cut link is cut in both
// directions, since TCP cannot reset one direction, and the live connections
// on cut links are reset at once. In hang mode the cut directions stop
// forwarding until they are allowed again. A node listed in its own entry is
// ignored: a node's traffic to itself never passes a proxy.
func (t *Table) Partition(g cluster.Grudge, mode cluster.LinkMode) error {
	if mode != cluster.LinkReset && mode != cluster.LinkHang {
		return fmt.Errorf("link table: link mode %q: want %q or %q", mode, cluster.LinkReset, cluster.LinkHang)
	}
	cut := map[Link]cluster.LinkMode{}
	t.mu.Lock()
	for to, froms := range g {
		if err := t.knownLocked(to); err != nil {
			t.mu.Unlock()
			return fmt.Errorf("link table: grudge: %w", err)
		}
		for _, from := range froms {
			if err := t.knownLocked(from); err != nil {
				t.mu.Unlock()
				return fmt.Errorf("link table: grudge of %s: %w", to, err)
			}
			if from == to {
				continue
			}
			cut[Link{from, to}] = mode
			if mode == cluster.LinkReset {
				cut[Link{to, from}] = mode
			}
		}
	}
	t.cut = cut
	t.notifyLocked()
	victims := t.resetVictimsLocked()
	t.mu.Unlock()
	closeAll(victims)
	return nil
}

// Shape degrades every link of the given nodes (the links with at least
// one end among them), in both directions, replacing any earlier shaping;
// when nodes is empty, every link. A zero shape removes the shaping.
func (t *Table) Shape(nodes []string, s cluster.LinkShape) error {
	if s.Delay < 0 || s.Jitter < 0 {
		return fmt.Errorf("link table: shape delay %v, jitter %v: want no negative duration", s.Delay, s.Jitter)
	}
	if !(s.Loss >= 0 && s.Loss <= 1) { // also rejects NaN
		return fmt.Errorf("link table: shape loss %v: want a probability in [0, 1]", s.Loss)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(nodes) == 0 {
		nodes = slices.Collect(maps.Keys(t.nodes))
	}
	for _, n := range nodes {
		if err := t.knownLocked(n); err != nil {
			return fmt.Errorf("link table: shape: %w", err)
		}
	}
	shape := map[Link]cluster.LinkShape{}
	if s != (cluster.LinkShape{}) {
		for _, a := range nodes {
			for b := range t.nodes {
				if a != b {
					shape[Link{a, b}] = s
					shape[Link{b, a}] = s
				}
			}
		}
	}
	t.shape = shape
	t.notifyLocked()
	return nil
}

// IsolateClients cuts clients off from the named nodes, replacing any earlier
// client isolation: the connections that the nodes' dialers made are reset
// and new ones are refused until healed. An empty list isolates no node.
func (t *Table) IsolateClients(nodes []string) error {
	t.mu.Lock()
	isolated := map[string]bool{}
	for _, n := range nodes {
		if err := t.knownLocked(n); err != nil {
			t.mu.Unlock()
			return fmt.Errorf("link table: isolate clients: %w", err)
		}
		isolated[n] = true
	}
	t.isolated = isolated
	t.notifyLocked()
	var victims []resetter
	for c := range t.clients {
		if isolated[c.node] {
			victims = append(victims, c)
		}
	}
	t.mu.Unlock()
	closeAll(victims)
	return nil
}

// Heal restores every link: no grudge, no shaping, no isolated clients. Held
// bytes are delivered at once.
func (t *Table) Heal() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cut = map[Link]cluster.LinkMode{}
	t.shape = map[Link]cluster.LinkShape{}
	t.isolated = map[string]bool{}
	t.notifyLocked()
}

// Cut returns how the link from -> to is cut: "" when it is allowed.
func (t *Table) Cut(from, to string) cluster.LinkMode {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cut[Link{from, to}]
}

// Connections counts the proxied connections relayed so far, per link; a
// connection to an address of no registered node counts under To "".
func (t *Table) Connections() map[Link]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.accepted)
}

// Live counts the proxied and client connections open now.
func (t *Table) Live() (proxied, clients int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.relays), len(t.clients)
}

// knownLocked fails for a name that is not a registered node.
func (t *Table) knownLocked(name string) error {
	if t.nodes[name] {
		return nil
	}
	names := slices.Collect(maps.Keys(t.nodes))
	sort.Strings(names)
	return fmt.Errorf("no node %q (nodes: %s)", name, strings.Join(names, " "))
}

// notifyLocked wakes up everything that waits for a link to change.
func (t *Table) notifyLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// resetVictimsLocked returns the live relays on a link that is reset now.
func (t *Table) resetVictimsLocked() []resetter {
	var victims []resetter
	for r := range t.relays {
		if r.dst == "" {
			continue
		}
		if t.cut[Link{r.src, r.dst}] == cluster.LinkReset || t.cut[Link{r.dst, r.src}] == cluster.LinkReset {
			victims = append(victims, r)
		}
	}
	return victims
}

// resetter is a connection that a cut resets.
type resetter interface{ reset() }

// closeAll resets every connection, outside the table's lock (a reset
// unregisters the connection, which takes the lock).
func closeAll(victims []resetter) {
	for _, v := range victims {
		v.reset()
	}
}

// nodeAt returns the node listening at a peer address, or "".
func (t *Table) nodeAt(ap netip.AddrPort) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.addrs[ap]
}

// linkState is what a relay needs to know about its link at one moment.
type linkState struct {
	cut   cluster.LinkMode
	shape cluster.LinkShape
	// changed is closed when the link may have changed.
	changed <-chan struct{}
}

// state returns the current state of link l.
func (t *Table) state(l Link) linkState {
	t.mu.Lock()
	defer t.mu.Unlock()
	return linkState{cut: t.cut[l], shape: t.shape[l], changed: t.changed}
}

// admitLocked says whether a new proxied connection from src to dst may
// open: not when either direction is reset (a TCP handshake needs both),
// nor, with rollLoss, when the loss of either direction's shaping strikes.
func (t *Table) admitLocked(src, dst string, rollLoss bool) bool {
	if dst == "" {
		return true
	}
	there, back := Link{src, dst}, Link{dst, src}
	if t.cut[there] == cluster.LinkReset || t.cut[back] == cluster.LinkReset {
		return false
	}
	return !rollLoss || (!lost(t.shape[there].Loss) && !lost(t.shape[back].Loss))
}

// register adds a relay that is about to start, unless its link was reset
// since it was admitted or its proxy closed; it returns false when the
// connection must be refused.
func (t *Table) register(r *relay) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r.proxy.closed || !t.admitLocked(r.src, r.dst, false) {
		return false
	}
	t.relays[r] = struct{}{}
	t.accepted[Link{r.src, r.dst}]++
	return true
}

// unregister removes a relay that has ended.
func (t *Table) unregister(r *relay) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.relays, r)
}

// allowedDestination reports whether the proxy may connect to addr: only
// IPv4 loopback, so that no test traffic can ever leave the machine.
func allowedDestination(addr netip.Addr) bool {
	return netip.MustParsePrefix("127.0.0.0/8").Contains(addr.Unmap())
}
