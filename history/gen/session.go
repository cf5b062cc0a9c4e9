package gen

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/zkchaos/zkchaos/history"
)

// Record names of the lock and session workloads, as lock.Acquire
// and its neighbours spell them (the generator imports no checker).
const (
	lsAcquire = "acquire"
	lsRelease = "release"
	lsSession = "session"
	lsCreate  = "create"
	lsExists  = "exists"
)

// Session events, as the session observer records them.
const (
	lsEstablished  = "StateHasSession"
	lsDisconnected = "StateDisconnected"
	lsExpired      = "StateExpired"
	lsClosed       = "closed"
)

// Client errors the workloads record.
const (
	lsErrClosed   = "zk: connection closed"
	lsErrNoServer = "zk: could not connect to a server"
	lsErrExpired  = "zk: session has been expired by the server"
	lsErrNoNode   = "zk: node does not exist"
)

// The anomalies Lock and Sessions can plant, once.
const (
	// DoubleHolder grants the lock to a contender while a lower contender's
	// node still exists (Lock).
	DoubleHolder Anomaly = "double-holder"
	// NodeVanished deletes an ephemeral node while its session lives (Lock:
	// a holder's node; Sessions: any node).
	NodeVanished Anomaly = "node-vanished"
	// NodeOutlived keeps, for good, the nodes of the first session to end
	// while calls are still being issued (Sessions).
	NodeOutlived Anomaly = "node-outlived"
	// WrongOwner makes one check that found a node report another session
	// as its ephemeral owner (Sessions).
	WrongOwner Anomaly = "wrong-owner"
)

// SessionAnomalies lists the anomalies Sessions plants.
var SessionAnomalies = []Anomaly{NodeVanished, NodeOutlived, WrongOwner}

// SessionsConfig shapes a generated history of the session workload. Zero
// fields take the defaults noted.
type SessionsConfig struct {
	// Seed fixes the history.
	Seed uint64
	// Source, when set, supplies every random choice instead of Seed.
	Source rand.Source
	// Workers is the number of concurrent workers. Default 3.
	Workers int
	// Calls is the number of creates and checks before the final reads.
	// Default 24.
	Calls int
	// Timeout is the clients' session timeout. Default 1 s.
	Timeout time.Duration
	// Margin is the checker's margin the final reads wait for beyond the
	// timeout; the simulated servers delete a session's nodes well within
	// it. Default 500 ms.
	Margin time.Duration
	// Expire is the share of calls before which the worker is cut off from
	// the ensemble until its session expires. Default 0.1.
	Expire float64
	// Leaderless is the share of calls before which the leader dies and the
	// ensemble has none for up to a session timeout. Default 0.05.
	Leaderless float64
	// Info, Fail and Crash are the shares of calls that end indeterminate,
	// fail, or never complete. Defaults 0.1, 0.05, 0.02.
	Info, Fail, Crash float64
	// Anomaly is the violation to plant, if any.
	Anomaly Anomaly
}

func (c *SessionsConfig) defaults() {
	setDefault(&c.Workers, 3)
	setDefault(&c.Calls, 24)
	setDefault(&c.Timeout, time.Second)
	setDefault(&c.Margin, 500*time.Millisecond)
	setDefault(&c.Expire, 0.1)
	setDefault(&c.Leaderless, 0.05)
	setDefault(&c.Info, 0.1)
	setDefault(&c.Fail, 0.05)
	setDefault(&c.Crash, 0.02)
}

type sessNode struct {
	owner, czxid int64
}

// sessSim is one generation of a session workload history.
type sessSim struct {
	*lsWorld
	cfg     SessionsConfig
	nodes   map[string]sessNode
	tried   []string // every path a create was invoked for, in order
	issued  int
	planted bool
	keep    int64 // the session whose nodes outlive it (NodeOutlived)
	open    int   // workers still running
}

