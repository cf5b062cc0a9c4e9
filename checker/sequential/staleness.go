package sequential

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/linearizable"
	"github.com/zkchaos/zkchaos/history"
)

// StaleReads measures how stale the register workload's reads were: a read
// is stale when it returned an older version than the latest write that had
// been acknowledged before the read was invoked. ZooKeeper allows this for
// plain and sync reads, which the connected server answers from its own
// copy, so the verdict is valid whatever the count: it is a measurement for
// people, not a judgement (only a cancelled count is unknown). For quorum
// reads a stale read would also be a linearizability violation, which
// linearizable.Checker judges.
type StaleReads struct {
	// ReadMode is how the workload read: "plain", "sync" or "quorum"; empty
	// means "plain". It only changes the message.
	ReadMode string
}

// StaleReadsDetails is the evidence of the StaleReads checker.
type StaleReadsDetails struct {
	// ReadMode is the read mode the count is explained for.
	ReadMode string `json:"read_mode"`
	// ReadsChecked is the number of ok reads with a version.
	ReadsChecked int `json:"reads_checked"`
	// Stale is the number of stale reads.
	Stale int `json:"stale"`
	// ByNode counts the stale reads per server that answered them.
	ByNode map[string]int `json:"by_node,omitempty"`
	// MaxVersionsBehind is the most versions a read was behind.
	MaxVersionsBehind int32 `json:"max_versions_behind,omitempty"`
	// MaxLag is the longest time between the acknowledgement of a newer
	// write and the invocation of a read that still missed it.
	MaxLag time.Duration `json:"max_lag_ns,omitempty"`
	// Examples are the first stale reads, at most ten.
	Examples []StaleRead `json:"examples,omitempty"`
}

// StaleRead is one stale read with the write it missed.
type StaleRead struct {
	// Key is the register.
	Key string `json:"key"`
	// Node is the server that answered the read.
	Node string `json:"node,omitempty"`
	// ReadVersion is the version the read returned.
	ReadVersion int32 `json:"read_version"`
	// LatestVersion is the highest version acknowledged before the read was
	// invoked.
	LatestVersion int32 `json:"latest_version"`
	// VersionsBehind is LatestVersion - ReadVersion.
	VersionsBehind int32 `json:"versions_behind"`
	// Lag is how long before the read's invocation the first write newer
	// than what it returned had been acknowledged.
	Lag time.Duration `json:"lag_ns"`
	// Read is the stale read.
	Read InvolvedOp `json:"read"`
	// Latest is the write of LatestVersion.
	Latest InvolvedOp `json:"latest"`
}

// staleExamples is how many stale reads the details show.
const staleExamples = 10

// Name returns "stale-reads".
func (StaleReads) Name() string { return "stale-reads" }

// Check counts stale reads; Details is a StaleReadsDetails. The verdict is
// valid whatever the count, and unknown only when ctx ended the count early.
func (c StaleReads) Check(ctx context.Context, ops []history.Op) checker.Result {
	start := time.Now()
	d, cancelled := staleReads(ctx, ops)
	return c.result(d, cancelled, start)
}

// StartByKey counts key by key: a read is stale against the writes of its
// own key.
func (c StaleReads) StartByKey(context.Context) checker.KeyJudgement {
	return &staleJudgement{c: c, start: time.Now()}
}

type staleJudgement struct {
	c         StaleReads
	start     time.Time
	mu        sync.Mutex
	d         StaleReadsDetails
	cancelled bool
}

func (*staleJudgement) Record(*checker.Keys, *history.Op) {}

func (j *staleJudgement) Key(ctx context.Context, _ *checker.Keys, _ string, ops []history.Op) {
	d, cancelled := staleReads(ctx, ops)
	j.mu.Lock()
	defer j.mu.Unlock()
	j.cancelled = j.cancelled || cancelled
	j.d.ReadsChecked += d.ReadsChecked
	j.d.Stale += d.Stale
	for node, n := range d.ByNode {
		if j.d.ByNode == nil {
			j.d.ByNode = map[string]int{}
		}
		j.d.ByNode[node] += n
	}
	j.d.MaxVersionsBehind = max(j.d.MaxVersionsBehind, d.MaxVersionsBehind)
	j.d.MaxLag = max(j.d.MaxLag, d.MaxLag)
	// The examples are the first stale reads of the whole history, by
	// invocation: among the first of each key.
	j.d.Examples = append(j.d.Examples, d.Examples...)
	slices.SortFunc(j.d.Examples, func(a, b StaleRead) int { return cmp.Compare(a.Read.Invoke.Index, b.Read.Invoke.Index) })
	j.d.Examples = j.d.Examples[:min(len(j.d.Examples), staleExamples)]
}

