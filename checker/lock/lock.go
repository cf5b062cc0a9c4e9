// Package lock judges the mutual exclusion that the ZooKeeper lock recipe
// gives to holders whose sessions are alive.
package lock

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/session"
	"github.com/zkchaos/zkchaos/history"
)

// Operation names of the lock workload.
const (
	// Acquire takes the lock: an ok completion means the process held it
	// from then on, with Path its lock node and Values[0] the node's
	// ephemeral owner (the session that holds the lock).
	Acquire = "acquire"
	// Release deletes the holder's lock node (Path).
	Release = "release"
)

// exampleLimit bounds the overlaps listed in the details; all are counted.
const exampleLimit = 20

// Checker judges mutual exclusion of the ZooKeeper lock recipe (an ephemeral
// sequential node per contender; the lowest holds the lock).
//
// ZooKeeper promises that writes are linearizable and that an ephemeral node
// lives exactly as long as its session. From that the recipe gives mutual
// exclusion among holders whose sessions are alive, and no more: once a
// holder's session has expired the server has deleted its node and another
// contender acquires legitimately, even though the old holder has not yet
// heard of the expiry. So each hold is seen twice:
//
//   - believed: from the acquire's ok until the holder released (the release
//     invocation), learnt that its session ended, or the history ended;
//   - proven: the part of the believed hold during which the holder's node
//     certainly existed, i.e. up to the release invocation when the release
//     deleted the node (ok), or else up to the last invocation of an ok write
//     on the holder's session (sessions never come back: a later successful
//     write proves the session was alive, hence its node present, until
//     then).
//
// Two proven holds that overlap in real time are a violation (invalid). An
// overlap of believed holds that is not an overlap of proven holds is
// reported as information: an expired holder still believed it held the
// lock, which the recipe allows. An acquire that ended info or fail holds
// nothing. The verdict is unknown when no acquire succeeded, or no hold could
// be proven.
type Checker struct{}

// Name returns "lock".
func (Checker) Name() string { return "lock" }

// Hold is one successful acquisition and how long it lasted.
type Hold struct {
	// Process is the holder.
	Process history.Process `json:"process"`
	// Session is the holder's session (its lock node's owner), 0 if unknown.
	Session int64 `json:"session,omitempty"`
	// Path is the holder's lock node.
	Path string `json:"path,omitempty"`
	// Acquired is when the acquire completed ok.
	Acquired int64 `json:"acquired_ns"`
	// Until is the end of the believed hold.
	Until int64 `json:"until_ns"`
	// EndedBy says what ended the believed hold: release, the next
	// operation, session expired or closed, end of history.
	EndedBy string `json:"ended_by"`
	// ProvenUntil is the end of the proven part; when it is not after
	// Acquired no part of the hold is proven.
	ProvenUntil int64 `json:"proven_until_ns"`
	// SessionEnded is when the holder's session was first seen to end
	// (expired or closed) after the acquire, 0 if never.
	SessionEnded int64 `json:"session_ended_ns,omitempty"`
	// AcquireIndex is the index of the acquire's completion record.
	AcquireIndex int64 `json:"acquire_index"`
	// invoked is the index of the acquire's invocation record.
	invoked int64
}

// proven reports whether some part of the hold is proven.
func (h Hold) proven() bool { return h.ProvenUntil > h.Acquired }

// Overlap is two holds that overlapped in real time.
type Overlap struct {
	// First acquired before (or with) Second.
	First Hold `json:"first"`
	// Second is the other hold.
	Second Hold `json:"second"`
	// From and To bound the overlap.
	From int64 `json:"from_ns"`
	To   int64 `json:"to_ns"`
	// Explanation says why it is, or is not, a violation.
	Explanation string `json:"explanation"`
}

// Details is the evidence of the lock checker.
type Details struct {
	// Holds is the number of successful acquisitions.
	Holds int `json:"holds"`
	// Proven is the number of holds with a proven part.
	Proven int `json:"proven"`
	// Violations counts overlaps of proven holds; Examples lists the first.
	Violations        int       `json:"violations"`
	ViolationExamples []Overlap `json:"violation_examples,omitempty"`
	// ExpiredHolders counts overlaps in which one holder's session was not
	// proven alive (allowed by ZooKeeper); ExpiredExamples lists the first.
	ExpiredHolders  int       `json:"expired_holders"`
	ExpiredExamples []Overlap `json:"expired_examples,omitempty"`
}

