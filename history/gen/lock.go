package gen

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/zkchaos/zkchaos/history"
)

// LockAnomalies lists the anomalies Lock plants.
var LockAnomalies = []Anomaly{DoubleHolder, NodeVanished}

// LockConfig shapes a generated history of the lock workload. Zero fields
// take the defaults noted.
type LockConfig struct {
	// Seed fixes the history.
	Seed uint64
	// Source, when set, supplies every random choice instead of Seed.
	Source rand.Source
	// Workers is the number of contenders. Default 3.
	Workers int
	// Acquires is the number of acquires the workers invoke. Default 8.
	Acquires int
	// Timeout is the clients' session timeout. Default 200 ms.
	Timeout time.Duration
	// Hold is the longest a holder keeps the lock; Wait the longest a
	// contender waits for it. Defaults 30 ms and 150 ms.
	Hold, Wait time.Duration
	// Expire is the share of acquires and of holds at whose start the worker
	// is cut off from the ensemble until its session expires. Default 0.1.
	Expire float64
	// Info, Fail and Crash are the shares of calls that end indeterminate,
	// fail, or never complete. Defaults 0.1, 0.05, 0.02.
	Info, Fail, Crash float64
	// Anomaly is the violation to plant, if any.
	Anomaly Anomaly
}

func (c *LockConfig) defaults() {
	setDefault(&c.Workers, 3)
	setDefault(&c.Acquires, 8)
	setDefault(&c.Timeout, 200*time.Millisecond)
	setDefault(&c.Hold, 30*time.Millisecond)
	setDefault(&c.Wait, 150*time.Millisecond)
	setDefault(&c.Expire, 0.1)
	setDefault(&c.Info, 0.1)
	setDefault(&c.Fail, 0.05)
	setDefault(&c.Crash, 0.02)
}

// lockNode is a contender's ephemeral sequential node.
type lockNode struct {
	path         string
	owner, czxid int64
}

// lockSim is one generation of a lock workload history.
type lockSim struct {
	*lsWorld
	cfg     LockConfig
	queue   []lockNode // the contenders' nodes, in sequence order
	seq     int
	issued  int
	planted bool
}

// Lock returns a history of the lock workload as workloads/lock records it:
// workers contend with the ZooKeeper recipe (an ephemeral sequential node
// each; the lowest holds), hold the lock a while and release it. Workers
// are cut off until their sessions expire (holders among them, who go on
// believing they hold the lock until they hear of it), calls end
// indeterminate (the worker then closes its session) or fail, contenders
// give up waiting, processes crash. Without an anomaly it is valid.
func Lock(cfg LockConfig) []history.Op {
	cfg.defaults()
	s := &lockSim{lsWorld: newWorld(cfg.Seed, cfg.Source, cfg.Workers, cfg.Timeout, cfg.Info, cfg.Fail, cfg.Crash), cfg: cfg}
	s.drop = func(session int64) {
		s.remove(func(n lockNode) bool { return n.owner == session })
	}
	for i := range cfg.Workers {
		c := &lsClient{proc: history.Process(i), node: fmt.Sprintf("n%d", i%3+1)}
		var step func()
		step = func() {
			switch {
			case c.crashed:
				return
			case s.issued == cfg.Acquires:
				s.close(c)
				return
			}
			s.issued++
			if c.session != 0 && s.rng.Float64() < cfg.Expire {
				s.cutOff(c, int64(cfg.Timeout)/4)
			}
			s.ready(c)
			s.acquire(c, func(done history.Op) {
				next := func(history.Op) { s.at(s.now+s.share(int64(cfg.Hold), 0, 0.5), step) }
				switch done.Type {
				case history.Info:
					s.close(c)
					next(done)
				case history.Fail:
					next(done)
				default:
					s.hold(c, done, next)
				}
			})
		}
		s.at(s.lat(), step)
	}
	s.run()
	return s.ops
}

// remove deletes the nodes gone reports gone.
func (s *lockSim) remove(gone func(lockNode) bool) {
	kept := s.queue[:0]
	for _, n := range s.queue {
		if !gone(n) {
			kept = append(kept, n)
		}
	}
	s.queue = kept
}

