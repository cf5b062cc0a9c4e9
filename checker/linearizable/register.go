package linearizable

import (
	"fmt"
	"html"
	"sync/atomic"

	"github.com/anishathalye/porcupine"
	"github.com/zkchaos/zkchaos/history"
)

// The register model: one znode holding an integer, with ZooKeeper's data
// version. A key starts at value 0, version 0 (the workload creates it before
// it starts); every applied setData adds one to the version.

// regState is the znode's value and data version.
type regState struct {
	value   int64
	version int32
}

func (s regState) String() string { return fmt.Sprintf("%d@v%d", s.value, s.version) }

// regInput is what an operation asked for.
type regInput struct {
	f      string // history.Read, history.Write or history.CAS
	value  int64  // the value a write or cas sets
	expect int32  // the version a cas requires
}

// regOutput is how an operation ended.
type regOutput struct {
	typ        history.Type // ok; fail (only a cas version conflict is kept); info
	value      int64        // the value an ok read returned
	version    int32        // the version an ok read returned, or an ok write's new version
	hasVersion bool
}

// step applies one operation to s. Reads must match value and version. A
// write always applies. A cas applies only at its expected version; a failed
// cas is evidence that the version differed. An info cas applies if the
// version matches and is a no-op otherwise; an info operation's output is
// not checked. An ok write or cas that reported its new version must agree
// with the model's.
func step(s regState, in regInput, out regOutput) (bool, regState) {
	switch in.f {
	case history.Read:
		return out.value == s.value && out.version == s.version, s
	case history.Write:
		next := regState{value: in.value, version: s.version + 1}
		if out.typ == history.OK && out.hasVersion && out.version != next.version {
			return false, s
		}
		return true, next
	case history.CAS:
		matches := s.version == in.expect
		next := regState{value: in.value, version: s.version + 1}
		switch out.typ {
		case history.Fail:
			return !matches, s
		case history.Info:
			if matches {
				return true, next
			}
			return true, s
		default:
			if !matches || (out.hasVersion && out.version != next.version) {
				return false, s
			}
			return true, next
		}
	}
	return false, s
}

// describeOp renders an operation for visualizations and explanations, e.g.
// "cas(7 if v3) -> ok v4" or "read -> 12@v5".
func describeOp(in regInput, out regOutput) string {
	var call string
	switch in.f {
	case history.Read:
		if out.typ == history.OK {
			return fmt.Sprintf("read -> %d@v%d", out.value, out.version)
		}
		return "read -> " + string(out.typ)
	case history.Write:
		call = fmt.Sprintf("write(%d)", in.value)
	case history.CAS:
		call = fmt.Sprintf("cas(%d if v%d)", in.value, in.expect)
	default:
		call = in.f
	}
	switch {
	case out.typ == history.OK && out.hasVersion:
		return fmt.Sprintf("%s -> ok v%d", call, out.version)
	case out.typ == history.Fail:
		return call + " -> fail (version conflict)"
	case out.typ == history.Info:
		return call + " -> info (may or may not have happened)"
	default:
		return call + " -> " + string(out.typ)
	}
}

// registerModel returns the Porcupine model. Once stop is set every step
// fails, so a cancelled check unwinds quickly; its result is then discarded
// unless it is Ok (a complete linearization found before the stop is real).
func registerModel(stop *atomic.Bool) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return regState{} },
		Step: func(state, input, output any) (bool, any) {
			if stop.Load() {
				return false, state
			}
			return step(state.(regState), input.(regInput), output.(regOutput))
		},
		Hash: func(state any) uint64 {
			s := state.(regState)
			return uint64(s.value)*0x9e3779b97f4a7c15 ^ uint64(uint32(s.version))
		},
		DescribeOperation: func(input, output any) string {
			return describeOp(input.(regInput), output.(regOutput))
		},
		DescribeState: func(state any) string { return state.(regState).String() },
		DescribeOperationMetadata: func(meta any) string {
			if c, ok := meta.(*history.Call); ok {
				// Porcupine shows metadata as HTML; history strings
				// (errors, node names) must not become markup.
				return html.EscapeString(metadata(c))
			}
			return ""
		},
	}
}
