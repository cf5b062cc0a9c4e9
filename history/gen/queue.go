package gen

import (
	"fmt"
	"slices"

	"github.com/zkchaos/zkchaos/history"
)

// Records of the queue workload, as workloads/queue writes them.
const (
	queueEnqueueF = "enqueue"
	queueDequeueF = "dequeue"
	queueEmpty    = "empty"
	queueRoot     = "/zkchaos-queue"
	queuePrefix   = queueRoot + "/q-"
)

// Anomalies QueueHistory can plant.
const (
	// QueueLost drops an acknowledged element from the final reads and
	// from the drain that would have taken it.
	QueueLost Anomaly = "queue-lost"
	// QueuePhantom lists in a read an element never enqueued, or one whose
	// enqueue certainly failed.
	QueuePhantom Anomaly = "queue-phantom"
	// QueueDuplicate lists an element twice in a read, or lets a second ok
	// dequeue take an element already taken.
	QueueDuplicate Anomaly = "queue-duplicate"
	// QueueResurrected lists an element in a read begun after its ok
	// dequeue completed.
	QueueResurrected Anomaly = "queue-resurrected"
	// QueueSkipped swaps what two ok dequeues took, one completed before
	// the other began: the older element is taken after the newer.
	QueueSkipped Anomaly = "queue-skipped"
	// QueueSequence swaps the names of two acknowledged enqueues, or gives
	// two the same name.
	QueueSequence Anomaly = "queue-sequence"
	// QueueDiverged drops an element from one read only: the nodes
	// disagree.
	QueueDiverged Anomaly = "queue-diverged"
)

// QueueAnomalies lists the anomalies QueueHistory plants.
var QueueAnomalies = []Anomaly{QueueLost, QueuePhantom, QueueDuplicate, QueueResurrected, QueueSkipped, QueueSequence, QueueDiverged}

// queueItem is a znode of the queue.
type queueItem struct {
	element int64
	path    string
	czxid   int64
}

// queueModel is the queue's root znode.
type queueModel struct {
	setModel
	items []queueItem // by name
}

func (m *queueModel) elements() []int64 {
	out := []int64{}
	for _, it := range m.items {
		out = append(out, it.element)
	}
	return out
}

// take deletes the lowest znode and returns it.
func (m *queueModel) take() queueItem {
	it := m.items[0]
	m.items = m.items[1:]
	m.zxid++
	m.pzxid = m.zxid
	m.cversion++
	return it
}

// took records on a dequeue's completion the znode it took.
func took(c *simCall, it queueItem) {
	c.done.Value, c.done.Path, c.done.Zxid, c.done.Version = history.Int64(it.element), it.path, it.czxid, history.Int32(0)
}

// QueueHistory generates a queue workload history: unique elements
// enqueued as sequential znodes and dequeued lowest first (a dequeue fails
// when its view is empty, or when others took the names it tried), then a
// synced final read of every node and a drain through one node. Without an
// anomaly it is valid; the second result says whether every anomaly asked
// for was planted.
func QueueHistory(cfg ClientConfig) ([]history.Op, bool) {
	m := &queueModel{}
	s := newClientSim(cfg, queueRoot, func(c *simCall) {
		c.done.Values, c.done.Zxid = m.elements(), m.pzxid
	})
	var next int64
	s.workers(func(c *simCall) {
		if s.rng.IntN(5) < 3 {
			next++
			c.inv.F, c.inv.Value, c.inv.Path = queueEnqueueF, history.Int64(next), queuePrefix
			c.done.F, c.done.Value, c.done.Path = c.inv.F, c.inv.Value, c.inv.Path
			c.run = func(c *simCall) {
				if !c.applies {
					return
				}
				path := m.create(queuePrefix)
				m.items = append(m.items, queueItem{element: *c.inv.Value, path: path, czxid: m.zxid})
				if planned(c) {
					c.done.Path = path
				}
			}
			return
		}
		c.inv.F, c.inv.Path = queueDequeueF, queueRoot
		c.done.F, c.done.Path = c.inv.F, c.inv.Path
		c.run = func(c *simCall) { dequeue(s, m, c) }
	})
	end := s.finalReads(s.end + ms(5))
	s.apply()
	for _, c := range s.calls {
		end = max(end, c.effect+1)
	}
	// The drain: one process takes what is left, lowest first, until its
	// listing is empty.
	p := s.newProcess()
	for {
		c := s.call(p, node(0), queueDequeueF, end, end+ms(0.5))
		c.inv.Path, c.done.Path = queueRoot, queueRoot
		end += ms(1)
		if len(m.items) == 0 {
			c.done.Type, c.done.Error = history.Fail, queueEmpty
			break
		}
		took(c, m.take())
	}
	planted := s.plant(s.plantQueue)
	return s.records(), planted
}

