package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNumbersOutOfBoundsAreRefusedAtTheirLine holds every number to bounds
// that keep the run's arithmetic (pacing intervals, doubled defaults,
// 32-bit session timeouts) from overflowing once the ensemble is up.
func TestNumbersOutOfBoundsAreRefusedAtTheirLine(t *testing.T) {
	assertRefused(t, []refusal{
		{"seed: 2\nworkload:\n  rate: 1e-9\n", "s.yaml:3: field workload.rate: must be 0 (unlimited) or at least 0.01"},
		{"workload:\n  rate: 1e12\n", "s.yaml:2: field workload.rate: must be at most 1e+06"},
		{"workload:\n  rate: .inf\n", "s.yaml:2: field workload.rate: must be a finite number, got +Inf"},
		{"workload:\n  rate: .nan\n", "s.yaml:2: field workload.rate: must be a finite number, got NaN"},
		{"workload:\n  mix: {read: .inf, write: 1, cas: 1}\n", "s.yaml:2: field workload.mix.read: must be a finite number"},
		{"workload:\n  mix: {read: 1e300, write: 1e300, cas: 1}\n", "s.yaml:2: field workload.mix: each weight must be at most 1e+06"},
		{"workload:\n  workers: 100000\n", "s.yaml:2: field workload.workers: must be at most 1000 (each worker holds a session), got 100000"},
		{"workload:\n  keys: 50000000\n", "s.yaml:2: field workload.keys: must be at most 10000, got 50000000"},
		{"workload:\n  name: multi\n  keys: 1\n", "s.yaml:3: field workload.keys: must be at least 2 for the multi workload"},
		{"nemesis:\n  interval: 2000000h\n", "s.yaml:2: field nemesis.interval: must be at most 8760h0m0s"},
		{"time-limit: 9000h\n", "s.yaml:1: field time-limit: must be at most 8760h0m0s"},
		{"nemesis:\n  faults:\n    - {name: clock, delta: -9000h}\n", "s.yaml:3: field nemesis.faults[0].delta: must be at most 8760h0m0s either way"},
		{"nemesis:\n  script:\n    - sleep: 9000h\n", "s.yaml:3: field nemesis.script[0].sleep: must be at most 8760h0m0s"},
		{"nemesis:\n  faults:\n    - {name: link, loss: .nan}\n", "s.yaml:3: field nemesis.faults[0].loss: must be a finite number, got NaN"},
		{"nemesis:\n  faults:\n    - {name: clock, clock: rate, rate: 1e9}\n", "s.yaml:3: field nemesis.faults[0].rate: must be at most 1000"},
		{"cluster:\n  tick-time: 40s\n", "s.yaml:2: field cluster.tick-time: must be at most 30s"},
		{"cluster:\n  tick-time: 10500us\n", "s.yaml:2: field cluster.tick-time: must be a whole number of milliseconds"},
		{"workload:\n  session-timeout: 2m\n", "s.yaml:2: field workload.session-timeout: must be at most 1m0s"},
	})
	for _, ok := range []string{"workload:\n  rate: 0\n", "workload:\n  rate: 0.01\n", "workload:\n  workers: 1000\n  keys: 10000\n",
		"nemesis:\n  faults:\n    - {name: clock, delta: -8760h}\n", "cluster:\n  tick-time: 30s\nworkload:\n  session-timeout: 1m\n"} {
		_, err := Parse("s.yaml", "s", []byte(ok))
		assert.NoError(t, err, ok)
	}
}

