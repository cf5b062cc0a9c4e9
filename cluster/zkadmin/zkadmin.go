// Package zkadmin speaks ZooKeeper's admin protocol, the four-letter words
// (srvr, mntr, ruok, cons, ...), to a server at an address: both backends ask
// servers for their roles with it, the harness reads their data digests and
// state triggers wait for mntr values. It knows nothing of how the servers
// were started.
package zkadmin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/cluster"
)

// DefaultFourLetterTimeout bounds a four-letter word whose ctx has no deadline.
const DefaultFourLetterTimeout = 5 * time.Second

// NotServing is what a server answers to most four-letter words while it has
// no quorum (electing, syncing with a leader, or cut off).
const NotServing = "This ZooKeeper instance is not currently serving requests"

// maxFourLetterReply caps how much of a reply is read (mntr is a few KB).
const maxFourLetterReply = 1 << 20

// FourLetter sends a four-letter word (srvr, mntr, ruok, ...) to the server
// at addr and returns its whole reply. The exchange ends at ctx's deadline,
// or after DefaultFourLetterTimeout when ctx has none, and at once when ctx
// is cancelled. The server must whitelist the command
// (4lw.commands.whitelist).
func FourLetter(ctx context.Context, addr, cmd string) (string, error) {
	if len(cmd) != 4 {
		return "", fmt.Errorf("four-letter word %q to %s: want exactly four letters", cmd, addr)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultFourLetterTimeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("%s to %s: %w", cmd, addr, err)
	}
	defer conn.Close()
	// A deadline in the past makes blocked reads and writes return at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := conn.SetDeadline(deadline); err != nil {
		return "", fmt.Errorf("%s to %s: %w", cmd, addr, err)
	}
	if _, err := io.WriteString(conn, cmd); err != nil {
		return "", fmt.Errorf("%s to %s: send: %w", cmd, addr, ctxErr(ctx, err))
	}
	// The server answers, then closes the connection.
	reply, err := io.ReadAll(io.LimitReader(conn, maxFourLetterReply))
	if err != nil {
		return string(reply), fmt.Errorf("%s to %s: read reply: %w", cmd, addr, ctxErr(ctx, err))
	}
	return string(reply), nil
}

// ctxErr prefers ctx's error, which says why an I/O deadline struck. The
// connection's deadline is ctx's, so an I/O timeout is ctx's deadline even
// when ctx's own timer has not fired yet.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
	}
	return err
}

// Srvr asks the server at addr for its role with the srvr command: Leader,
// Follower or Observer from its "Mode:" line; Down, with a nil error, when it
// says it is not serving requests or reports any other mode (standalone, ...);
// Down with the error when it cannot be reached or its reply makes no sense.
func Srvr(ctx context.Context, addr string) (cluster.Role, error) {
	reply, err := FourLetter(ctx, addr, "srvr")
	if err != nil {
		return cluster.Down, err
	}
	return parseSrvr(reply)
}

// SrvrVersion asks the server at addr what it runs: the version line of its
// srvr reply, e.g. "3.9.3-${mvngit.commit.id}, built on 2026-03-08 16:19 UTC".
func SrvrVersion(ctx context.Context, addr string) (string, error) {
	reply, err := FourLetter(ctx, addr, "srvr")
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(reply) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Zookeeper version:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("srvr: no version line in reply %q", truncate(reply, 200))
}

// parseSrvr reads the role out of a srvr reply.
func parseSrvr(reply string) (cluster.Role, error) {
	if strings.Contains(reply, NotServing) {
		return cluster.Down, nil
	}
	sc := bufio.NewScanner(strings.NewReader(reply))
	for sc.Scan() {
		mode, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Mode:")
		if !ok {
			continue
		}
		switch strings.TrimSpace(mode) {
		case "leader":
			return cluster.Leader, nil
		case "follower":
			return cluster.Follower, nil
		case "observer":
			return cluster.Observer, nil
		default:
			return cluster.Down, nil
		}
	}
	if strings.TrimSpace(reply) == "" {
		return cluster.Down, errors.New("srvr: empty reply (is srvr in 4lw.commands.whitelist?)")
	}
	return cluster.Down, fmt.Errorf("srvr: no Mode line in reply %q", truncate(reply, 200))
}

// truncate shortens s to at most n bytes for messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// MntrValue returns the value of key in a mntr reply ("key<TAB>value"
// lines).
func MntrValue(reply, key string) (string, bool) {
	for line := range strings.Lines(reply) {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\r\n"), "\t")
		if ok && k == key {
			return v, true
		}
	}
	return "", false
}
