package sequential

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// operation is one register operation, prepared for the sequential rules.
type operation struct {
	call     history.Call
	f        string
	key      string
	typ      history.Type // ok, fail or info (a missing completion is info)
	value    int64
	hasValue bool
	version  int32
	hasVer   bool // an ok operation that reported its version
	expect   int32
	hasExp   bool
	zxid     int64  // 0 when not recorded
	session  string // "" when ambiguous
	inv, ret int64
}

func (o *operation) isWrite() bool { return o.f == history.Write || o.f == history.CAS }

// observation reports whether o is an ok operation whose version is known:
// evidence of the key's state.
func (o *operation) observation() bool { return o.typ == history.OK && o.hasVer }

// describe renders o for explanations, e.g.
// "read -> 3@v2 (zxid 0x10000000a) by process 4 on n1, 120-125 ms".
func (o *operation) describe() string {
	var b strings.Builder
	switch o.f {
	case history.Read:
		b.WriteString("read")
		if o.typ == history.OK {
			fmt.Fprintf(&b, " -> %d@v%d", o.value, o.version)
		}
	case history.CAS:
		fmt.Fprintf(&b, "cas(%s", valueText(o))
		if o.hasExp {
			fmt.Fprintf(&b, " if v%d", o.expect)
		}
		b.WriteString(")")
	default:
		fmt.Fprintf(&b, "write(%s)", valueText(o))
	}
	if o.isWrite() {
		switch {
		case o.typ == history.OK && o.hasVer:
			fmt.Fprintf(&b, " -> ok v%d", o.version)
		default:
			b.WriteString(" -> " + string(o.typ))
		}
	}
	if o.typ == history.OK && o.zxid != 0 {
		fmt.Fprintf(&b, " (zxid 0x%x)", o.zxid)
	}
	fmt.Fprintf(&b, " by process %s", o.call.Invoke.Process)
	if n := o.call.Invoke.Node; n != "" {
		b.WriteString(" on " + n)
	}
	if s := o.call.Complete.Session; s != 0 {
		fmt.Fprintf(&b, " session 0x%x", s)
	}
	fmt.Fprintf(&b, ", %s-%s ms", checker.Millis(o.inv), checker.Millis(o.ret))
	return b.String()
}

func valueText(o *operation) string {
	if !o.hasValue {
		return "?"
	}
	return strconv.FormatInt(o.value, 10)
}

func (o *operation) involved(role string) InvolvedOp {
	return InvolvedOp{Role: role, Invoke: *o.call.Invoke, Complete: *o.call.Complete}
}
