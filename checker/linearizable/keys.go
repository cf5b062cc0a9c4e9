package linearizable

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/anishathalye/porcupine"
	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// keyHistory is one key's operations, ready for Porcupine. calls[i] is the
// record pair behind ops[i]. Malformed records make the key unknown;
// unreadable reads (ok, without value or version) are left out of ops: a
// read changes nothing, so they cannot mend a violation of the others, but
// they keep a key without one from being valid.
type keyHistory struct {
	key          string
	ops          []porcupine.Operation
	calls        []*history.Call
	infoOps      int
	readsLeftOut int
	malformed    []string
	unreadable   []string
}

// tally counts the evidence in a history, over all keys.
type tally struct {
	okReads, okWrites, readsLeftOut int
}

// splitByKey pairs the records into calls and turns them into Porcupine
// operations, one slice per key, sorted by key. It is linear in the history.
func splitByKey(ops []history.Op, checkReads bool) ([]*keyHistory, tally) {
	var last int64
	for _, op := range ops {
		last = max(last, op.Time)
	}
	// An indeterminate operation may take effect at any time after its
	// call: its return is later than every other event.
	never := last + 1
	if last == math.MaxInt64 {
		never = last
	}

	byKey := map[string]*keyHistory{}
	var t tally
	calls := history.Calls(ops)
	for i := range calls {
		c := &calls[i]
		f := c.Invoke.F
		if f != history.Read && f != history.Write && f != history.CAS {
			continue
		}
		typ := c.Complete.Type
		if typ != history.OK && typ != history.Fail {
			typ = history.Info // including a completion that never came
		}
		kh := byKey[c.Invoke.Key]
		if kh == nil {
			kh = &keyHistory{key: c.Invoke.Key}
			byKey[c.Invoke.Key] = kh
		}
		in := regInput{f: f}
		out := regOutput{typ: typ}
		switch f {
		case history.Read:
			if typ != history.OK {
				continue // a failed or indeterminate read has no effect
			}
			if !checkReads {
				kh.readsLeftOut++
				t.readsLeftOut++
				continue
			}
			if c.Complete.Value == nil || c.Complete.Version == nil {
				kh.unreadable = append(kh.unreadable, "ok read without value or version: "+c.Complete.String())
				continue
			}
			out.value, out.version, out.hasVersion = *c.Complete.Value, *c.Complete.Version, true
			t.okReads++
		case history.Write, history.CAS:
			if typ == history.Fail && (f == history.Write || !strings.Contains(c.Complete.Error, versionConflict)) {
				continue // certainly did not happen, and says nothing about the version
			}
			v := checker.FirstNonNil(c.Invoke.Value, c.Complete.Value)
			if v == nil {
				kh.malformed = append(kh.malformed, f+" without value: "+c.Invoke.String())
				continue
			}
			in.value = *v
			if f == history.CAS {
				e := checker.FirstNonNil(c.Invoke.Expect, c.Complete.Expect)
				if e == nil {
					kh.malformed = append(kh.malformed, "cas without expected version: "+c.Invoke.String())
					continue
				}
				in.expect = *e
			}
			if typ == history.OK {
				t.okWrites++
				if c.Complete.Version != nil {
					out.version, out.hasVersion = *c.Complete.Version, true
				}
			}
		}
		// A completion stamped before its invocation (a hand-edited or imported
		// history) is taken as instantaneous rather than reversed in time.
		ret := max(c.Complete.Time, c.Invoke.Time)
		if typ == history.Info {
			ret = never
			kh.infoOps++
		}
		kh.ops = append(kh.ops, porcupine.Operation{
			Input: in, Output: out, Call: c.Invoke.Time, Return: ret, Metadata: c,
		})
		kh.calls = append(kh.calls, c)
	}

	keys := make([]*keyHistory, 0, len(byKey))
	for _, kh := range byKey {
		if len(kh.ops) == 0 && len(kh.malformed) == 0 && len(kh.unreadable) == 0 {
			continue // only reads that were left out
		}
		assignClients(kh)
		keys = append(keys, kh)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].key < keys[j].key })
	return keys, t
}

// assignClients numbers the key's processes densely, in process order, so
// the visualization has one row per process and no empty rows.
func assignClients(kh *keyHistory) {
	seen := map[history.Process]bool{}
	var procs []history.Process
	for _, c := range kh.calls {
		if !seen[c.Invoke.Process] {
			seen[c.Invoke.Process] = true
			procs = append(procs, c.Invoke.Process)
		}
	}
	slices.Sort(procs)
	row := make(map[history.Process]int, len(procs))
	for i, p := range procs {
		row[p] = i
	}
	for i, c := range kh.calls {
		kh.ops[i].ClientId = row[c.Invoke.Process]
	}
}

// metadata is the tooltip of an operation in the visualization.
func metadata(c *history.Call) string {
	var b strings.Builder
	fmt.Fprintf(&b, "process %s", c.Invoke.Process)
	if c.Invoke.Node != "" {
		fmt.Fprintf(&b, " on %s", c.Invoke.Node)
	}
	if c.Complete.Zxid != 0 {
		fmt.Fprintf(&b, ", zxid 0x%x", c.Complete.Zxid)
	}
	if c.Complete.Error != "" {
		fmt.Fprintf(&b, ", error %q", c.Complete.Error)
	}
	recs := c.Records()
	fmt.Fprintf(&b, ", record #%d", recs[0])
	if len(recs) > 1 {
		fmt.Fprintf(&b, " and #%d", recs[1])
	}
	return b.String()
}