// Sessions returns a history of the session workload as workloads/session
// records it: every worker's session owns an ephemeral node (created under
// a name of its process), and the workers check, through the quorum,
// whether their own node or a recent node of another worker exists. Clients
// are cut off until their sessions expire, the leader dies, calls end
// indeterminate or fail, processes crash; at the end the workers close their
// sessions and, once the timeout and margin have passed, a fresh client per
// server checks every node. Without an anomaly it is valid.
func Sessions(cfg SessionsConfig) []history.Op {
	cfg.defaults()
	s := &sessSim{lsWorld: newWorld(cfg.Seed, cfg.Source, cfg.Workers, cfg.Timeout, cfg.Info, cfg.Fail, cfg.Crash),
		cfg: cfg, nodes: map[string]sessNode{}}
	s.lossUnseen = int64(cfg.Margin) * 9 / 10
	s.drop = func(session int64) {
		if session == s.keep {
			return
		}
		if s.cfg.Anomaly == NodeOutlived && !s.planted && s.issued < s.cfg.Calls && !s.unrecorded[session] && s.owns(session) {
			s.keep, s.planted = session, true
			return
		}
		for p, n := range s.nodes {
			if n.owner == session {
				delete(s.nodes, p)
			}
		}
	}
	own := make([]string, cfg.Workers)
	owned := make([]int64, cfg.Workers)
	s.open = cfg.Workers
	for i := range cfg.Workers {
		c := &lsClient{proc: history.Process(i), node: fmt.Sprintf("n%d", i%3+1)}
		var step func()
		step = func() {
			if c.crashed {
				s.stopped()
				return
			}
			if s.issued == cfg.Calls {
				s.close(c)
				s.stopped()
				return
			}
			s.issued++
			s.faults(c)
			s.ready(c)
			next := func(history.Op) { s.at(s.now+s.share(s.timeout, 0.1, 1), step) }
			if own[i] == "" || owned[i] != c.session {
				path := fmt.Sprintf("/zkchaos-session/%d-%d", c.proc, s.issued)
				s.create(c, path, func(done history.Op) {
					if done.Type == history.OK {
						own[i], owned[i] = path, done.Session
					}
					next(done)
				})
				return
			}
			target := own[i]
			if recent := s.tried[max(len(s.tried)-3*cfg.Workers, 0):]; s.rng.IntN(2) == 0 {
				target = recent[s.rng.IntN(len(recent))]
			}
			s.check(c, target, next)
		}
		s.at(s.lat(), step)
	}
	s.run()
	return s.ops
}

// owns reports whether session owns a node.
func (s *sessSim) owns(session int64) bool {
	for _, n := range s.nodes {
		if n.owner == session {
			return true
		}
	}
	return false
}

// faults cuts c off until its session expires, loses the leader, or
// plants a vanished node, at the configured odds.
func (s *sessSim) faults(c *lsClient) {
	switch r := s.rng.Float64(); {
	case c.session != 0 && r < s.cfg.Expire:
		s.cutOff(c, int64(s.cfg.Margin))
	case r < s.cfg.Expire+s.cfg.Leaderless:
		s.loseLeader()
	}
	if s.cfg.Anomaly == NodeVanished && !s.planted && s.issued > s.cfg.Calls/3 {
		for p, n := range s.nodes {
			if n.owner == c.session && s.now >= c.cutUntil {
				delete(s.nodes, p)
				s.planted = true
			}
		}
	}
}

// stopped counts a worker out; after the last, the final reads begin once
// every session must be gone.
func (s *sessSim) stopped() {
	if s.open--; s.open > 0 {
		return
	}
	s.at(s.now+int64(s.cfg.Timeout+s.cfg.Margin+time.Second), func() {
		for n := range 3 {
			c := &lsClient{proc: s.process(), node: fmt.Sprintf("n%d", n+1)}
			s.ready(c)
			paths := append([]string(nil), s.tried...)
			var read func(history.Op)
			read = func(history.Op) {
				if len(paths) == 0 {
					s.close(c)
					return
				}
				p := paths[0]
				paths = paths[1:]
				s.final(c, p, read)
			}
			read(history.Op{})
		}
	})
}

func (s *sessSim) create(c *lsClient, path string, then func(history.Op)) {
	s.tried = append(s.tried, path)
	inv := s.invoke(c, history.Op{F: lsCreate, Path: path})
	s.exchange(c, inv, func() history.Op {
		done := inv
		if _, ok := s.nodes[path]; ok {
			done.Type, done.Error = history.Fail, "zk: node already exists"
			return done
		}
		s.nodes[path] = sessNode{owner: inv.Session, czxid: s.nextZxid()}
		done.Type = history.OK
		return done
	}, then)
}

// check asks whether path exists, as workloads/session's exists does: a
// read of the connected server (which may lag and miss the owner) and a
// check-only multi through the leader.
func (s *sessSim) check(c *lsClient, path string, then func(history.Op)) {
	inv := s.invoke(c, history.Op{F: lsExists, Path: path})
	s.exchange(c, inv, func() history.Op { return s.exists(inv) }, then)
}

func (s *sessSim) exists(inv history.Op) history.Op {
	done := inv
	done.Type, done.Value = history.OK, history.Int64(0)
	n, ok := s.nodes[inv.Path]
	if !ok {
		return done
	}
	done.Value = history.Int64(1)
	if s.rng.IntN(8) > 0 {
		done.Values, done.Zxid = []int64{n.owner}, n.czxid
		if s.cfg.Anomaly == WrongOwner && !s.planted && n.owner != inv.Session {
			done.Values[0], s.planted = inv.Session, true
		}
	}
	return done
}

// final is one check of the final reads: no faults, every call completes.
func (s *sessSim) final(c *lsClient, path string, then func(history.Op)) {
	inv := s.invoke(c, history.Op{F: lsExists, Path: path})
	s.at(s.now+s.lat(), func() {
		done := s.exists(inv)
		s.at(s.now+s.lat(), func() {
			s.complete(c, done)
			then(done)
		})
	})
}
