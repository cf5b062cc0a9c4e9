package gen

import (
	"fmt"
	"math/rand/v2"

	"github.com/zkchaos/zkchaos/history"
)

// JepsenConfig shapes a generated Jepsen cas-register history. Zero fields
// take the defaults noted.
type JepsenConfig struct {
	// Seed fixes the history.
	Seed uint64
	// Calls is the number of client calls. Default 300.
	Calls int
	// Keys is the number of registers; with more than one, values are
	// Jepsen's independent [key value] tuples. Default 1.
	Keys int
	// Processes is the number of concurrent clients. Default 10.
	Processes int
	// Values is how many distinct values writes and cas use: 0 to
	// Values-1. Default 5.
	Values int
	// Reads and CAS are the shares of reads and cas among calls; the rest
	// are writes. Defaults 0.5 and 0.25.
	Reads, CAS float64
	// Info is the share of calls that end :info (the client crashed or
	// timed out; its process is retired and a new one takes its place);
	// half of those took effect, at any later moment. Default 0.05.
	Info float64
	// Fail is the share of calls that end :fail without taking effect,
	// whatever the register holds (a timeout answered as a definite
	// failure); a cas whose expected value did not match fails too.
	// Default 0.05.
	Fail float64
	// Nil is the share of written and expected values that are nil.
	Nil float64
	// Anomaly plants one certain violation after half of the calls:
	// StaleRead (a new process writes a value nobody else writes, then
	// another, then reads the first back) or DoubleCAS (a new process
	// writes a value nobody else writes, then two new processes both cas
	// from it to values of their own, concurrently, and both succeed).
	Anomaly Anomaly
	// CorruptRead makes one ok read, chosen at random, return a value drawn
	// at random: the history may or may not stay linearizable.
	CorruptRead bool
}

func (c *JepsenConfig) defaults() {
	setDefault(&c.Calls, 300)
	setDefault(&c.Keys, 1)
	setDefault(&c.Processes, 10)
	setDefault(&c.Values, 5)
	setDefault(&c.Reads, 0.5)
	setDefault(&c.CAS, 0.25)
	setDefault(&c.Info, 0.05)
	setDefault(&c.Fail, 0.05)
}

// jepsenCall is a call in flight.
type jepsenCall struct {
	inv     history.Op
	key     int
	applied bool
	read    int64
	casOK   bool
}

// Jepsen returns a cas-register history as Jepsen records one and
// history.ReadEDN reads it: records in real-time order (Index and Time are
// the position), registers that start at nil, each call taking effect at one
// moment between its invocation and its completion, or for an :info call at
// any later moment or never. Without StaleRead it is linearizable.
func Jepsen(cfg JepsenConfig) []history.Op {
	cfg.defaults()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x4a65707365))
	value := make([]int64, cfg.Keys)
	for k := range value {
		value[k] = history.EDNNil
	}
	var ops []history.Op
	emit := func(op history.Op) {
		op.Index, op.Time = int64(len(ops)), int64(len(ops))
		ops = append(ops, op)
	}
	apply := func(c *jepsenCall) {
		c.applied = true
		switch c.inv.F {
		case history.Read:
			c.read = value[c.key]
		case history.Write:
			value[c.key] = *c.inv.Value
		case history.CAS:
			if value[c.key] == c.inv.Values[0] {
				value[c.key], c.casOK = c.inv.Values[1], true
			}
		}
	}
	randValue := func() int64 {
		if rng.Float64() < cfg.Nil {
			return history.EDNNil
		}
		return rng.Int64N(int64(cfg.Values))
	}
	keyOf := func(k int) string {
		if cfg.Keys == 1 {
			return ""
		}
		return fmt.Sprint(k)
	}
	inFlight := make([]*jepsenCall, cfg.Processes)
	process := make([]history.Process, cfg.Processes)
	for i := range process {
		process[i] = history.Process(i)
	}
	nextProcess := history.Process(cfg.Processes)
	var late []*jepsenCall // :info calls that will take effect later
	planted := cfg.Anomaly == None
	issued, open := 0, 0
	for issued < cfg.Calls || open > 0 {
		if len(late) > 0 && rng.IntN(8) == 0 {
			i := rng.IntN(len(late))
			apply(late[i])
			late = append(late[:i], late[i+1:]...)
		}
		if !planted && issued >= cfg.Calls/2 {
			planted = true
			// Values from cfg.Values up are written by the plant alone.
			fresh := int64(cfg.Values)
			p := nextProcess
			nextProcess += 3
			w := history.Op{Type: history.Invoke, F: history.Write, Process: p, Key: keyOf(0), Value: history.Int64(fresh)}
			emit(w)
			w.Type = history.OK
			emit(w)
			value[0] = fresh
			switch cfg.Anomaly {
			case StaleRead:
				w2 := w
				w2.Type, w2.Value = history.Invoke, history.Int64(fresh+1)
				emit(w2)
				w2.Type = history.OK
				emit(w2)
				r := history.Op{Type: history.Invoke, F: history.Read, Process: p, Key: keyOf(0)}
				emit(r)
				r.Type, r.Value = history.OK, history.Int64(fresh)
				emit(r)
				value[0] = fresh + 1
			case DoubleCAS:
				a := history.Op{Type: history.Invoke, F: history.CAS, Process: p + 1, Key: keyOf(0), Values: []int64{fresh, fresh + 1}}
				b := history.Op{Type: history.Invoke, F: history.CAS, Process: p + 2, Key: keyOf(0), Values: []int64{fresh, fresh + 2}}
				emit(a)
				emit(b)
				a.Type, b.Type = history.OK, history.OK
				emit(a)
				emit(b)
				value[0] = fresh + 2
			}
		}
		i := rng.IntN(cfg.Processes)
		c := inFlight[i]
		if c == nil {
			if issued == cfg.Calls {
				continue
			}
			k := rng.IntN(cfg.Keys)
			inv := history.Op{Type: history.Invoke, Process: process[i], Key: keyOf(k)}
			switch x := rng.Float64(); {
			case x < cfg.Reads:
				inv.F = history.Read
			case x < cfg.Reads+cfg.CAS:
				inv.F, inv.Values = history.CAS, []int64{randValue(), randValue()}
			default:
				inv.F, inv.Value = history.Write, history.Int64(randValue())
			}
			emit(inv)
			inFlight[i] = &jepsenCall{inv: inv, key: k}
			issued++
			open++
			continue
		}
		if !c.applied && rng.IntN(2) == 0 {
			apply(c)
			continue
		}
		done := c.inv
		switch x := rng.Float64(); {
		case x < cfg.Info:
			done.Type = history.Info
			if !c.applied && rng.IntN(2) == 0 {
				late = append(late, c)
			}
			process[i] = nextProcess
			nextProcess++
		case !c.applied && x < cfg.Info+cfg.Fail:
			done.Type = history.Fail
		case !c.applied:
			continue // it takes effect before it completes ok
		case c.inv.F == history.CAS && !c.casOK:
			done.Type = history.Fail
		default:
			done.Type = history.OK
			if c.inv.F == history.Read {
				done.Value = history.Int64(c.read)
			}
		}
		emit(done)
		inFlight[i] = nil
		open--
	}
	if cfg.CorruptRead {
		var reads []int
		for i, op := range ops {
			if op.Type == history.OK && op.F == history.Read {
				reads = append(reads, i)
			}
		}
		if len(reads) > 0 {
			ops[reads[rng.IntN(len(reads))]].Value = history.Int64(rng.Int64N(int64(cfg.Values) + 1))
		}
	}
	return ops
}