// dequeue runs the queue recipe at the call's effect point: nothing to
// take is a definite failure (so is a view that raced with others, now and
// then); otherwise the lowest znode is taken, if the call takes effect. An
// indeterminate dequeue knows its element when the connection closed during
// the delete, and none when it timed out.
func dequeue(s *clientSim, m *queueModel, c *simCall) {
	timedOut := c.done.Type == history.Info && c.done.Error == errTimeout
	switch {
	case c.done.Type == history.Fail:
		c.done.Error = "children: " + errNoServer
		return
	case len(m.items) == 0 && timedOut:
		return
	case len(m.items) == 0:
		c.done.Type, c.done.Error = history.Fail, queueEmpty
		return
	case planned(c) && s.rng.IntN(20) == 0:
		c.done.Type, c.done.Error = history.Fail, "contended: the 1 lowest elements seen were taken by others"
		return
	}
	it := m.items[0]
	if c.done.Type == history.Info && !timedOut {
		c.done.Value, c.done.Path = history.Int64(it.element), it.path
		c.done.Error = fmt.Sprintf("delete %s: %s", it.path, errClosed)
	}
	if !c.applies {
		return
	}
	m.take()
	if planned(c) {
		took(c, it)
	}
}

// okDequeues returns the ok dequeues that took an element.
func (s *clientSim) okDequeues() []*simCall {
	return slices.DeleteFunc(s.okCalls(queueDequeueF), func(c *simCall) bool { return c.done.Value == nil })
}

func (s *clientSim) plantQueue(a Anomaly) bool {
	reads := s.okCalls(history.Read)
	deqs := s.okDequeues()
	if len(reads) == 0 {
		return false
	}
	r := pick(s.rng, reads)
	switch a {
	case QueueLost:
		if len(r.done.Values) == 0 {
			return false
		}
		e := pick(s.rng, r.done.Values)
		for _, r := range reads {
			r.done.Values = slices.DeleteFunc(slices.Clone(r.done.Values), func(v int64) bool { return v == e })
		}
		s.calls = slices.DeleteFunc(s.calls, func(c *simCall) bool {
			return c.inv.F == queueDequeueF && c.ok() && c.done.Value != nil && *c.done.Value == e
		})
	case QueuePhantom:
		e := int64(otherElement)
		for _, c := range s.calls {
			if c.inv.F == queueEnqueueF && c.done.Type == history.Fail && s.rng.IntN(2) == 0 {
				e = *c.inv.Value
			}
		}
		r.done.Values = append(slices.Clone(r.done.Values), e)
	case QueueDuplicate:
		if len(deqs) < 2 || s.rng.IntN(2) == 0 {
			if len(r.done.Values) == 0 {
				return false
			}
			r.done.Values = append(slices.Clone(r.done.Values), pick(s.rng, r.done.Values))
			return true
		}
		a, b := pick(s.rng, deqs), pick(s.rng, deqs)
		if a == b {
			return false
		}
		b.done.Value, b.done.Path, b.done.Zxid = a.done.Value, a.done.Path, a.done.Zxid
	case QueueResurrected:
		for _, d := range deqs {
			if d.done.Time < r.inv.Time {
				r.done.Values = append(slices.Clone(r.done.Values), *d.done.Value)
				return true
			}
		}
		return false
	case QueueSkipped:
		for _, a := range deqs {
			for _, b := range deqs {
				if a.done.Time < b.inv.Time && *a.done.Value != *b.done.Value {
					a.done.Value, b.done.Value = b.done.Value, a.done.Value
					a.done.Path, b.done.Path = b.done.Path, a.done.Path
					a.done.Zxid, b.done.Zxid = b.done.Zxid, a.done.Zxid
					return true
				}
			}
		}
		return false
	case QueueSequence:
		return swapNames(s.rng, s.okCalls(queueEnqueueF), queuePrefix)
	case QueueDiverged:
		return dropOne(s.rng, r)
	}
	return true
}