// acquire runs the recipe for c: create the node, then look until it is
// the lowest, it is gone, or the wait is over (then remove it and fail).
func (s *lockSim) acquire(c *lsClient, then func(history.Op)) {
	inv := s.invoke(c, history.Op{F: lsAcquire})
	s.at(s.now+s.lat(), func() {
		done := inv
		switch r := s.rng.Float64(); {
		case s.now < c.cutUntil:
			done.Type, done.Error = history.Info, lsErrExpired
			s.at(c.cutUntil, func() { s.finish(c, done, then) })
			return
		case r < s.cfg.Fail:
			done.Type, done.Error = history.Fail, lsErrNoServer
			s.at(s.now+s.lat(), func() { s.finish(c, done, then) })
			return
		case r < s.cfg.Fail+s.cfg.Info:
			done.Type, done.Error = history.Info, lsErrClosed
			if s.rng.IntN(2) == 0 {
				s.create(inv.Session)
			}
			s.at(s.now+s.lat(), func() { s.finish(c, done, then) })
			return
		}
		n := s.create(inv.Session)
		done.Path = n.path
		giveUp := s.now + s.share(int64(s.cfg.Wait), 0.5, 1)
		var look func()
		look = func() {
			i := 0
			for i < len(s.queue) && s.queue[i].path != n.path {
				i++
			}
			switch {
			case s.now < c.cutUntil:
				done.Type, done.Error = history.Info, "list contenders: "+lsErrExpired
				s.at(c.cutUntil, func() { s.finish(c, done, then) })
			case i == len(s.queue):
				done.Type, done.Error = history.Fail, "own lock node is gone: its session ended"
				s.at(s.now+s.lat(), func() { s.finish(c, done, then) })
			case i == 0 || s.doubleHolder(i):
				done.Type, done.Values, done.Zxid = history.OK, []int64{n.owner}, n.czxid
				s.at(s.now+s.lat(), func() { s.finish(c, done, then) })
			case s.now >= giveUp:
				s.remove(func(m lockNode) bool { return m.path == n.path })
				done.Type, done.Error = history.Fail, fmt.Sprintf("lock not acquired within %s: gave up and removed own lock node", s.cfg.Wait)
				s.at(s.now+s.lat(), func() { s.finish(c, done, then) })
			default:
				s.at(s.now+s.lat()+s.lat(), look)
			}
		}
		s.at(s.now+s.lat(), look)
	})
}

// doubleHolder reports whether the contender at position i of the queue is
// granted the lock out of turn (DoubleHolder, once).
func (s *lockSim) doubleHolder(i int) bool {
	if s.cfg.Anomaly != DoubleHolder || s.planted || i != 1 || s.issued <= s.cfg.Acquires/3 {
		return false
	}
	s.planted = true
	return true
}

// create adds a node of session to the queue.
func (s *lockSim) create(session int64) lockNode {
	n := lockNode{path: fmt.Sprintf("/zkchaos-lock/lock-%010d", s.seq), owner: session, czxid: s.nextZxid()}
	s.seq++
	s.queue = append(s.queue, n)
	return n
}

// hold keeps the lock until the hold is over or the holder hears that its
// session ended, whichever is first, then releases it. A holder may be cut
// off as it starts holding (its session then expires under it); one may
// lose its node to the servers while its session lives (NodeVanished).
func (s *lockSim) hold(c *lsClient, acq history.Op, then func(history.Op)) {
	if s.rng.Float64() < s.cfg.Expire {
		s.cutOff(c, int64(s.cfg.Timeout)/4)
	}
	if s.cfg.Anomaly == NodeVanished && !s.planted && s.issued > s.cfg.Acquires/3 && s.now >= c.cutUntil {
		s.remove(func(n lockNode) bool { return n.path == acq.Path })
		s.planted = true
	}
	end := s.now + s.share(int64(s.cfg.Hold), 0.2, 1)
	if c.cutUntil > s.now && c.cutUntil < end {
		end = c.cutUntil + s.lat()
	}
	s.at(end, func() {
		inv := s.invoke(c, history.Op{F: lsRelease, Path: acq.Path})
		s.exchange(c, inv, func() history.Op {
			done := inv
			done.Type, done.Error = history.Fail, lsErrNoNode
			before := len(s.queue)
			if s.remove(func(m lockNode) bool { return m.path == inv.Path }); len(s.queue) < before {
				done.Type, done.Error = history.OK, ""
			}
			return done
		}, func(done history.Op) {
			if done.Type == history.Info {
				s.close(c)
			}
			then(done)
		})
	})
}
