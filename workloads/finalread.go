package workloads

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/guard"
)

// getParallelism is how many reads GetAll keeps in flight on one session.
const getParallelism = 16

// finalReadTries is how often a node's final read is tried before the node
// is given up (the checker then says unknown).
const finalReadTries = 5

// FinalRead is a read of a workload's whole state on one node, tried again,
// up to finalReadTries times, until it completes ok: the final reads of the
// set and the queue.
type FinalRead struct {
	// What names the state in errors: "the set".
	What string
	// Op is the invocation every try records.
	Op history.Op
	// Read is one try on a live session.
	Read func(conn *zk.Conn, op history.Op) history.Op
	// Budget bounds the tries on one node, so that a node that does not
	// answer leaves time for the others.
	Budget time.Duration
}

// EachNode records the read on every node, one after another, each through
// a fresh client whose processes procs hands out. A node that gives no ok
// read is reported once every node has been tried.
func (r FinalRead) EachNode(ctx context.Context, env Env, rec Recorder, procs *Processes) error {
	var errs []error
	for _, node := range env.Nodes {
		c := NewClient(env, node, rec, procs.Next(), procs)
		nodeCtx, cancel := context.WithTimeout(ctx, r.Budget)
		err := r.on(nodeCtx, c)
		cancel()
		c.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("final read of %s on %s: %w", r.What, node.Name, err))
		}
	}
	return errors.Join(errs...)
}

// on records the read on c's node, trying again, half a second later, after
// a read that did not complete ok.
func (r FinalRead) on(ctx context.Context, c *Client) error {
	var last string
	for try := 0; try < finalReadTries; try++ {
		if err := c.AwaitSession(ctx); err != nil {
			return err
		}
		done, err := c.Call(r.Op, func(conn *zk.Conn) history.Op { return r.Read(conn, r.Op) })
		if err != nil {
			return err
		}
		if done.Type == history.OK {
			return nil
		}
		last = done.Error
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("no read completed in %d tries, last: %s", finalReadTries, last)
}

// GetAll gets the data of every path, keeping several requests in flight on
// the session. Every get that failed is in the error: the final reads run
// when nothing removes znodes, so one listed and then gone tells as much as
// any other failure.
func GetAll(conn *zk.Conn, paths []string) ([][]byte, error) {
	out := make([][]byte, len(paths))
	errs := make([]error, len(paths))
	sem := make(chan struct{}, getParallelism)
	var g guard.Group
	for i, p := range paths {
		sem <- struct{}{}
		g.Go("get "+p, func() {
			defer func() { <-sem }()
			data, _, err := conn.Get(p)
			if err != nil {
				errs[i] = fmt.Errorf("get %s: %w", p, err)
			}
			out[i] = data
		})
	}
	g.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseElement reads an element of the set or the queue: a positive number.
// Anything else reads as -1, an element never written, so that the checker
// reports it.
func ParseElement(s string) int64 {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 {
		return -1
	}
	return v
}
