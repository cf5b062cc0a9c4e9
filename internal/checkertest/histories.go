// Package checkertest holds what the checkers' tests share: builders of
// hand-written histories, fuzz histories, and the scaffolding that holds a
// checker to its brute-force oracle in internal/oracle.
package checkertest

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/history"
)

// Builders of hand-written histories. Times are given in milliseconds; each
// helper returns the invoke record and, when there is one, the completion.
// Hist merges them into one history in time order, as the Writer would.

// Msec is a millisecond in the nanoseconds of history times.
const Msec = int64(time.Millisecond)

// Key is the key of single-key histories.
const Key = "k"

// Invoke is the invocation of f on key k by process p at call.
func Invoke(p int, f, k string, call int64) history.Op {
	return history.Op{Type: history.Invoke, F: f, Process: history.Process(p), Key: k, Time: call * Msec}
}

// Complete is the completion of inv, as typ, at ret.
func Complete(inv history.Op, typ history.Type, ret int64) history.Op {
	return history.Op{Type: typ, F: inv.F, Process: inv.Process, Key: inv.Key, Time: ret * Msec}
}

// WriteOK is setData(k, v, -1) that returned version `version`.
func WriteOK(p int, k string, v int64, call, ret int64, version int32) []history.Op {
	inv := Invoke(p, history.Write, k, call)
	inv.Value = history.Int64(v)
	c := Complete(inv, history.OK, ret)
	c.Value, c.Version = history.Int64(v), history.Int32(version)
	return []history.Op{inv, c}
}

// WriteInfo is a write whose outcome is unknown (connection lost at ret).
func WriteInfo(p int, k string, v int64, call, ret int64) []history.Op {
	inv := Invoke(p, history.Write, k, call)
	inv.Value = history.Int64(v)
	c := Complete(inv, history.Info, ret)
	c.Error = "zk: connection closed"
	return []history.Op{inv, c}
}

// WriteFail is a write that certainly did not happen.
func WriteFail(p int, k string, v int64, call, ret int64) []history.Op {
	inv := Invoke(p, history.Write, k, call)
	inv.Value = history.Int64(v)
	c := Complete(inv, history.Fail, ret)
	c.Error = "zk: node does not exist"
	return []history.Op{inv, c}
}

// ReadOK is a read that returned v at version.
func ReadOK(p int, k string, call, ret int64, v int64, version int32) []history.Op {
	inv := Invoke(p, history.Read, k, call)
	c := Complete(inv, history.OK, ret)
	c.Value, c.Version = history.Int64(v), history.Int32(version)
	return []history.Op{inv, c}
}

// ReadInfo is a read that timed out.
func ReadInfo(p int, k string, call, ret int64) []history.Op {
	inv := Invoke(p, history.Read, k, call)
	c := Complete(inv, history.Info, ret)
	c.Error = "zk: could not connect to a server"
	return []history.Op{inv, c}
}

func casInvoke(p int, k string, v int64, expect int32, call int64) history.Op {
	inv := Invoke(p, history.CAS, k, call)
	inv.Value, inv.Expect = history.Int64(v), history.Int32(expect)
	return inv
}

// CASOK is setData(k, v, expect) that succeeded with version expect+1.
func CASOK(p int, k string, v int64, expect int32, call, ret int64) []history.Op {
	inv := casInvoke(p, k, v, expect, call)
	c := Complete(inv, history.OK, ret)
	c.Version = history.Int32(expect + 1)
	return []history.Op{inv, c}
}

// CASConflict is setData(k, v, expect) that failed with ErrBadVersion.
func CASConflict(p int, k string, v int64, expect int32, call, ret int64) []history.Op {
	inv := casInvoke(p, k, v, expect, call)
	c := Complete(inv, history.Fail, ret)
	c.Error = "zk: version conflict"
	return []history.Op{inv, c}
}

// CASInfo is a cas whose outcome is unknown.
func CASInfo(p int, k string, v int64, expect int32, call, ret int64) []history.Op {
	inv := casInvoke(p, k, v, expect, call)
	c := Complete(inv, history.Info, ret)
	c.Error = "zk: session has been expired by the server"
	return []history.Op{inv, c}
}

// Nemesis is a fault record pair: invoke at from, info completion at to.
func Nemesis(f, name string, from, to int64, targets ...string) []history.Op {
	fault := &history.Fault{Name: name, Targets: targets}
	return []history.Op{
		{Type: history.Invoke, F: f, Process: history.NemesisProcess, Time: from * Msec, Fault: fault},
		{Type: history.Info, F: f, Process: history.NemesisProcess, Time: to * Msec, Fault: fault},
	}
}

// Hist merges record groups into a history sorted by time, and numbers it.
func Hist(groups ...[]history.Op) []history.Op {
	var ops []history.Op
	for _, g := range groups {
		ops = append(ops, g...)
	}
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Time < ops[j].Time })
	for i := range ops {
		ops[i].Index = int64(i)
	}
	return ops
}

// One wraps a single record as a group for Hist.
func One(op history.Op) []history.Op { return []history.Op{op} }

// CancelledLater is a context that a check finds cancelled from its
// (N+1)th look on: a check cut short part of the way through.
type CancelledLater struct {
	context.Context
	looks int
	// N is how many looks find it not cancelled.
	N int
}

// Err is nil for the first N looks, then context.Canceled.
func (c *CancelledLater) Err() error {
	c.looks++
	if c.looks > c.N {
		return context.Canceled
	}
	return nil
}

// OpLines renders a history one JSON record a line, as history files hold
// it, for a failure message that reproduces the history.
func OpLines(ops []history.Op) string {
	var b strings.Builder
	for _, op := range ops {
		b.WriteString(op.String())
		b.WriteByte('\n')
	}
	return b.String()
}
