package workloads

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/guard"
)

// ErrTimeout marks an operation that did not complete within OpTimeout; its
// completion is info.
var ErrTimeout = errors.New("operation timed out")

// Client is a worker's session pinned to one node, and the process it
// records operations as. The session is reopened after an operation timed
// out; the process changes whenever an operation ends indeterminate or the
// session changes, as in Jepsen.
type Client struct {
	env     Env
	node    cluster.Node
	rec     Recorder
	procs   *Processes
	conn    *zk.Conn
	events  <-chan zk.Event
	session int64
	// guard starts the goroutine of each call: Ready's context's.
	guard guard.Guard
	// Process is the process the next operation is recorded as.
	Process history.Process
}

// NewClient returns a client for node recording as process; procs hands out
// fresh processes. The session is opened by Ready.
func NewClient(env Env, node cluster.Node, rec Recorder, process history.Process, procs *Processes) *Client {
	return &Client{env: env, node: node, rec: rec, procs: procs, Process: process}
}

// Node is the server the client is pinned to.
func (c *Client) Node() cluster.Node { return c.node }

// Conn is the live session; valid after Ready returned true.
func (c *Client) Conn() *zk.Conn { return c.conn }

// Guard starts goroutines for the client: the guard of the context last
// given to Ready.
func (c *Client) Guard() guard.Guard { return c.guard }

// Events are the session's state events (expiry, reconnects) and watch
// events of the library's global channel; valid after Ready returned true.
func (c *Client) Events() <-chan zk.Event { return c.events }

// Ready opens the session if needed and waits briefly for it to be usable.
// It reports false when the session is not live yet: the caller skips a turn
// rather than queueing an operation that can only fail.
func (c *Client) Ready(ctx context.Context) (bool, error) {
	c.guard = guard.From(ctx)
	if c.conn == nil {
		conn, events, err := c.env.Open(c.node)
		if err != nil {
			return false, fmt.Errorf("connect to %s: %w", c.node.Name, err)
		}
		c.conn, c.events = conn, events
	}
	deadline := time.Now().Add(100 * time.Millisecond)
	for c.conn.State() != zk.StateHasSession {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	if id := c.conn.SessionID(); id != c.session {
		if c.session != 0 {
			c.Process = c.procs.Next() // a new session is a new process
		}
		c.session = id
	}
	return true, nil
}

// AwaitSession waits, bounded by ctx, until the client has a live session:
// what final reads need, where skipping a turn is not an option.
func (c *Client) AwaitSession(ctx context.Context) error {
	for {
		ready, err := c.Ready(ctx)
		if err != nil {
			return err
		}
		if ready {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("session to %s not established: %w", c.node.Name, ctx.Err())
		}
	}
}

// Call records op's invocation, runs do on the session within OpTimeout and
// records the completion do returns (or info on timeout). A panic in do is
// handed to the guard of the context last given to Ready, and the call ends
// as a timeout. After an info
// completion the client takes a fresh process; after a timeout it also
// abandons the session, which ends the call still in flight.
func (c *Client) Call(op history.Op, do func(conn *zk.Conn) history.Op) (history.Op, error) {
	op.Process = c.Process
	op.Node = c.node.Name
	op.Session = c.conn.SessionID()
	if _, err := c.rec.Append(op); err != nil {
		return op, fmt.Errorf("record invocation: %w", err)
	}
	conn := c.conn
	result := make(chan history.Op, 1)
	// A constant name: nothing is formatted per operation for a panic that
	// almost never comes (its stack names the operation).
	c.guard.Go("a workload operation", func() { result <- do(conn) })
	timer := time.NewTimer(c.env.OpTimeout)
	defer timer.Stop()
	var done history.Op
	select {
	case done = <-result:
	case <-timer.C:
		done = Complete(op, history.Info)
		done.Error = ErrTimeout.Error()
	}
	done.Process, done.Node = op.Process, op.Node
	if id := conn.SessionID(); id != 0 {
		done.Session = id
	}
	if _, err := c.rec.Append(done); err != nil {
		return done, fmt.Errorf("record completion: %w", err)
	}
	if done.Type == history.Info {
		c.Process = c.procs.Next()
		if done.Error == ErrTimeout.Error() {
			c.Close()
		}
	}
	return done, nil
}

// Close ends the session.
func (c *Client) Close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.events, c.session = nil, nil, 0
	}
}

// Complete returns the completion record of op with the given type.
func Complete(op history.Op, t history.Type) history.Op {
	c := op
	c.Type = t
	return c
}

// Outcome classifies a client error: which errors prove the operation did
// not happen (fail), and which leave it indeterminate (info).
func Outcome(op history.Op, err error) history.Op {
	c := Complete(op, history.Info)
	c.Error = err.Error()
	if Definite(err) {
		c.Type = history.Fail
	}
	return c
}

// Definite reports whether err proves that the operation did not happen.
func Definite(err error) bool {
	switch {
	case errors.Is(err, zk.ErrBadVersion), errors.Is(err, zk.ErrNoNode), errors.Is(err, zk.ErrNodeExists),
		errors.Is(err, zk.ErrNotEmpty):
		return true
	case errors.Is(err, zk.ErrNoServer):
		// go-zookeeper returns ErrNoServer only for requests it flushes
		// unsent after failing to reach any server: certainly not applied.
		return true
	}
	return false
}