// TestControlCharactersAreRefused keeps terminal escapes and line breaks
// out of names, which reach run directories, logs and the terminal.
func TestControlCharactersAreRefused(t *testing.T) {
	assertRefused(t, []refusal{
		{"seed: 2\nname: \"red\\e[31m\"\n", `s.yaml:2: field name: must not contain control characters, got "red\x1b[31m"`},
		{"name: \"two\\nlines\"\n", `s.yaml:1: field name: must not contain control characters, got "two\nlines"`},
		{"nemesis:\n  script:\n    - {bind: \"A\\rB\", role: leader}\n", `s.yaml:3: field nemesis.script[0].bind: must not contain control characters`},
		{"cluster:\n  jvm-flags: [\"-Xmx1g\\b\"]\n", `s.yaml:2: field cluster.jvm-flags[0]: must not contain control characters`},
	})
	s, err := Parse("s.yaml", "s", []byte("description: |\n  two\n  lines\tand a tab\n"))
	require.NoError(t, err, "a description may span lines")
	assert.Equal(t, "two\nlines\tand a tab\n", s.Description)

	_, err = Parse("s.yaml", "s", []byte("\"work\\e[2Jload\": {}\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `s.yaml:1: field work\x1b[2Jload: unknown field`, "an unknown key is shown escaped")
}

// TestFieldsLeftOutAreReportedAtALine: a default that conflicts with a
// field given is reported at the nearest line the file has for it.
func TestFieldsLeftOutAreReportedAtALine(t *testing.T) {
	assertRefused(t, []refusal{
		{"seed: 3\ncluster:\n  tick-time: 6s\n", "s.yaml:1: field workload.session-timeout: must be at least two tick times (12s), got 10s"},
		{"seed: 3\nworkload:\n  name: register\ncluster:\n  tick-time: 6s\n", "s.yaml:3: field workload.session-timeout: must be at least two tick times"},
	})
}

// TestOneDocumentPerFile refuses a second YAML document rather than
// ignoring it.
func TestOneDocumentPerFile(t *testing.T) {
	assertRefused(t, []refusal{
		{"seed: 2\n---\nseed: 3\n", "s.yaml:2: a scenario file holds one YAML document; a second one starts here"},
		{"---\nseed: 2\n...\n---\nworkload: {rate: 1}\n", "s.yaml:4: a scenario file holds one YAML document; a second one starts here"},
		{"seed: 2\n---\nseed: [\n", "s.yaml:3: not valid YAML"},
	})
	_, err := Parse("s.yaml", "s", []byte("---\nseed: 2\n...\n"))
	assert.NoError(t, err, "explicit markers around one document are fine")
}

// TestBinaryGarbageNamesTheFirstOffendingByte: the parser's own message
// for a byte it cannot read carries no position; the error gives one.
func TestBinaryGarbageNamesTheFirstOffendingByte(t *testing.T) {
	assertRefused(t, []refusal{
		{"seed: 2\nname: a\x1b[31m\n", "s.yaml:2: not valid YAML: control characters are not allowed: byte 0x1b at column 8"},
		{"seed: 2\n\n  \xff\xfe\n", "s.yaml:3: not valid YAML: invalid leading UTF-8 octet: byte 0xff at column 3"},
		{"\x00\x01\x02", "s.yaml:1: not valid YAML: control characters are not allowed: byte 0x00 at column 1"},
	})
}

// TestErrorsAreCapped: a file of many mistakes gets the first few and a
// line that says more were left out, not one line per mistake.
func TestErrorsAreCapped(t *testing.T) {
	var b strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&b, "unknown%d: 1\n", i)
	}
	_, err := Parse("s.yaml", "s", []byte(b.String()))
	require.Error(t, err)
	errs := err.(interface{ Unwrap() []error }).Unwrap()
	assert.Equal(t, maxErrors+1, len(errs))
	assert.Contains(t, errs[maxErrors].Error(), fmt.Sprintf("s.yaml:%d: more errors follow; the first %d are shown", maxErrors+1, maxErrors))
	assert.Less(t, len(err.Error()), 10_000)
}

// TestOversizedFileIsRefused: a scenario is a page of YAML; a file far
// larger, or one that never ends, is refused without being read whole.
func TestOversizedFileIsRefused(t *testing.T) {
	start := time.Now()
	_, err := Load("/dev/zero")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/dev/zero:1: the file is larger than 1 MiB")
	assert.Less(t, time.Since(start), 5*time.Second)

	_, err = Parse("s.yaml", "s", []byte("seed: 2\n"+strings.Repeat("# padding\n", maxFileSize/10)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "s.yaml:1: the file is larger than 1 MiB")
}

// TestEveryErrorIsAFieldErrorWithALine holds Parse to what FuzzLoad checks,
// on inputs that once gave an error without a line.
func TestEveryErrorIsAFieldErrorWithALine(t *testing.T) {
	for _, in := range []string{"", "   \n", "[]", "seed: 2\n---\n", "a: &a [*a]\n", "\xef\xbb\xbf\xff"} {
		_, err := Parse("s.yaml", "s", []byte(in))
		requireLinedErrors(t, "s.yaml", []byte(in), err)
	}
}

// refusal is a file s.yaml that Parse refuses, and part of the error.
type refusal struct{ yaml, want string }

// assertRefused parses each case as s.yaml: each is refused with its
// message, and no error carries a control character to the terminal.
func assertRefused(t *testing.T, cases []refusal) {
	t.Helper()
	for _, tc := range cases {
		_, err := Parse("s.yaml", "s", []byte(tc.yaml))
		if assert.Error(t, err, "%q", tc.yaml) {
			assert.Contains(t, err.Error(), tc.want)
			assert.NotRegexp(t, `[\x00-\x08\x0b-\x1f\x7f]`, err.Error(), "the error itself carries no control character")
		}
	}
}

// requireLinedErrors fails unless err is nil or each error it joins is a
// *FieldError of file at one of the lines of data.
func requireLinedErrors(t *testing.T, file string, data []byte, err error) {
	t.Helper()
	if err == nil {
		return
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var fe *FieldError
		require.True(t, errors.As(e, &fe), "not a *FieldError: %v", e)
		require.Equal(t, file, fe.File, "%v", e)
		require.GreaterOrEqual(t, fe.Line, 1, "an error without a line: %v", e)
		require.LessOrEqual(t, fe.Line, bytes.Count(data, []byte("\n"))+1, "a line past the end of the file: %v", e)
	}
}
