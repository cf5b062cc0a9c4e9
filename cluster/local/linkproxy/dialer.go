package linkproxy

import (
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
)

// Dialer returns the dialer of a client pinned to node, with go-zookeeper's
// signature: it dials the address directly (client traffic passes no proxy)
// and keeps track of the connection, so that IsolateClients can reset it.
// While clients are isolated from node it refuses to dial, with an error
// that wraps syscall.ECONNREFUSED.
func (t *Table) Dialer(node string) func(network, address string, timeout time.Duration) (net.Conn, error) {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		refused := func() error {
			return fmt.Errorf("dial %s (node %s): clients are isolated from this node: %w",
				address, node, syscall.ECONNREFUSED)
		}
		t.mu.Lock()
		isolated := t.isolated[node]
		t.mu.Unlock()
		if isolated {
			return nil, refused()
		}
		conn, err := net.DialTimeout(network, address, timeout)
		if err != nil {
			return nil, err
		}
		c := &clientConn{Conn: conn, table: t, node: node}
		t.mu.Lock()
		if t.isolated[node] { // isolated while dialing
			t.mu.Unlock()
			setLingerZero(conn)
			_ = conn.Close()
			return nil, refused()
		}
		t.clients[c] = struct{}{}
		t.mu.Unlock()
		return c, nil
	}
}

// clientConn is a client's connection to a node, known to the table.
type clientConn struct {
	net.Conn
	table *Table
	node  string
	once  sync.Once
}

// Close closes the connection and forgets it.
func (c *clientConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.table.mu.Lock()
		delete(c.table.clients, c)
		c.table.mu.Unlock()
	})
	return err
}

// reset closes the connection with a TCP reset.
func (c *clientConn) reset() {
	setLingerZero(c.Conn)
	_ = c.Close()
}
