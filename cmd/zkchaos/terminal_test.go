package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/harness"
)

// rawControl matches what a terminal could take for a command: control
// characters other than newline and tab (C0, DEL, C1), bidirectional
// overrides, and bytes that are not UTF-8.
var rawControl = regexp.MustCompile("[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f\u202a-\u202e\u2066-\u2069\ufffd]")

// hostileKey is a key name holding an ANSI colour, a window-title sequence
// and a bell, as JSON writes it.
const hostileKey = `k\u001b[31m0\u001b]0;owned\u0007`

func TestTerminalOutputEscapesControlCharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run\x1b[2J")
	require.NoError(t, os.Mkdir(dir, 0o755))
	for _, f := range []string{"scenario.yaml", "history.jsonl"} {
		b, err := os.ReadFile(filepath.Join("testdata", "invalid-run", f))
		require.NoError(t, err)
		b = bytes.ReplaceAll(b, []byte(`"key":"k0"`), []byte(`"key":"`+hostileKey+`"`))
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
	}
	code, stdout, stderr := zkchaos(t, "check", dir)
	assert.Equal(t, exitInvalid, code, stderr)
	assert.Contains(t, stdout, `k\x1b[31m0\x1b]0;owned\a`, "the key, escaped, in the checker's message")
	assert.Contains(t, stdout, `run\x1b[2J`+string(filepath.Separator)+"report.html", "the run directory, escaped")
	assert.Empty(t, rawControl.FindAllString(stdout+stderr, -1), stdout+stderr)
	assert.Contains(t, stdout, "verdict: INVALID\n", "newlines stay")

	code, stdout, stderr = zkchaos(t, "validate", filepath.Join(t.TempDir(), "evil\u202e\x1b[2J\x9b1m.yaml"))
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, stderr, `evil\u202e\x1b[2J\x9b1m.yaml`, "the file name, escaped, in the error")
	assert.Empty(t, rawControl.FindAllString(stdout+stderr, -1), stderr)
}

func TestEscapeWriter(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, ünïcode ✓\n\tindented":  "plain text, ünïcode ✓\n\tindented",
		"\x1b[2Jcleared\r\x07\x00":           `\x1b[2Jcleared\r\a\x00`,
		"\x7f del, \u0085 next line, \u009b": `\x7f del, \u0085 next line, \u009b`,
		"\u202eevil\u2066":                   `\u202eevil\u2066`,
		"bad \xff\x9b byte":                  `bad \xff\x9b byte`,
	} {
		var buf strings.Builder
		w := escapeWriter{w: &buf}
		n, err := w.Write([]byte(in))
		require.NoError(t, err)
		assert.Equal(t, len(in), n, "a writer reports the bytes it was given")
		assert.Equal(t, want, buf.String(), "%q", in)
	}
}

// The live status line is the only control sequence zkchaos writes itself;
// a fault's name in it is escaped like everything else.
func TestProgressLineEscapesFaultNames(t *testing.T) {
	var buf strings.Builder
	showProgress(escapeWriter{w: &buf}, harness.Progress{Elapsed: time.Second, Limit: time.Minute, OK: 3, Fault: "kill \x1b[8mleader"})
	assert.Equal(t, "\r\x1b[K"+`1s / 1m0s  ok 3  fail 0  info 0  fault: kill \x1b[8mleader`, buf.String())

	buf.Reset()
	_, err := (&lineBreaker{w: escapeWriter{w: &buf}}).Write([]byte("level=WARN msg=\x1b[2J\n"))
	require.NoError(t, err)
	assert.Equal(t, "\r\x1b[K"+`level=WARN msg=\x1b[2J`+"\n", buf.String())
}
