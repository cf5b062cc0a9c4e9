package register

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/history"
)

// errTimeout marks an operation that did not complete within OpTimeout.
var errTimeout = errors.New("operation timed out")

// session is one worker's ZooKeeper session pinned to one node.
type session struct {
	conn *zk.Conn
	node cluster.Node
	cfg  Config
}

// waitConnected waits up to d for the session to be usable.
func (s *session) waitConnected(ctx context.Context, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for s.conn.State() != zk.StateHasSession {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// call records the invocation, runs do within OpTimeout and records the
// completion. A timed-out call completes as info; its goroutine ends when the
// caller closes the session.
func (s *session) call(op history.Op, rec Recorder, do func() history.Op) (history.Op, error) {
	op.Node = s.node.Name
	op.Session = s.conn.SessionID()
	if _, err := rec.Append(op); err != nil {
		return op, fmt.Errorf("record invocation: %w", err)
	}
	result := make(chan history.Op, 1)
	go func() { result <- do() }()
	timer := time.NewTimer(s.cfg.OpTimeout)
	defer timer.Stop()
	var done history.Op
	select {
	case done = <-result:
	case <-timer.C:
		done = complete(op, history.Info)
		done.Error = errTimeout.Error()
	}
	done.Node = s.node.Name
	if id := s.conn.SessionID(); id != 0 {
		done.Session = id
	}
	if _, err := rec.Append(done); err != nil {
		return done, fmt.Errorf("record completion: %w", err)
	}
	return done, nil
}

// complete returns the completion record of op with the given type.
func complete(op history.Op, t history.Type) history.Op {
	c := op
	c.Type = t
	return c
}

// outcome classifies a client error: which errors prove the operation did
// not happen, and which leave it indeterminate.
func outcome(op history.Op, err error) history.Op {
	c := complete(op, history.Info)
	c.Error = err.Error()
	switch {
	case errors.Is(err, zk.ErrBadVersion), errors.Is(err, zk.ErrNoNode), errors.Is(err, zk.ErrNodeExists):
		c.Type = history.Fail
	case errors.Is(err, zk.ErrNoServer):
		// go-zookeeper returns ErrNoServer only for requests it flushes
		// unsent after failing to reach any server: certainly not applied.
		c.Type = history.Fail
	}
	return c
}

// set is a blind write (version -1) or a compare-and-set on version.
func (s *session) set(op history.Op, version int32) history.Op {
	stat, err := s.conn.Set(Path(op.Key), []byte(strconv.FormatInt(*op.Value, 10)), version)
	if err != nil {
		return outcome(op, err)
	}
	c := complete(op, history.OK)
	c.Version = history.Int32(stat.Version)
	c.Zxid = stat.Mzxid
	return c
}

// read reads in the configured mode.
func (s *session) read(op history.Op) history.Op {
	switch s.cfg.ReadMode {
	case "plain":
		return s.plainRead(op)
	case "sync":
		if _, err := s.conn.Sync(Path(op.Key)); err != nil {
			return outcome(op, err)
		}
		return s.plainRead(op)
	default:
		return s.quorumRead(op)
	}
}

func (s *session) plainRead(op history.Op) history.Op {
	data, stat, err := s.conn.Get(Path(op.Key))
	if err != nil {
		return outcome(op, err)
	}
	v, err := strconv.ParseInt(string(data), 10, 64)
	if err != nil {
		// A value that is not a number was never written by this workload:
		// record it as read so the checker sees the anomaly.
		v = -1
	}
	c := complete(op, history.OK)
	c.Value = history.Int64(v)
	c.Version = history.Int32(stat.Version)
	c.Zxid = stat.Mzxid
	return c
}

// quorumRead reads the znode from the connected server, then confirms the
// version read with a check-only multi, which the leader proposes to the
// quorum. If the check passes, the value read was current when the multi
// committed: the read linearizes there. If it fails, the read is discarded.
func (s *session) quorumRead(op history.Op) history.Op {
	c := s.plainRead(op)
	if c.Type != history.OK {
		return c
	}
	res, err := s.conn.Multi(&zk.CheckVersionRequest{Path: Path(op.Key), Version: *c.Version})
	if err == nil {
		for _, r := range res {
			if r.Error != nil {
				err = r.Error
				break
			}
		}
	}
	if err != nil {
		f := outcome(op, err)
		if f.Type == history.Fail {
			f.Error = "read not confirmed by the quorum: " + err.Error()
		}
		return f
	}
	return c
}
