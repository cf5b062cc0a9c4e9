package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/local/linkproxy"
)

// ErrNoPartitions is returned by the partition methods of an ensemble started
// without Config.Partitions.
var ErrNoPartitions = errors.New("partitions need cluster partitions enabled: " +
	"start the ensemble with local.Config{Partitions: true}")

var _ cluster.Partitioner = (*Ensemble)(nil)

// links is the partition machinery of an ensemble: a SOCKS proxy per node,
// through which the node's JVM reaches its peers, and the link table they
// share. It is set before the first node starts and never changes.
type links struct {
	table   *linkproxy.Table
	proxies map[string]*linkproxy.Proxy
}

// startLinks starts the proxies when cfg.Partitions is set, and makes every
// (re)start of a node use its proxy for all of its outgoing connections.
func (e *Ensemble) startLinks(ctx context.Context) error {
	if !e.cfg.Partitions {
		return nil
	}
	l := &links{table: linkproxy.NewTable(), proxies: map[string]*linkproxy.Proxy{}}
	for _, n := range e.nodes {
		if err := l.table.AddNode(n.Name, loopbackPort(n.quorumPort), loopbackPort(n.electPort)); err != nil {
			return fmt.Errorf("partitions: %w", err)
		}
	}
	e.links = l // from here on Close stops the proxies
	for _, n := range e.nodes {
		p, err := l.table.Listen(ctx, n.Name)
		if err != nil {
			return fmt.Errorf("partitions: %w", err)
		}
		l.proxies[n.Name] = p
		e.log.Debug("link proxy started", "node", n.Name, "proxy", p.Addr())
	}
	userFlags := e.cfg.NodeJVMFlags
	e.cfg.NodeJVMFlags = func(node cluster.Node) []string {
		var flags []string
		if userFlags != nil {
			flags = userFlags(node)
		}
		if p := l.proxies[node.Name]; p != nil {
			flags = append(flags, socksFlags(p.Port())...)
		}
		return flags
	}
	return nil
}

// socksFlags make a JVM open every outgoing connection through the SOCKS
// proxy on port. The empty socksNonProxyHosts is essential: by default the
// JVM connects to localhost and 127.* directly, and every peer is there.
// (Fast re-election after a partition needs
// zookeeper.fastleader.maxNotificationInterval and zookeeper.cnxTimeout,
// which every node gets: see baseJVMFlags.)
func socksFlags(port int) []string {
	return []string{
		"-DsocksProxyHost=" + loopback,
		"-DsocksProxyPort=" + strconv.Itoa(port),
		"-DsocksNonProxyHosts=",
	}
}

// loopbackPort renders "127.0.0.1:port".
func loopbackPort(port int) string {
	return net.JoinHostPort(loopback, strconv.Itoa(port))
}

// closeLinks stops the proxies, if any; it may be called more than once.
func (e *Ensemble) closeLinks() error {
	if e.links == nil {
		return nil
	}
	var errs []error
	for _, n := range e.nodes {
		if p := e.links.proxies[n.Name]; p != nil {
			errs = append(errs, p.Close())
		}
	}
	return errors.Join(errs...)
}

// table returns the link table, or an error naming the operation when
// partitions are off.
func (e *Ensemble) table(op string) (*linkproxy.Table, error) {
	if e.links == nil {
		return nil, fmt.Errorf("%s: %w", op, ErrNoPartitions)
	}
	return e.links.table, nil
}

// Partition applies the grudge to the links between servers, replacing any
// earlier grudge: g[a] lists the nodes whose traffic to a is cut. In
// cluster.LinkReset mode the cut links are cut both ways and their
// connections reset at once; in cluster.LinkHang mode the cut directions
// stop forwarding (bytes are held, not dropped) until healed.
func (e *Ensemble) Partition(ctx context.Context, g cluster.Grudge, mode cluster.LinkMode) error {
	t, err := e.table("partition")
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	if err := t.Partition(g, mode); err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	e.log.Info("links partitioned", "grudge", formatGrudge(e.nodes, g), "mode", mode)
	return nil
}

// Shape degrades the links of the named servers in both directions: every
// link with at least one end among them, so that one node can be slowed
// (all links when nodes is empty). It replaces any earlier shaping; a zero
// shape removes it.
func (e *Ensemble) Shape(ctx context.Context, nodes []string, s cluster.LinkShape) error {
	t, err := e.table("shape links")
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("shape links: %w", err)
	}
	if err := t.Shape(nodes, s); err != nil {
		return fmt.Errorf("shape links: %w", err)
	}
	e.log.Info("links shaped", "nodes", nodes, "delay", s.Delay, "jitter", s.Jitter, "loss", s.Loss)
	return nil
}

// IsolateClients cuts the clients that use ClientDialer off from the named
// servers, replacing any earlier client isolation: their connections are
// reset and new ones refused until healed. Clients that dial on their own,
// and the harness's four-letter words, are not affected.
func (e *Ensemble) IsolateClients(ctx context.Context, nodes []string) error {
	t, err := e.table("isolate clients")
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("isolate clients: %w", err)
	}
	if err := t.IsolateClients(nodes); err != nil {
		return fmt.Errorf("isolate clients: %w", err)
	}
	e.log.Info("clients isolated", "nodes", nodes)
	return nil
}

// HealLinks restores every link: no grudge, no shaping, no isolated
// clients. Bytes held by hung links are delivered.
func (e *Ensemble) HealLinks(ctx context.Context) error {
	t, err := e.table("heal links")
	if err != nil {
		return err
	}
	t.Heal()
	e.log.Info("links healed")
	return nil
}

// ClientDialer returns the dialer that a client pinned to node must use for
// IsolateClients to reach it (go-zookeeper's zk.WithDialer). Without
// partitions it is a plain dialer.
func (e *Ensemble) ClientDialer(node cluster.Node) func(network, address string, timeout time.Duration) (net.Conn, error) {
	if e.links == nil {
		return net.DialTimeout
	}
	name := node.Name
	if n, err := e.lookup(node); err == nil {
		name = n.Name
	}
	return e.links.table.Dialer(name)
}

// formatGrudge renders a grudge in node order: "n1<-n2,n3 n2<-n1".
func formatGrudge(nodes []*node, g cluster.Grudge) string {
	var parts []string
	for _, n := range nodes {
		if from := g[n.Name]; len(from) > 0 {
			parts = append(parts, n.Name+"<-"+strings.Join(from, ","))
		}
	}
	return strings.Join(parts, " ")
}
