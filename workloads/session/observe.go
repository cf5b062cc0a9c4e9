package session

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	sessioncheck "github.com/zkchaos/zkchaos/checker/session"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/workloads"
)

// observeBuffer is how many session events may wait to be recorded. The
// client library drops events when its own small channel is full, so the
// events are moved off it at once.
const observeBuffer = 1024

// closeWait bounds how long a worker waits, after closing its client, for
// the last session events to be recorded.
const closeWait = 10 * time.Second

// Observer records the session events of one worker's client: sessions
// established, connections lost, sessions expired, and the client closing
// its session. Each connection's events are recorded by a process of their
// own that never invokes anything, so a session record can never be taken
// for the completion of the worker's operation in flight.
type Observer struct {
	rec     workloads.Recorder
	procs   *workloads.Processes
	timeout time.Duration

	events <-chan zk.Event // the channel being drained; the worker's only
	wg     sync.WaitGroup

	mu    sync.Mutex
	ended map[int64]chan struct{}
	done  map[int64]bool
	err   error
}

// NewObserver returns an observer recording to rec, with processes from
// procs; timeout is the session timeout the clients ask for.
func NewObserver(rec workloads.Recorder, procs *workloads.Processes, timeout time.Duration) *Observer {
	return &Observer{rec: rec, procs: procs, timeout: timeout, ended: map[int64]chan struct{}{}, done: map[int64]bool{}}
}

// Attach starts recording the events of c's current connection, if it is
// not recorded yet. Call it after every Client.Ready, from the worker.
func (o *Observer) Attach(c *workloads.Client) {
	events, conn := c.Events(), c.Conn()
	if events == nil || conn == nil || events == o.events {
		return
	}
	o.events = events
	proc, node := o.procs.Next(), c.Node().Name
	buf := make(chan observed, observeBuffer)
	g := c.Guard()
	o.wg.Go(g.Func("session events of "+node, func() {
		defer close(buf)
		for ev := range events { // closed when the connection is closed
			if ev.Type == zk.EventSession {
				buf <- observed{state: ev.State, session: conn.SessionID()}
			}
		}
	}))
	o.wg.Go(g.Func("session recorder of "+node, func() { o.record(node, proc, buf) }))
}

// observed is a session event with the connection's session id read as the
// event was taken off the library's channel.
type observed struct {
	state   zk.State
	session int64
}

// record writes the events of one connection. The library does not say
// which session an event concerns, and on expiry it has already forgotten
// the session, so the observer remembers the session each establishment
// brought.
func (o *Observer) record(node string, proc history.Process, events <-chan observed) {
	var current int64
	write := func(event string, session int64) {
		op := history.Op{Type: history.Info, F: sessioncheck.F, Process: proc, Node: node, Event: event, Session: session}
		if event == sessioncheck.Established {
			op.Value = history.Int64(o.timeout.Milliseconds())
		}
		if _, err := o.rec.Append(op); err != nil {
			o.fail(fmt.Errorf("record session event %s on %s: %w", event, node, err))
		}
	}
	for ev := range events {
		switch ev.state {
		case zk.StateHasSession:
			if ev.session != 0 {
				current = ev.session
			}
			write(sessioncheck.Established, current)
		case zk.StateDisconnected:
			write(sessioncheck.Disconnected, current)
		case zk.StateExpired:
			// If the remembered session is the live one, this event came
			// so late that the client already runs a newer session than the
			// one remembered: better record nothing than a wrong expiry.
			if current != 0 && current != ev.session {
				write(sessioncheck.Expired, current)
				o.end(current)
			}
			current = 0
		}
	}
	if current != 0 {
		write(sessioncheck.Closed, current)
		o.end(current)
	}
}

func (o *Observer) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err == nil {
		o.err = err
	}
}

func (o *Observer) end(session int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.done[session] {
		o.done[session] = true
		if ch, ok := o.ended[session]; ok {
			close(ch)
		}
	}
}

// Ended returns a channel that is closed once the observer has recorded that
// session expired or was closed.
func (o *Observer) Ended(session int64) <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	ch, ok := o.ended[session]
	if !ok {
		ch = make(chan struct{})
		o.ended[session] = ch
		if o.done[session] {
			close(ch)
		}
	}
	return ch
}

// Wait waits, at most d, until every connection attached has closed and its
// events are recorded; it returns the first recording error.
func (o *Observer) Wait(d time.Duration) error {
	finished := make(chan struct{})
	go func() {
		o.wg.Wait()
		close(finished)
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-finished:
	case <-timer.C:
		o.fail(fmt.Errorf("session events still unrecorded %s after the client closed", d))
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// Worker is a workload worker whose session events are recorded.
type Worker struct {
	*workloads.Worker
	// Sessions records the worker's session events.
	Sessions *Observer
}

// RunWorkers is workloads.RunWorkers with every worker's session events
// recorded: env.Workers workers, each calling step at its share of the rate
// on a live session pinned to one node, until stop is done.
func RunWorkers(stop context.Context, env workloads.Env, rec workloads.Recorder, step func(w *Worker) error) error {
	if env.Workers > 0 && len(env.Nodes) == 0 {
		return errors.New("run workers: no nodes to connect to")
	}
	return workloads.Spawn(stop, env, func(i int, rng *rand.Rand, procs *workloads.Processes) error {
		w := &Worker{
			Worker: &workloads.Worker{Index: i, Rand: rng,
				Client: workloads.NewClient(env, env.Node(i), rec, history.Process(i), procs)},
			// Each worker's observer shares the worker processes'
			// numbering, so that no process number is used twice.
			Sessions: NewObserver(rec, procs, env.SessionTimeout),
		}
		err := pace(stop, env, w, step)
		w.Client.Close()
		return errors.Join(err, w.Sessions.Wait(closeWait))
	})
}

// pace runs step on a live session at the worker's share of the rate,
// attaching the observer to every session the client opens.
func pace(stop context.Context, env workloads.Env, w *Worker, step func(w *Worker) error) error {
	return workloads.Pace(stop, env, w.Rand, func() error {
		ready, err := w.Client.Ready(stop)
		w.Sessions.Attach(w.Client)
		if err != nil {
			return fmt.Errorf("worker %d: %w", w.Index, err)
		}
		if !ready {
			return nil
		}
		if err := step(w); err != nil {
			return fmt.Errorf("worker %d: %w", w.Index, err)
		}
		return nil
	})
}