// Check finds overlapping holds.
func (l Checker) Check(ctx context.Context, ops []history.Op) checker.Result {
	start := time.Now()
	r := l.check(ctx, ops)
	r.Checker = l.Name()
	r.Duration = time.Since(start)
	return r
}

func (Checker) check(ctx context.Context, ops []history.Op) checker.Result {
	holds := holdsOf(ops)
	d := Details{Holds: len(holds)}
	for _, h := range holds {
		if h.proven() {
			d.Proven++
		}
	}
	sort.Slice(holds, func(i, j int) bool {
		if holds[i].Acquired != holds[j].Acquired {
			return holds[i].Acquired < holds[j].Acquired
		}
		return holds[i].AcquireIndex < holds[j].AcquireIndex
	})

	// Sweep in order of acquisition, keeping the holds whose believed
	// interval is still open; a proven part ends no later than the believed.
	var active []Hold
	var cut string // why the sweep stopped early
	for n, h := range holds {
		if n%256 == 0 && ctx.Err() != nil {
			cut = fmt.Sprintf("ran out of time after %d of %d holds: %v", n, len(holds), ctx.Err())
			break
		}
		kept := active[:0]
		for _, a := range active {
			if a.Until > h.Acquired {
				kept = append(kept, a)
			}
		}
		active = kept
		for _, a := range active {
			compare(&d, a, h)
		}
		if h.Until > h.Acquired {
			active = append(active, h)
		}
	}

	r := checker.Result{Details: d}
	switch {
	case d.Violations > 0:
		first := d.ViolationExamples[0]
		r.Verdict = checker.Invalid
		r.Message = fmt.Sprintf("%d overlaps of holds whose sessions were both alive: process %s held the lock from %s and process %s from %s, both until at least %s.",
			d.Violations, first.First.Process, checker.MillisWithUnit(first.First.Acquired), first.Second.Process, checker.MillisWithUnit(first.Second.Acquired), checker.MillisWithUnit(first.To))
		if cut != "" {
			r.Message += " The check " + cut + "."
		}
	case cut != "":
		r.Verdict, r.Message = checker.Unknown, "The check "+cut+"; no overlap was found before."
	case d.Holds == 0:
		r.Verdict = checker.Unknown
		r.Message = "no evidence: no acquire succeeded."
	case d.Proven == 0:
		r.Verdict = checker.Unknown
		r.Message = fmt.Sprintf("no evidence: %d acquires succeeded but no hold was proven (no release was confirmed and no later write on the holder's session succeeded).", d.Holds)
	default:
		r.Verdict = checker.Valid
		r.Message = fmt.Sprintf("%d holds, %d proven: no two holders whose sessions were alive held the lock at once.", d.Holds, d.Proven)
	}
	if d.ExpiredHolders > 0 {
		r.Message += fmt.Sprintf(" %s in which a holder's session was not proven alive (an expired holder still believed it held the lock; allowed by ZooKeeper).",
			checker.Plural(d.ExpiredHolders, "1 overlap", fmt.Sprintf("%d overlaps", d.ExpiredHolders)))
	}
	return r
}

// compare records the overlap of a (acquired first) and b, if any.
func compare(d *Details, a, b Hold) {
	from := max(a.Acquired, b.Acquired)
	if to := min(a.Until, b.Until); from >= to {
		return
	}
	if a.proven() && b.proven() {
		if to := min(a.ProvenUntil, b.ProvenUntil); from < to {
			d.Violations++
			if len(d.ViolationExamples) < exampleLimit {
				d.ViolationExamples = append(d.ViolationExamples, Overlap{First: a, Second: b, From: from, To: to,
					Explanation: "both holders' lock nodes existed throughout: each was confirmed by a later successful write on its session"})
			}
			return
		}
	}
	d.ExpiredHolders++
	if len(d.ExpiredExamples) < exampleLimit {
		d.ExpiredExamples = append(d.ExpiredExamples, Overlap{First: a, Second: b, From: from, To: min(a.Until, b.Until),
			Explanation: whyUnproven(a, b, from)})
	}
}

