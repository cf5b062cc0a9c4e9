package local

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// loopback is the only address servers listen on and the harness talks to.
const loopback = "127.0.0.1"

// lowestPort is the bottom of the range ports are chosen from.
const lowestPort = 20000

// freePorts returns n distinct TCP ports that are free on loopback now.
//
// Ports are taken below the kernel's ephemeral range when there is room:
// there, no outgoing connection (a client reconnecting, a server dialling its
// peers) can be given one of them while its server is down or still starting,
// which would make the server fail to bind when it (re)starts. Otherwise the
// kernel picks (listen on port 0). Each port is checked by listening on it;
// all listeners stay open until every port is chosen, then are closed.
func freePorts(n int) ([]int, error) {
	lo, _ := ephemeralRange()
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	if lo-lowestPort >= 1000 {
		span := lo - lowestPort
		start := rand.IntN(span)
		for i := 0; i < span && len(ports) < n; i++ {
			p := lowestPort + (start+i)%span
			l, err := net.Listen("tcp", net.JoinHostPort(loopback, strconv.Itoa(p)))
			if err != nil {
				continue
			}
			listeners = append(listeners, l)
			ports = append(ports, p)
		}
	}
	for len(ports) < n {
		l, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
		if err != nil {
			return nil, fmt.Errorf("find a free port on %s: %w", loopback, err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ephemeralRange reads the kernel's range of ports for outgoing connections,
// or returns Linux's default.
func ephemeralRange() (lo, hi int) {
	lo, hi = 32768, 60999
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return lo, hi
	}
	l, err1 := strconv.Atoi(f[0])
	h, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || l < 1 || h < l {
		return lo, hi
	}
	return l, h
}
