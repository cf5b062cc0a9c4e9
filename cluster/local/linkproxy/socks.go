package linkproxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
)

// SOCKS5 constants (RFC 1928).
const (
	socksVersion = 5

	methodNoAuth       = 0x00
	methodNoAcceptable = 0xff

	cmdConnect = 0x01

	atypIPv4   = 0x01
	atypDomain = 0x03
	atypIPv6   = 0x04

	repSucceeded           = 0x00
	repGeneralFailure      = 0x01
	repNotAllowed          = 0x02
	repHostUnreachable     = 0x04
	repConnectionRefused   = 0x05
	repCommandNotSupported = 0x07
	repAddrNotSupported    = 0x08
)

// refusal is a request the proxy answers with a failure reply.
type refusal struct {
	code byte
	msg  string
}

// Error renders the refusal.
func (r *refusal) Error() string { return fmt.Sprintf("SOCKS reply %d: %s", r.code, r.msg) }

// greet reads the client's method selection and chooses "no
// authentication", the only method this proxy offers.
func greet(rw io.ReadWriter) error {
	var hdr [2]byte
	if _, err := io.ReadFull(rw, hdr[:]); err != nil {
		return fmt.Errorf("read SOCKS greeting: %w", err)
	}
	if hdr[0] != socksVersion {
		return fmt.Errorf("SOCKS version %d: only version 5 is served", hdr[0])
	}
	methods := make([]byte, hdr[1])
	if _, err := io.ReadFull(rw, methods); err != nil {
		return fmt.Errorf("read SOCKS methods: %w", err)
	}
	if !slices.Contains(methods, methodNoAuth) {
		_, _ = rw.Write([]byte{socksVersion, methodNoAcceptable})
		return errors.New("the SOCKS client does not offer the no-authentication method")
	}
	if _, err := rw.Write([]byte{socksVersion, methodNoAuth}); err != nil {
		return fmt.Errorf("write SOCKS method: %w", err)
	}
	return nil
}

// readRequest reads a CONNECT request and returns its destination. A
// request the proxy will not serve yields a *refusal, to be answered; any
// other error means the connection is unusable.
func readRequest(r io.Reader) (netip.AddrPort, error) {
	var hdr [4]byte // VER CMD RSV ATYP
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return netip.AddrPort{}, fmt.Errorf("read SOCKS request: %w", err)
	}
	if hdr[0] != socksVersion {
		return netip.AddrPort{}, fmt.Errorf("SOCKS request version %d: want 5", hdr[0])
	}
	var addr netip.Addr
	switch hdr[3] {
	case atypIPv4:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return netip.AddrPort{}, fmt.Errorf("read SOCKS address: %w", err)
		}
		addr = netip.AddrFrom4(b)
	case atypIPv6:
		var b [16]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return netip.AddrPort{}, fmt.Errorf("read SOCKS address: %w", err)
		}
		addr = netip.AddrFrom16(b).Unmap()
	case atypDomain:
		var n [1]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return netip.AddrPort{}, fmt.Errorf("read SOCKS address: %w", err)
		}
		name := make([]byte, n[0])
		if _, err := io.ReadFull(r, name); err != nil {
			return netip.AddrPort{}, fmt.Errorf("read SOCKS address: %w", err)
		}
		var ok bool
		if addr, ok = resolve(string(name)); !ok {
			return netip.AddrPort{}, &refusal{repNotAllowed,
				fmt.Sprintf("domain %q: only IP literals and localhost are served (no DNS lookups)", name)}
		}
	default:
		return netip.AddrPort{}, &refusal{repAddrNotSupported, fmt.Sprintf("address type %d", hdr[3])}
	}
	var port [2]byte
	if _, err := io.ReadFull(r, port[:]); err != nil {
		return netip.AddrPort{}, fmt.Errorf("read SOCKS port: %w", err)
	}
	dst := netip.AddrPortFrom(addr, binary.BigEndian.Uint16(port[:]))
	if hdr[1] != cmdConnect {
		return dst, &refusal{repCommandNotSupported, fmt.Sprintf("command %d: only CONNECT is served", hdr[1])}
	}
	if !allowedDestination(addr) {
		return dst, &refusal{repNotAllowed, fmt.Sprintf("destination %s is outside 127.0.0.0/8", dst)}
	}
	return dst, nil
}

// resolve turns a SOCKS domain name into an address without any DNS lookup:
// an IP literal, or localhost.
func resolve(name string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(name); err == nil {
		return a.Unmap(), true
	}
	if name == "localhost" {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), true
	}
	return netip.Addr{}, false
}

// writeReply answers a request with a reply code and the proxy's bound
// address (the zero value for failures).
func writeReply(w io.Writer, code byte, bound netip.AddrPort) error {
	addr := bound.Addr().Unmap()
	b := []byte{socksVersion, code, 0}
	switch {
	case addr.Is4():
		b = append(b, atypIPv4)
		b = append(b, addr.AsSlice()...)
	case addr.Is6():
		b = append(b, atypIPv6)
		b = append(b, addr.AsSlice()...)
	default:
		b = append(b, atypIPv4, 0, 0, 0, 0)
	}
	b = binary.BigEndian.AppendUint16(b, bound.Port())
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write SOCKS reply: %w", err)
	}
	return nil
}
