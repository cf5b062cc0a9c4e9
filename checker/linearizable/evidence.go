package linearizable

import (
	"strconv"

	"github.com/zkchaos/zkchaos/checker"
)

// Roles of the operations a key's explanation names.
const (
	roleCited           = "cited"
	roleNotPlaceable    = "not placeable"
	roleNeverLinearized = "never linearized"
)

// Evidence lists every key that is not linearizable, or could not be
// decided, with the operations its explanation names.
func (d Details) Evidence() []checker.Anomaly { return keyEvidence(d.Keys) }

// Evidence lists every key that is not linearizable, or could not be
// decided, with the operations its explanation names.
func (d ValueRegisterDetails) Evidence() []checker.Anomaly { return keyEvidence(d.Keys) }

// keyEvidence makes an anomaly of each key that is not valid and says why.
func keyEvidence(keys []KeyDetails) []checker.Anomaly {
	var out []checker.Anomaly
	for _, k := range keys {
		if k.Verdict == checker.Valid || k.Explanation == "" {
			continue
		}
		kind := "undecided"
		if k.Verdict == checker.Invalid {
			kind = "not linearizable"
		}
		facts := []checker.Fact{{Name: "operations", Value: strconv.Itoa(k.Ops)}, {Name: "indeterminate", Value: strconv.Itoa(k.InfoOps)}}
		if k.Method != "" {
			facts = append(facts, checker.Fact{Name: "method", Value: k.Method})
		}
		if k.StateAfterPrefix != "" {
			facts = append(facts, checker.Fact{Name: "longest prefix", Value: strconv.Itoa(k.LongestPrefix)},
				checker.Fact{Name: "state after prefix", Value: k.StateAfterPrefix})
		}
		out = append(out, checker.Anomaly{Kind: kind, Key: k.Key, Text: k.Explanation, Facts: facts, Ops: k.cited})
	}
	return out
}

// cite names the operations ids, in role, by the index of their invocation
// record as invoked(id) gives it.
func cite(role string, invoked func(id int) int64, ids ...int) []checker.OpRef {
	refs := make([]checker.OpRef, len(ids))
	for i, id := range ids {
		refs[i] = checker.Op(role, invoked(id))
	}
	return refs
}

// invokedAt returns the index of the invocation record of kh's call id.
func (kh *keyHistory) invokedAt(id int) int64 { return kh.calls[id].Invoke.Index }

// invokedAt returns the index of the invocation record of k's call id.
func (k *valueKey) invokedAt(id int) int64 { return k.calls[id].Invoke.Index }