// whyUnproven explains which holder was not proven alive in an overlap
// starting at from.
func whyUnproven(a, b Hold, from int64) string {
	h := a
	if a.ProvenUntil > from {
		h = b
	}
	if h.SessionEnded > 0 {
		return fmt.Sprintf("process %s's session %#x was seen to end at %s: an expired holder still believed it held the lock",
			h.Process, h.Session, checker.MillisWithUnit(h.SessionEnded))
	}
	return fmt.Sprintf("process %s's session %#x is not proven alive after %s (its release was not confirmed): its lock node may have vanished with the session",
		h.Process, h.Session, checker.MillisWithUnit(max(h.ProvenUntil, h.Acquired)))
}

// holdsOf extracts every successful acquisition with its believed and
// proven ends.
func holdsOf(ops []history.Op) []Hold {
	var last int64
	ended := map[int64][]int64{} // session -> times it was seen to end
	for _, op := range ops {
		last = max(last, op.Time)
		if op.IsNemesis() || op.F != session.F || op.Type == history.Invoke || op.Session == 0 {
			continue
		}
		if op.Event == session.Expired || op.Event == session.Closed {
			ended[op.Session] = append(ended[op.Session], op.Time)
		}
	}
	calls := history.Calls(ops)
	// Writes on a session prove it alive at their invocation.
	alive := map[int64]int64{}
	byProcess := map[history.Process][]int{}
	for i, c := range calls {
		byProcess[c.Invoke.Process] = append(byProcess[c.Invoke.Process], i)
		if c.Type() != history.OK {
			continue
		}
		var s int64
		switch c.Invoke.F {
		case Acquire:
			s = ownerOf(c)
		case Release:
			s = session.Throughout(c)
		}
		if s != 0 {
			alive[s] = max(alive[s], c.Invoke.Time)
		}
	}

	var holds []Hold
	for p, idx := range byProcess {
		for n, i := range idx {
			c := calls[i]
			if c.Invoke.F != Acquire || c.Type() != history.OK {
				continue
			}
			h := Hold{Process: p, Session: ownerOf(c), Path: c.Complete.Path,
				Acquired: c.Complete.Time, Until: last, EndedBy: "end of history", AcquireIndex: c.Complete.Index, invoked: c.Invoke.Index}
			var proof int64
			if s, ok := alive[h.Session]; ok && h.Session != 0 {
				proof = s
			}
			if n+1 < len(idx) {
				next := calls[idx[n+1]]
				h.Until, h.EndedBy = next.Invoke.Time, "next operation"
				if next.Invoke.F == Release {
					h.EndedBy = "release"
					if next.Type() == history.OK && (next.Invoke.Path == "" || next.Invoke.Path == h.Path) {
						// The release deleted the node: it existed until then.
						proof = max(proof, next.Invoke.Time)
					}
				}
			}
			if h.Session != 0 {
				for _, t := range ended[h.Session] {
					if t >= h.Acquired && (h.SessionEnded == 0 || t < h.SessionEnded) {
						h.SessionEnded = t
					}
				}
				if h.SessionEnded > 0 && h.SessionEnded < h.Until {
					h.Until, h.EndedBy = h.SessionEnded, "session ended"
				}
			}
			h.ProvenUntil = min(proof, h.Until)
			if h.Until < h.Acquired {
				h.Until = h.Acquired // a malformed history: keep intervals well formed
			}
			holds = append(holds, h)
		}
	}
	return holds
}

// ownerOf is the session an acquire's lock node belongs to: the ephemeral
// owner it recorded, else the session the call ran on throughout, else 0.
func ownerOf(c history.Call) int64 {
	if v := c.Complete.Values; len(v) > 0 && v[0] != 0 {
		return v[0]
	}
	return session.Throughout(c)
}
