package linkproxy

import (
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/zkchaos/zkchaos/cluster"
)

// Sizes of a relay's buffers.
const (
	// chunkSize is the most one read takes from a connection.
	chunkSize = 16 << 10
	// queueLen is how many chunks a direction reads ahead of what it has
	// delivered: a delayed link keeps this many in flight, and a hung one
	// holds this many before TCP's own flow control stops the sender.
	queueLen = 16
)

// bufPool recycles chunk buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// chunk is what one read returned, and when.
type chunk struct {
	buf *[]byte
	n   int
	at  time.Time
}

// relay is one proxied connection: down is the JVM's connection to the
// proxy, up the proxy's connection to the destination. The bytes from down
// to up are on Link{src, dst}, the others on Link{dst, src}; a connection to
// an address of no node (dst "") is relayed untouched.
type relay struct {
	proxy    *Proxy
	src, dst string
	down, up net.Conn
	// done is closed once the relay is closed.
	done chan struct{}
	once sync.Once
}

// run relays both directions and returns once the relay is closed and
// every goroutine it started has ended.
func (r *relay) run() {
	var wg sync.WaitGroup
	wg.Go(r.proxy.guard.Func("link relay "+r.src+"->"+r.dst, func() { r.pump(r.down, r.up, Link{r.src, r.dst}) }))
	r.pump(r.up, r.down, Link{r.dst, r.src})
	wg.Wait()
}

// close closes both connections, at most once; with reset, the peers get a
// TCP reset instead of an orderly close.
func (r *relay) close(reset bool) {
	r.once.Do(func() {
		if reset {
			setLingerZero(r.down)
			setLingerZero(r.up)
		}
		_ = r.down.Close()
		_ = r.up.Close()
		close(r.done)
		r.proxy.table.unregister(r)
	})
}

// reset closes the relay with TCP resets.
func (r *relay) reset() { r.close(true) }

// pump relays one direction until the relay is closed. A reader goroutine
// takes chunks from the source as they come, stamped with the time they
// came, so that a delay is a latency and not a limit on throughput; pump
// delivers them in order as the link allows. When the source ends, the
// chunks read so far are delivered and the relay is closed.
func (r *relay) pump(from, to net.Conn, l Link) {
	chunks := make(chan chunk, queueLen)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(r.proxy.guard.Func("link reader "+l.From+"->"+l.To, func() { r.read(from, chunks) }))
	for {
		select {
		case c, ok := <-chunks:
			if !ok {
				r.close(false)
				return
			}
			delivered := r.deliver(to, l, c)
			bufPool.Put(c.buf)
			if !delivered {
				return
			}
		case <-r.done:
			return
		}
	}
}

// read sends every chunk read from the source, and closes chunks when the
// source ends or fails; it gives up when the relay is closed.
func (r *relay) read(from net.Conn, chunks chan<- chunk) {
	for {
		buf := bufPool.Get().(*[]byte)
		n, err := from.Read(*buf)
		if n > 0 {
			select {
			case chunks <- chunk{buf: buf, n: n, at: time.Now()}:
			case <-r.done:
				return
			}
		} else {
			bufPool.Put(buf)
		}
		if err != nil {
			close(chunks)
			return
		}
	}
}

// deliver writes one chunk to the destination once link l allows it: not
// while the link hangs, not before the chunk's delay has passed. It returns
// false when the relay is closed instead: the link is reset, the shaping's
// loss struck, the write failed, or the relay was closed meanwhile.
func (r *relay) deliver(to net.Conn, l Link, c chunk) bool {
	if r.dst != "" {
		t := r.proxy.table
		jitter := rand.Float64() // fixed for the chunk, scaled by the current shape
		rolled := false
	wait:
		for {
			st := t.state(l)
			switch st.cut {
			case cluster.LinkReset:
				r.reset()
				return false
			case cluster.LinkHang:
				select {
				case <-st.changed:
					continue
				case <-r.done:
					return false
				}
			}
			if !rolled {
				rolled = true
				if lost(st.shape.Loss) {
					r.reset()
					return false
				}
			}
			due := c.at.Add(st.shape.Delay + time.Duration(jitter*float64(st.shape.Jitter)))
			wait := time.Until(due)
			if wait <= 0 {
				break wait
			}
			timer := time.NewTimer(wait)
			select {
			case <-timer.C:
			case <-st.changed: // healed or cut meanwhile: look again
				timer.Stop()
			case <-r.done:
				timer.Stop()
				return false
			}
		}
	}
	if _, err := to.Write((*c.buf)[:c.n]); err != nil {
		r.close(false)
		return false
	}
	return true
}

// lost draws whether a chunk or connection is lost with probability p.
func lost(p float64) bool {
	return p > 0 && rand.Float64() < p
}

// setLingerZero makes closing c send a TCP reset.
func setLingerZero(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}
