package local

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/zkadmin"
)

// Describe implements cluster.Upgrader: it resolves a distribution name
// with FindDistribution, fetching it if need be, and returns its Name.
func (e *Ensemble) Describe(ctx context.Context, distribution string) (string, error) {
	return describe(ctx, distribution)
}

// describe resolves a distribution name, fetching it if need be, and
// returns its Name.
func describe(ctx context.Context, name string) (string, error) {
	d, err := FindDistribution(ctx, name)
	if err != nil {
		return "", err
	}
	return d.Name(), nil
}

// Version implements cluster.Upgrader: the Name of the distribution the
// node runs (or runs at its next start), "" for a node of another ensemble.
func (e *Ensemble) Version(target cluster.Node) string {
	n, err := e.lookup(target)
	if err != nil {
		return ""
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return n.dist.Name()
}

// Restart implements cluster.Upgrader. It resolves the distribution first
// (see FindDistribution; a name that does not resolve leaves the node
// untouched), then kills the node's server, starts it on that distribution
// with the same data, configuration, ports, flags and environment, and
// waits until it serves in sync with the leader (see waitSynced). It fails
// at once when a server exits on its own, quoting its log; when ctx ends
// first, the node stays on the new distribution, running or not.
func (e *Ensemble) Restart(ctx context.Context, target cluster.Node, distribution string) error {
	n, err := e.lookup(target)
	if err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	dist, err := FindDistribution(ctx, distribution)
	if err != nil {
		return fmt.Errorf("restart %s on %s: %w", n.Name, distribution, err)
	}
	e.mu.Lock()
	from := n.dist
	err = e.restartLocked(ctx, n, dist)
	e.mu.Unlock()
	if err != nil {
		return fmt.Errorf("restart %s on %s: %w", n.Name, dist.Name(), err)
	}
	started := time.Now()
	if err := e.waitSynced(ctx, n); err != nil {
		return fmt.Errorf("restart %s on %s: %w", n.Name, dist.Name(), err)
	}
	e.log.Info("ZooKeeper node restarted and in sync", "node", n.Name, "from", from.Name(), "to", dist.Name(),
		"synced_after", time.Since(started).Round(time.Millisecond))
	return nil
}

// restartLocked moves node n to dist, kills its server and starts it on
// dist; e.mu must be held.
func (e *Ensemble) restartLocked(ctx context.Context, n *node, dist Distribution) error {
	if e.closed {
		return errors.New("the ensemble is closed")
	}
	n.dist = dist
	if err := e.killLocked(ctx, n); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return e.spawnLocked(n)
}

// waitSynced polls node n until it serves in sync with the leader (see
// syncState). It fails at once when the ensemble is closed or a server
// exits on its own, and when ctx ends, with the last state seen and the
// node's log tail.
func (e *Ensemble) waitSynced(ctx context.Context, n *node) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		state, synced := syncState(ctx, n.ClientAddr)
		if synced {
			return nil
		}
		if err := e.crashedOrClosed(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not in sync with the leader (last seen: %s): %w; last lines of %s:\n%s",
				n.Name, state, ctx.Err(), n.logPath, indent(tailLines(n.logPath, tailSize)))
		case <-tick.C:
		}
	}
}

// Sync states that mntr's zk_peer_state reports once a server has joined
// the ensemble's broadcast phase.
const (
	leadingBroadcast   = "leading - broadcast"
	followingBroadcast = "following - broadcast"
)

// syncState asks the server at addr whether it serves in sync with the
// leader: srvr must say leader or follower and, on servers whose mntr
// reports zk_peer_state (3.6 and later), that state must be the broadcast
// phase. Otherwise state says what was seen.
func syncState(ctx context.Context, addr string) (state string, synced bool) {
	rctx, cancel := context.WithTimeout(ctx, roleTimeout)
	defer cancel()
	role, err := zkadmin.Srvr(rctx, addr)
	if err != nil {
		return err.Error(), false
	}
	if role != cluster.Leader && role != cluster.Follower {
		return "not serving", false
	}
	reply, err := zkadmin.FourLetter(rctx, addr, "mntr")
	if err != nil {
		return string(role) + ", " + err.Error(), false
	}
	peer, ok := zkadmin.MntrValue(reply, "zk_peer_state")
	if !ok || peer == leadingBroadcast || peer == followingBroadcast {
		return string(role), true
	}
	return fmt.Sprintf("%s, zk_peer_state %q", role, peer), false
}
