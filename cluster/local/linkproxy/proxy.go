package linkproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/zkchaos/zkchaos/internal/guard"
)

// Timings of the proxy.
const (
	// handshakeTimeout bounds a client's SOCKS greeting and request.
	handshakeTimeout = 10 * time.Second
	// dialTimeout bounds the proxy's connection to the destination.
	dialTimeout = 5 * time.Second
	// acceptBackoff is the pause after a failed Accept (e.g. out of file
	// descriptors) before the next one.
	acceptBackoff = 50 * time.Millisecond
)

// Proxy is the SOCKS5 proxy of one node: every connection that the node's
// JVM opens passes it, and the proxy relays it as the link table says.
type Proxy struct {
	table  *Table
	node   string
	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc
	// guard starts every goroutine of the proxy.
	guard guard.Guard
	// wg counts every goroutine of the proxy: Close waits for them all.
	wg sync.WaitGroup

	// closed and pending (the accepted connections still in their SOCKS
	// handshake) are guarded by table.mu.
	closed  bool
	pending map[net.Conn]struct{}
}

// Listen starts the SOCKS5 proxy of a registered node on a free port of
// 127.0.0.1. Its goroutines hand their panics to the guard of ctx; only
// Close stops it.
func (t *Table) Listen(ctx context.Context, node string) (*Proxy, error) {
	t.mu.Lock()
	err := t.knownLocked(node)
	t.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("start SOCKS proxy: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start SOCKS proxy of %s: %w", node, err)
	}
	g := guard.From(ctx)
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p := &Proxy{table: t, node: node, ln: ln, ctx: ctx, cancel: cancel, guard: g, pending: map[net.Conn]struct{}{}}
	p.wg.Go(g.Func("link proxy of "+node, p.acceptLoop))
	return p, nil
}

// Node returns the name of the node the proxy serves.
func (p *Proxy) Node() string { return p.node }

// Port returns the port the proxy listens on, on 127.0.0.1.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Addr returns the proxy's address, "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Close stops the proxy: it closes the listener and every connection the
// proxy relays, and returns once all of its goroutines have ended. It may be
// called more than once.
func (p *Proxy) Close() error {
	t := p.table
	t.mu.Lock()
	if p.closed {
		t.mu.Unlock()
		p.wg.Wait()
		return nil
	}
	p.closed = true
	var pending []net.Conn
	for c := range p.pending {
		pending = append(pending, c)
	}
	var relays []*relay
	for r := range t.relays {
		if r.proxy == p {
			relays = append(relays, r)
		}
	}
	t.mu.Unlock()
	p.cancel()
	err := p.ln.Close()
	for _, c := range pending {
		_ = c.Close()
	}
	for _, r := range relays {
		r.close(false)
	}
	p.wg.Wait()
	if err != nil {
		return fmt.Errorf("close SOCKS proxy of %s: %w", p.node, err)
	}
	return nil
}

// acceptLoop serves every connection until the listener is closed.
func (p *Proxy) acceptLoop() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select { // e.g. out of file descriptors: try again soon
			case <-p.ctx.Done():
				return
			case <-time.After(acceptBackoff):
			}
			continue
		}
		p.table.mu.Lock()
		if p.closed {
			p.table.mu.Unlock()
			_ = c.Close()
			return
		}
		p.pending[c] = struct{}{}
		p.wg.Add(1)
		p.table.mu.Unlock()
		serve := p.guard.Func("link proxy connection of "+p.node, func() { p.serve(c) })
		go func() {
			defer p.wg.Done() // after a panic is handed on
			serve()
		}()
	}
}

// serve runs the SOCKS handshake of one connection from the node's JVM and
// then relays it until either side closes.
func (p *Proxy) serve(down net.Conn) {
	r := p.handshake(down)
	p.table.mu.Lock()
	delete(p.pending, down)
	p.table.mu.Unlock()
	if r == nil {
		_ = down.Close()
		return
	}
	r.run()
}

// handshake answers the SOCKS greeting and request and connects to the
// destination; it returns the registered relay, or nil when the connection
// was refused or failed.
func (p *Proxy) handshake(down net.Conn) *relay {
	_ = down.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := greet(down); err != nil {
		return nil
	}
	target, err := readRequest(down)
	if err != nil {
		if ref, ok := errors.AsType[*refusal](err); ok {
			_ = writeReply(down, ref.code, netip.AddrPort{})
		}
		return nil
	}
	t := p.table
	dst := t.nodeAt(target)
	// A reset (or lost) link never reaches the destination, as a firewall
	// that drops the SYN.
	t.mu.Lock()
	ok := t.admitLocked(p.node, dst, true)
	t.mu.Unlock()
	if !ok {
		_ = writeReply(down, repConnectionRefused, netip.AddrPort{})
		return nil
	}
	d := net.Dialer{Timeout: dialTimeout}
	up, err := d.DialContext(p.ctx, "tcp", target.String())
	if err != nil {
		_ = writeReply(down, dialFailureReply(err), netip.AddrPort{})
		return nil
	}
	r := &relay{proxy: p, src: p.node, dst: dst, down: down, up: up, done: make(chan struct{})}
	// The link may have been cut while dialing.
	if !t.register(r) {
		_ = up.Close()
		_ = writeReply(down, repConnectionRefused, netip.AddrPort{})
		return nil
	}
	if err := writeReply(down, repSucceeded, addrPortOf(up.LocalAddr())); err != nil {
		r.close(false)
		return nil
	}
	_ = down.SetDeadline(time.Time{})
	return r
}

// dialFailureReply is the SOCKS reply code for an error of the dial to the
// destination.
func dialFailureReply(err error) byte {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return repConnectionRefused
	case errors.As(err, &ne) && ne.Timeout():
		return repHostUnreachable
	default:
		return repGeneralFailure
	}
}

// String describes the proxy for logs: "SOCKS proxy of n1 on 127.0.0.1:port".
func (p *Proxy) String() string {
	return "SOCKS proxy of " + p.node + " on 127.0.0.1:" + strconv.Itoa(p.Port())
}

// addrPortOf turns a net.Addr into a netip.AddrPort, or the zero value.
func addrPortOf(a net.Addr) netip.AddrPort {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}
	}
	return ta.AddrPort()
}
