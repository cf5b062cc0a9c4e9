package register_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/sequential"
	"github.com/zkchaos/zkchaos/cluster/local/localtest"
	"github.com/zkchaos/zkchaos/harness"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/runtest"
	"github.com/zkchaos/zkchaos/scenarios"
	"github.com/zkchaos/zkchaos/workloads/register"
)

// isolatedFollowerScenario is the classic way to make ZooKeeper serve stale
// reads: one server is cut off from the others by a black hole (links hang,
// nothing is refused), so it keeps answering its sessions' plain reads from
// its own copy until it gives up on the leader after syncLimit*tickTime (5 s
// here), while the other two, a quorum, go on committing writes.
//
// The target is "follower": one follower, chosen with the seed when the fault
// is injected, so the isolated node is never the leader and stale reads are
// certain; the test still checks the roles the history recorded.
func isolatedFollowerScenario(t *testing.T, readMode string) *scenarios.Scenario {
	t.Helper()
	s, err := scenarios.Parse("register-plain-known-answer.yaml", "register-plain-known-answer", []byte(`
description: plain reads while one follower is isolated (black hole), a known answer
seed: 4
# One isolation window (4 s to 10 s), then the heal.
time-limit: 13s
recovery: 2s
workload:
  name: register
  keys: 1
  workers: 9
  rate: 150
  read-mode: `+readMode+`
  op-timeout: 3s
  session-timeout: 6s
  mix: {read: 36, write: 2, cas: 1}
nemesis:
  faults:
    - {name: partition, grudge: isolate, target: follower, mode: hang}
  warmup: 4s
  interval: 3s
  duration: 6s
checker:
  time-budget: 60s
`))
	require.NoError(t, err)
	return s
}

