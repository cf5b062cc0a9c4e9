package main

import (
	"fmt"
	"io"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// escapeWriter writes to w with every character a terminal could take for a
// command escaped as Go quotes it (\x1b, \r, \u202e): control characters
// but newline and tab, bidirectional controls, and bytes that are not UTF-8.
// Everything zkchaos prints passes through it, since keys, checker messages,
// errors and file names come from histories and scenarios; the harness's own
// line control is written beneath it (see clearLine). A character split
// across two writes is escaped byte by byte.
type escapeWriter struct{ w io.Writer }

func (e escapeWriter) Write(p []byte) (int, error) {
	out := make([]byte, 0, len(p))
	for rest := p; len(rest) > 0; {
		r, size := utf8.DecodeRune(rest)
		switch {
		case r == utf8.RuneError && size == 1:
			out = fmt.Appendf(out, `\x%02x`, rest[0])
		case r != '\n' && r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)):
			q := strconv.QuoteRune(r)
			out = append(out, q[1:len(q)-1]...)
		default:
			out = append(out, rest[:size]...)
		}
		rest = rest[size:]
	}
	if _, err := e.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// raw is the writer beneath w's escaping, if any.
func raw(w io.Writer) io.Writer {
	if e, ok := w.(escapeWriter); ok {
		return e.w
	}
	return w
}

// clearLineSeq returns a terminal's cursor to the start of its line and
// empties the line.
const clearLineSeq = "\r\033[K"

// clearLine empties the live status line of the terminal beneath w.
func clearLine(w io.Writer) error {
	_, err := io.WriteString(raw(w), clearLineSeq)
	return err
}
