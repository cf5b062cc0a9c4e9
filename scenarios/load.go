package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// FieldError is a problem with one field of a scenario file.
type FieldError struct {
	// File is the scenario file's path.
	File string
	// Line is the 1-based line of the field; for a field the file leaves
	// out, that of the nearest section it has, else its first line.
	Line int
	// Field is the dotted path of the field, e.g. "workload.keys".
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error renders "file:line: field a.b: message", control characters
// escaped: an unknown key may carry a terminal escape.
func (e *FieldError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Field == "" {
		return escapeControl(fmt.Sprintf("%s: %s", loc, e.Msg))
	}
	return escapeControl(fmt.Sprintf("%s: field %s: %s", loc, e.Field, e.Msg))
}

// escapeControl writes every control character of s as a Go escape.
func escapeControl(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

const (
	// maxFileSize bounds a scenario file: a scenario is a page of YAML,
	// and a file far larger (or one that never ends) is a mistake.
	maxFileSize = 1 << 20
	// maxErrors is how many problems one file reports, so that a file of
	// mistakes gets a page of errors, not one line per mistake.
	maxErrors = 20
)

// Load reads, decodes, completes and validates a scenario file, with the
// overrides applied in order. Every problem found is returned, joined; each
// is a *FieldError.
func Load(path string, overrides ...Override) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	defer f.Close()
	// One byte past the limit is enough for Parse to refuse the file.
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read scenario %s: %w", path, err)
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return Parse(path, name, data, overrides...)
}

// Parse decodes a scenario from data, with the overrides applied in order;
// file is used in error messages and defaultName when the scenario has no
// name.
func Parse(file, defaultName string, data []byte, overrides ...Override) (*Scenario, error) {
	if len(data) > maxFileSize {
		return nil, &FieldError{File: file, Line: 1, Msg: "the file is larger than 1 MiB: a scenario is a page of YAML"}
	}
	root, err := parseDocument(file, data)
	if err != nil {
		return nil, err
	}
	d := &decoder{file: file, root: root, fields: map[string]*yaml.Node{}, sources: map[*yaml.Node]string{}}
	for _, o := range overrides {
		wrote, err := o.apply(root)
		if err != nil {
			return nil, err
		}
		for _, n := range wrote {
			d.sources[n] = o.Source
		}
	}
	var s Scenario
	d.decode(root, reflect.ValueOf(&s).Elem(), "")
	if len(d.errs) > 0 {
		return nil, joinCapped(d.errs)
	}
	s.applyDefaults(defaultName, func(path string) bool { return d.fields[path] != nil })
	if errs := s.validate(d.at, func(path string) bool { return d.fields[path] != nil }); len(errs) > 0 {
		return nil, joinCapped(errs)
	}
	return &s, nil
}

// parseDocument returns the root node of the file's only YAML document.
func parseDocument(file string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlSyntaxError(file, data, err)
	}
	// A later document would be silently ignored: refuse it.
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, yamlSyntaxError(file, data, err)
	default:
		return nil, &FieldError{File: file, Line: next.Line, Msg: "a scenario file holds one YAML document; a second one starts here"}
	}
	if len(doc.Content) == 0 {
		return nil, &FieldError{File: file, Line: 1, Msg: "the file is empty: a scenario needs at least a name and a workload"}
	}
	return doc.Content[0], nil
}

// joinCapped joins the first maxErrors errors, and says so when there are
// more.
func joinCapped(errs []error) error {
	if len(errs) <= maxErrors {
		return errors.Join(errs...)
	}
	var next *FieldError
	errors.As(errs[maxErrors], &next)
	note := &FieldError{File: next.File, Line: next.Line, Msg: fmt.Sprintf("more errors follow; the first %d are shown", maxErrors)}
	return errors.Join(append(errs[:maxErrors:maxErrors], note)...)
}

// yamlSyntaxError turns a parser error "yaml: line N: msg" into a FieldError.
// The reader's errors (a control character, a byte that is not UTF-8) carry
// no line: the first such byte of data gives it.
func yamlSyntaxError(file string, data []byte, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
	} else if l, col, b, ok := firstUnreadable(data); ok {
		line = l
		msg += fmt.Sprintf(": byte 0x%02x at column %d", b, col)
	} else {
		line = 1
	}
	return &FieldError{File: file, Line: line, Msg: "not valid YAML: " + msg}
}

// firstUnreadable finds the first byte of data that is not UTF-8 or is a
// character YAML does not allow, and its line and column (in characters).
func firstUnreadable(data []byte) (line, col int, b byte, ok bool) {
	line, col = 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if (r == utf8.RuneError && size == 1) || !yamlChar(r) {
			return line, col, data[i], true
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return 0, 0, 0, false
}

// yamlChar reports whether YAML allows r in a document (YAML 1.1 c-printable).
func yamlChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0x7e) || r == 0x85 ||
		(r >= 0xa0 && r <= 0xd7ff) || (r >= 0xe000 && r <= 0xfffd) || (r >= 0x10000 && r <= utf8.MaxRune)
}

// Marshal renders the resolved scenario as YAML, every default spelled out.
func (s *Scenario) Marshal() ([]byte, error) {
	b, err := yaml.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode scenario: %w", err)
	}
	return b, nil
}