// runKnownAnswer runs the scenario through the whole harness with the
// register workload and returns the results and the history.
func runKnownAnswer(t *testing.T, readMode string) (checker.Result, []history.Op) {
	t.Helper()
	s := isolatedFollowerScenario(t, readMode)
	w := s.Workload
	wl := register.New(register.Config{Keys: w.Keys, ReadMode: w.ReadMode,
		ReadWeight: w.Mix.Read, WriteWeight: w.Mix.Write, CASWeight: w.Mix.CAS})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := harness.Run(ctx, harness.Options{Scenario: s, OutDir: t.TempDir(), Workload: wl,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	require.NoError(t, err)
	read, err := history.ReadFile(filepath.Join(out.Dir, history.FileName))
	require.NoError(t, err)
	res := out.Results
	t.Logf("%s reads: verdict %s, %d records, counts %v", readMode, res.Verdict, len(read.Ops), res.Counts)
	return res.Check, read.Ops
}

// staleDetails reads the stale-reads evidence, whether it is still typed or
// came back from JSON.
func staleDetails(t *testing.T, r checker.Result) sequential.StaleReadsDetails {
	t.Helper()
	if d, ok := r.Details.(sequential.StaleReadsDetails); ok {
		return d
	}
	b, err := json.Marshal(r.Details)
	require.NoError(t, err)
	var d sequential.StaleReadsDetails
	require.NoError(t, json.Unmarshal(b, &d))
	return d
}

// sendASessionBack returns a copy of ops in which a session, after reading
// the register at a higher version than it first read, reads it again and
// gets what it first read: a session going back in time, which ZooKeeper
// never allows.
func sendASessionBack(ops []history.Op) ([]history.Op, bool) {
	first := map[string]history.Op{} // session and key -> the session's first ok read
	moved := map[string]bool{}       // ... and whether it has read a higher version since
	for i, op := range ops {
		if op.F != history.Read || op.Type != history.OK || op.Session == 0 || op.Version == nil {
			continue
		}
		id := fmt.Sprintf("%d/%s", op.Session, op.Key)
		f, ok := first[id]
		switch {
		case !ok:
			first[id] = op
		case moved[id]:
			out := slices.Clone(ops)
			out[i].Value, out[i].Version, out[i].Zxid = f.Value, f.Version, f.Zxid
			return out, true
		case *op.Version > *f.Version:
			moved[id] = true
		}
	}
	return nil, false
}

// isolation is one window in which a single node was cut off.
type isolation struct {
	node       string
	wasLeader  bool
	from, till int64
}

// isolations finds the partitions of the history, the node each cut off,
// and whether that node led when it happened (by the latest role record).
func isolations(ops []history.Op) []isolation {
	var out []isolation
	roles := map[string]string{}
	for _, op := range ops {
		if !op.IsNemesis() || op.Type != history.Info {
			continue
		}
		switch {
		case op.F == history.FRoles:
			roles = op.Roles
		case op.F == "partition" && op.Error == "" && op.Fault != nil:
			// The isolated node is the one deaf to all the others.
			node, most := "", 0
			for n, deaf := range op.Fault.Grudge {
				if len(deaf) > most {
					node, most = n, len(deaf)
				}
			}
			out = append(out, isolation{node: node, wasLeader: roles[node] == "leader", from: op.Time})
		case op.F == "heal" && len(out) > 0 && out[len(out)-1].till == 0:
			out[len(out)-1].till = op.Time
		}
	}
	return out
}

func TestPlainReadsOfAnIsolatedFollowerAreStaleButNeverGoBack(t *testing.T) {
	localtest.RequireZooKeeper(t)
	res, ops := runKnownAnswer(t, register.ReadPlain)

	assert.Equal(t, checker.Valid, res.Verdict, res.Message)
	seq := runtest.Find(t, res, "sequential")
	assert.Equal(t, checker.Valid, seq.Verdict, seq.Message)
	lin := runtest.Find(t, res, "linearizable")
	assert.Equal(t, checker.Valid, lin.Verdict, lin.Message)
	assert.Contains(t, lin.Message, "plain reads were left out")

	stale := runtest.Find(t, res, "stale-reads")
	assert.Equal(t, checker.Valid, stale.Verdict, "stale plain reads are allowed")
	assert.Contains(t, stale.Message, "(allowed by ZooKeeper: plain reads are served by the connected server)")
	d := staleDetails(t, stale)
	t.Logf("stale reads: %s by node %v", stale.Message, d.ByNode)
	assert.Greater(t, d.ReadsChecked, 300, "plain reads succeeded")

	// The same real history with one session sent back in time is caught:
	// the sequential checker can fail on what ZooKeeper really returns.
	back, ok := sendASessionBack(ops)
	require.True(t, ok, "some session read the register twice at different versions")
	bad := sequential.Checker{}.Check(context.Background(), back)
	assert.Equal(t, checker.Invalid, bad.Verdict, bad.Message)
	assert.Contains(t, bad.Message, sequential.RuleSessionMonotonic)

	isolated := isolations(ops)
	require.NotEmpty(t, isolated, "the nemesis isolated a node")
	followers := 0
	for _, iso := range isolated {
		t.Logf("isolated %s (leader: %v) from %v to %v", iso.node, iso.wasLeader, time.Duration(iso.from), time.Duration(iso.till))
		if !iso.wasLeader {
			followers++
		}
	}
	require.Positive(t, followers, "the target is a follower")
	// An isolated follower served its sessions' plain reads while the
	// others committed writes: ZooKeeper's documented stale reads.
	assert.Positive(t, d.Stale, "an isolated follower serves stale plain reads")
	var onIsolated int
	for _, iso := range isolated {
		if !iso.wasLeader {
			onIsolated += d.ByNode[iso.node]
		}
	}
	assert.Positive(t, onIsolated, "the isolated follower served stale reads (by node: %v)", d.ByNode)
}

func TestQuorumReadsOfAnIsolatedFollowerAreNeverStale(t *testing.T) {
	localtest.RequireZooKeeper(t)
	res, _ := runKnownAnswer(t, register.ReadQuorum)

	assert.Equal(t, checker.Valid, res.Verdict, res.Message)
	assert.Equal(t, checker.Valid, runtest.Find(t, res, "sequential").Verdict, runtest.Find(t, res, "sequential").Message)
	lin := runtest.Find(t, res, "linearizable")
	assert.Equal(t, checker.Valid, lin.Verdict, lin.Message)
	stale := runtest.Find(t, res, "stale-reads")
	d := staleDetails(t, stale)
	t.Logf("stale reads: %s", stale.Message)
	assert.Zero(t, d.Stale, "a read confirmed through the quorum is current when it is confirmed")
	assert.Greater(t, d.ReadsChecked, 300, "quorum reads succeeded")
}