func (j *staleJudgement) Result(context.Context, *checker.Keys) checker.Result {
	return j.c.result(j.d, j.cancelled, j.start)
}

// staleReads counts the stale reads of ops; cancelled is true when ctx
// ended the count early.
func staleReads(ctx context.Context, ops []history.Op) (d StaleReadsDetails, cancelled bool) {

	type acked struct {
		call    history.Call
		version int32
		ret     int64
	}
	writes := map[string][]acked{}
	var reads []history.Call
	for _, call := range history.Calls(ops) {
		if call.Complete.Type != history.OK || call.Complete.Version == nil {
			continue
		}
		switch call.Invoke.F {
		case history.Read:
			reads = append(reads, call)
		case history.Write, history.CAS:
			k := call.Invoke.Key
			writes[k] = append(writes[k], acked{call, *call.Complete.Version, call.Complete.Time})
		}
	}
	// Per key: writes by acknowledgement time, and latest[i], the write with
	// the highest version among the first i+1.
	latest := map[string][]int{}
	for k, ws := range writes {
		sort.SliceStable(ws, func(i, j int) bool { return ws[i].ret < ws[j].ret })
		idx := make([]int, len(ws))
		for i := range ws {
			idx[i] = i
			if i > 0 && ws[idx[i-1]].version >= ws[i].version {
				idx[i] = idx[i-1]
			}
		}
		latest[k] = idx
	}

	for i, r := range reads {
		if i%4096 == 4095 && ctx.Err() != nil {
			cancelled = true
			break
		}
		d.ReadsChecked++
		k := r.Invoke.Key
		ws, idx := writes[k], latest[k]
		n := sort.Search(len(ws), func(i int) bool { return ws[i].ret >= r.Invoke.Time })
		if n == 0 {
			continue
		}
		rv := *r.Complete.Version
		top := ws[idx[n-1]]
		if top.version <= rv {
			continue
		}
		// The latest-so-far versions only grow, so the first write that
		// made the read stale is found by binary search.
		first := sort.Search(n, func(i int) bool { return ws[idx[i]].version > rv })
		sr := StaleRead{
			Key: k, Node: r.Invoke.Node, ReadVersion: rv, LatestVersion: top.version,
			VersionsBehind: top.version - rv,
			Lag:            time.Duration(r.Invoke.Time - ws[idx[first]].ret),
			Read:           InvolvedOp{Role: "stale read", Invoke: *r.Invoke, Complete: *r.Complete},
			Latest:         InvolvedOp{Role: "latest acknowledged write", Invoke: *top.call.Invoke, Complete: *top.call.Complete},
		}
		d.Stale++
		if d.ByNode == nil {
			d.ByNode = map[string]int{}
		}
		d.ByNode[sr.Node]++
		d.MaxVersionsBehind = max(d.MaxVersionsBehind, sr.VersionsBehind)
		d.MaxLag = max(d.MaxLag, sr.Lag)
		if len(d.Examples) < staleExamples {
			d.Examples = append(d.Examples, sr)
		}
	}

	return d, cancelled
}

// result words the count.
func (c StaleReads) result(d StaleReadsDetails, cancelled bool, start time.Time) checker.Result {
	mode := c.ReadMode
	if mode == "" {
		mode = linearizable.ReadPlain
	}
	d.ReadMode = mode
	msg := checker.Plural(d.Stale, "stale read", "stale reads")
	switch mode {
	case linearizable.ReadQuorum:
		msg += " (quorum reads are confirmed through the leader, so there should be none; any would also fail the linearizable check)"
	default:
		msg += " (allowed by ZooKeeper: plain reads are served by the connected server)"
	}
	msg += fmt.Sprintf(" among %s", checker.Plural(d.ReadsChecked, "ok read", "ok reads"))
	if d.Stale > 0 {
		msg += fmt.Sprintf("; at worst %s behind, or %s after a newer write was acknowledged",
			checker.Plural(int(d.MaxVersionsBehind), "version", "versions"), d.MaxLag.Round(time.Millisecond))
	}
	if mode == linearizable.ReadSync {
		msg += "; sync narrows the window but does not close it (ZOOKEEPER-1675)"
	}
	msg += "."
	verdict := checker.Valid
	if cancelled {
		// A count that did not finish is not a measurement to trust.
		verdict = checker.Unknown
		msg = "the check was cancelled before it finished; so far " + msg
	}
	return checker.Result{Checker: c.Name(), Verdict: verdict, Message: msg, Details: d, Duration: time.Since(start)}
}
