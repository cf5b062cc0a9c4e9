package workloads

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/history"
)

// maxSnapshotNodes bounds the znodes one snapshot walks, so a workload that
// created a great many cannot stall the end of a run.
const maxSnapshotNodes = 200_000

// FourLetter asks a server a four-letter word; cluster/local.FourLetter is one.
type FourLetter func(ctx context.Context, addr, cmd string) (string, error)

// Snapshots records, for every node, every persistent znode it holds
// (outside /zookeeper) with its version and a hash of its data, after a sync so the
// node has applied everything committed; and the node's digest counters from
// mntr. The convergence checker compares them. An unreachable node is
// recorded with its error.
func Snapshots(ctx context.Context, env Env, rec Recorder, mntr FourLetter) error {
	var errs []error
	for _, node := range env.Nodes {
		op := history.Op{Type: history.Info, F: history.FSnapshot, Process: history.NemesisProcess, Node: node.Name}
		snap, err := snapshot(ctx, env, node)
		if err != nil {
			op.Error = err.Error()
			errs = append(errs, err)
		}
		op.Snapshot = snap
		if mntr != nil {
			op.Metrics = digestMetrics(ctx, mntr, node)
		}
		if _, err := rec.Append(op); err != nil {
			return fmt.Errorf("record snapshot of %s: %w", node.Name, err)
		}
	}
	return errors.Join(errs...)
}

func snapshot(ctx context.Context, env Env, node cluster.Node) (map[string]string, error) {
	conn, err := env.Connect(ctx, node)
	if err != nil {
		return nil, fmt.Errorf("snapshot of %s: %w", node.Name, err)
	}
	defer conn.Close()
	if _, err := conn.Sync("/"); err != nil {
		return nil, fmt.Errorf("snapshot of %s: sync: %w", node.Name, err)
	}
	out := map[string]string{}
	queue := []string{"/"}
	for len(queue) > 0 && ctx.Err() == nil {
		p := queue[0]
		queue = queue[1:]
		children, _, err := conn.Children(p)
		if err != nil {
			return out, fmt.Errorf("snapshot of %s: children of %s: %w", node.Name, p, err)
		}
		for _, c := range children {
			full := path.Join(p, c)
			if full == "/zookeeper" || strings.HasPrefix(full, "/zookeeper/") {
				continue
			}
			data, stat, err := conn.Get(full)
			if err != nil {
				// Deleted since it was listed (an ephemeral whose session
				// just closed): not a difference between replicas.
				continue
			}
			if stat.EphemeralOwner != 0 {
				// Ephemerals come and go with sessions that may still be
				// expiring while the nodes are read one after another.
				continue
			}
			sum := sha256.Sum256(data)
			out[full] = "v" + strconv.Itoa(int(stat.Version)) + ":" + hex.EncodeToString(sum[:6])
			if len(out) >= maxSnapshotNodes {
				return out, fmt.Errorf("snapshot of %s: more than %d znodes, stopped", node.Name, maxSnapshotNodes)
			}
			queue = append(queue, full)
		}
	}
	return out, ctx.Err()
}

// digestMetrics keeps the mntr lines about the server's own data digest.
func digestMetrics(ctx context.Context, mntr FourLetter, node cluster.Node) map[string]int64 {
	reply, err := mntr(ctx, node.ClientAddr, "mntr")
	if err != nil {
		return nil
	}
	out := map[string]int64{}
	for _, line := range strings.Split(reply, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "\t")
		if !ok || !strings.Contains(k, "digest") {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out
}
