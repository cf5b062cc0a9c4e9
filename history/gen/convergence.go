package gen

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/history"
)

// ConvergenceAnomaly names a violation Convergence can plant.
type ConvergenceAnomaly string

// The anomalies Convergence plants on one node chosen at random.
const (
	// DivergedReplica gives one node another version and data of one
	// znode.
	DivergedReplica ConvergenceAnomaly = "diverged-replica"
	// MissingZnode leaves one znode out of one node's tree.
	MissingZnode ConvergenceAnomaly = "missing-znode"
	// DigestMismatch makes one node's digest check report mismatches.
	DigestMismatch ConvergenceAnomaly = "digest-mismatch"
)

// ConvergenceAnomalies lists the anomalies Convergence can plant.
var ConvergenceAnomalies = []ConvergenceAnomaly{DivergedReplica, MissingZnode, DigestMismatch}

// ConvergenceConfig shapes the end of a generated run. Zero fields take
// the defaults noted.
type ConvergenceConfig struct {
	// Seed fixes the history.
	Seed uint64
	// Nodes is the ensemble's size. Default 3.
	Nodes int
	// Writes is the number of creates, sets and deletes the run made.
	// Default 12.
	Writes int
	// Unreachable is the chance that a node's snapshot fails (its walk
	// stopped with an error, what it read so far recorded); Mntr the
	// chance that a node answers mntr. Defaults 0.1 and 0.8.
	Unreachable, Mntr float64
	// Anomaly is the violation to plant, if any.
	Anomaly ConvergenceAnomaly
}

func (c *ConvergenceConfig) defaults() {
	setDefault(&c.Nodes, 3)
	setDefault(&c.Writes, 12)
	setDefault(&c.Unreachable, 0.1)
	setDefault(&c.Mntr, 0.8)
}

// Convergence returns the end of a run as the harness records it: a few
// client calls and nemesis records, then, after the final heal, one
// snapshot record per node with every persistent znode's version and data
// hash and the node's digest counters from mntr. The replicas applied the
// same transactions, so without an anomaly they agree.
func Convergence(cfg ConvergenceConfig) []history.Op {
	cfg.defaults()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x636f6e76))
	var tp tape
	now := int64(0)
	tick := func() int64 { now += expNs(rng, time.Millisecond); return now }

	// The data tree every replica applied.
	const root = "/zkchaos-conv"
	tree := map[string]cvZnode{root: {}}
	for w := range cfg.Writes {
		p := root + "/k" + strconv.Itoa(rng.IntN(4))
		if rng.IntN(3) == 0 {
			p += "/c" + strconv.Itoa(rng.IntN(2))
		}
		inv := history.Op{Type: history.Invoke, F: history.Write, Process: history.Process(w % 2), Time: tick(), Key: p, Value: history.Int64(int64(w + 1))}
		tp.add(inv)
		done := inv
		done.Type, done.Time = history.OK, tick()
		z, exists := tree[p]
		switch {
		case exists && rng.IntN(4) == 0 && !hasChildren(tree, p):
			delete(tree, p)
		case exists:
			tree[p] = cvZnode{version: z.version + 1, data: strconv.Itoa(w + 1)}
			done.Version = history.Int32(int32(z.version + 1))
		default:
			if parent := p[:strings.LastIndexByte(p, '/')]; parent != root {
				if _, ok := tree[parent]; !ok {
					tree[parent] = cvZnode{} // created empty on the way
				}
			}
			tree[p] = cvZnode{data: strconv.Itoa(w + 1)}
			done.Version = history.Int32(0)
		}
		tp.add(done)
	}
	kill := &history.Fault{Name: "kill-leader", Targets: []string{nodeName(0)}}
	for _, f := range []string{"kill", "start"} {
		tp.add(history.Op{Type: history.Invoke, F: f, Process: history.NemesisProcess, Time: tick(), Fault: kill})
		tp.add(history.Op{Type: history.OK, F: f, Process: history.NemesisProcess, Time: tick(), Fault: kill})
	}
	tp.add(history.Op{Type: history.Info, F: history.FHealthy, Process: history.NemesisProcess, Time: tick()})

	victim := rng.IntN(cfg.Nodes)
	for n := range cfg.Nodes {
		name := "n" + strconv.Itoa(n+1)
		op := history.Op{Type: history.Info, F: history.FSnapshot, Process: history.NemesisProcess, Time: tick(), Node: name,
			Snapshot: map[string]string{}}
		failed := rng.Float64() < cfg.Unreachable
		for p, z := range tree {
			if failed && rng.IntN(2) == 0 {
				continue // the walk stopped before it
			}
			op.Snapshot[p] = snapshotEntry(z.version, z.data)
		}
		if failed {
			op.Error = "snapshot of " + name + ": children of " + root + ": zk: connection closed"
		}
		if rng.Float64() < cfg.Mntr {
			op.Metrics = map[string]int64{"zk_digest_mismatches_count": 0}
		}
		if n == victim {
			plantDivergence(rng, cfg.Anomaly, &op)
		}
		tp.add(op)
	}
	return tp.ops
}

// plantDivergence makes op's node disagree with the others as a says.
func plantDivergence(rng *rand.Rand, a ConvergenceAnomaly, op *history.Op) {
	paths := make([]string, 0, len(op.Snapshot))
	for p := range op.Snapshot {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	switch {
	case a == DigestMismatch:
		op.Metrics = map[string]int64{"zk_digest_mismatches_count": 1 + int64(rng.IntN(3))}
	case len(paths) == 0:
	case a == DivergedReplica:
		p := paths[rng.IntN(len(paths))]
		op.Snapshot[p] = snapshotEntry(99, "diverged")
	case a == MissingZnode:
		delete(op.Snapshot, paths[rng.IntN(len(paths))])
	}
}

// snapshotEntry is a znode as a snapshot records it: version and a hash of
// the data.
func snapshotEntry(version int, data string) string {
	sum := sha256.Sum256([]byte(data))
	return "v" + strconv.Itoa(version) + ":" + hex.EncodeToString(sum[:6])
}

// cvZnode is a znode's version and data.
type cvZnode struct {
	version int
	data    string
}

func hasChildren(tree map[string]cvZnode, p string) bool {
	for q := range tree {
		if strings.HasPrefix(q, p+"/") {
			return true
		}
	}
	return false
}
