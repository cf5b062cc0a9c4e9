package session

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"

	sessioncheck "github.com/zkchaos/zkchaos/checker/session"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/histtest"
	"github.com/zkchaos/zkchaos/workloads"
)

// sessionEvents returns the session events rec holds, each with its session.
func sessionEvents(rec *histtest.Memory) []string {
	var out []string
	for _, op := range rec.Ops {
		out = append(out, op.Event+" "+history.Process(op.Session).String())
	}
	return out
}

// The library forgets a session when it expires, before it says so: the
// observer must name the session that expired, never the next one, and say
// which session the client closed.
func TestObserverNamesTheSessionThatEnded(t *testing.T) {
	rec := &histtest.Memory{}
	o := NewObserver(rec, workloads.NewProcesses(10), 4*time.Second)
	events := make(chan observed, 10)
	done := make(chan struct{})
	go func() {
		o.record("n1", 10, events)
		close(done)
	}()
	// Each event with the session id the connection had when it came.
	send := func(s zk.State, id int64) { events <- observed{state: s, session: id} }
	ended := o.Ended(1)

	send(zk.StateHasSession, 1)
	send(zk.StateDisconnected, 1)
	send(zk.StateExpired, 0) // the library has forgotten session 1
	select {
	case <-ended: // a holder waiting on session 1 learns it ended
	case <-time.After(5 * time.Second):
		t.Fatal("session 1's end was not signalled")
	}

	send(zk.StateHasSession, 2)
	// An expiry that arrives while the remembered session is still the
	// live one cannot be placed: nothing is recorded.
	send(zk.StateExpired, 2)
	send(zk.StateHasSession, 3)
	close(events) // the client closed the connection
	<-done

	assert.Equal(t, []string{
		sessioncheck.Established + " 1", sessioncheck.Disconnected + " 1", sessioncheck.Expired + " 1",
		sessioncheck.Established + " 2", sessioncheck.Established + " 3", sessioncheck.Closed + " 3",
	}, sessionEvents(rec))
	for _, op := range rec.Ops {
		assert.Equal(t, history.Info, op.Type)
		assert.Equal(t, sessioncheck.F, op.F)
		assert.Equal(t, history.Process(10), op.Process)
		assert.Equal(t, "n1", op.Node)
	}
	assert.Equal(t, int64(4000), *rec.Ops[0].Value, "the session timeout asked for, in ms")
	select {
	case <-o.Ended(3):
	default:
		t.Fatal("a closed session has ended")
	}
	assert.NoError(t, o.Wait(time.Second))
}

func TestNodePathNamesProcessAndCount(t *testing.T) {
	assert.Equal(t, "/zkchaos-session/12-3", NodePath(12, 3))
}
