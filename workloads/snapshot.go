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
	"sync"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/guard"
)

// maxSnapshotNodes bounds the znodes one snapshot walks, so a workload that
// created a great many cannot stall the end of a run.
const maxSnapshotNodes = 200_000

// FourLetter asks a server a four-letter word; cluster/zkadmin.FourLetter is one.
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

// snapshotParallelism is how many reads one snapshot keeps in flight on
// its session: the walk is one read per znode, and a session pipelines them.
const snapshotParallelism = 32

func snapshot(ctx context.Context, env Env, node cluster.Node) (map[string]string, error) {
	conn, err := env.Connect(ctx, node)
	if err != nil {
		return nil, fmt.Errorf("snapshot of %s: %w", node.Name, err)
	}
	defer conn.Close()
	if _, err := conn.Sync("/"); err != nil {
		return nil, fmt.Errorf("snapshot of %s: sync: %w", node.Name, err)
	}
	w := &walk{out: map[string]string{}}
	slots := make(chan struct{}, snapshotParallelism)
	var g guard.Group
	// list reads the children of p and, for each, its data and stat; a
	// child with children of its own is listed in turn.
	var list func(p string)
	list = func(p string) {
		if w.stopped(ctx) {
			return
		}
		slots <- struct{}{}
		children, _, err := conn.Children(p)
		<-slots
		if err != nil {
			w.fail(fmt.Errorf("snapshot of %s: children of %s: %w", node.Name, p, err))
			return
		}
		for _, c := range children {
			full := path.Join(p, c)
			if full == "/zookeeper" || strings.HasPrefix(full, "/zookeeper/") {
				continue
			}
			g.Go("snapshot read of "+full, func() {
				if w.stopped(ctx) {
					return
				}
				slots <- struct{}{}
				data, stat, err := conn.Get(full)
				<-slots
				if err != nil || stat.EphemeralOwner != 0 {
					// Deleted since it was listed (an ephemeral whose
					// session just closed), or an ephemeral: those come
					// and go with sessions that may still be expiring
					// while the nodes are read one after another. Neither
					// is a difference between replicas.
					return
				}
				sum := sha256.Sum256(data)
				if !w.add(full, "v"+strconv.Itoa(int(stat.Version))+":"+hex.EncodeToString(sum[:6])) {
					w.fail(fmt.Errorf("snapshot of %s: more than %d znodes, stopped", node.Name, maxSnapshotNodes))
					return
				}
				if stat.NumChildren > 0 {
					g.Go("snapshot listing of "+full, func() { list(full) })
				}
			})
		}
	}
	g.Go("snapshot listing of /", func() { list("/") })
	g.Wait()
	if w.err != nil {
		return w.out, w.err
	}
	return w.out, ctx.Err()
}

// walk is what a snapshot's concurrent reads share.
type walk struct {
	mu  sync.Mutex
	out map[string]string
	err error
}

// add records a znode; false when the snapshot is full.
func (w *walk) add(p, v string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.out) >= maxSnapshotNodes {
		return false
	}
	w.out[p] = v
	return true
}

// fail keeps the first error, which stops the walk.
func (w *walk) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// stopped reports whether the walk should read no more.
func (w *walk) stopped(ctx context.Context) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err != nil || ctx.Err() != nil
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
