package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/local"
	"github.com/zkchaos/zkchaos/nemesis"
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

// Load reads, decodes, completes and validates a scenario file. Every
// problem found is returned, joined; each is a *FieldError.
func Load(path string) (*Scenario, error) {
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
	return Parse(path, name, data)
}

// Parse decodes a scenario from data; file is used in error messages and
// defaultName when the scenario has no name.
func Parse(file, defaultName string, data []byte) (*Scenario, error) {
	if len(data) > maxFileSize {
		return nil, &FieldError{File: file, Line: 1, Msg: "the file is larger than 1 MiB: a scenario is a page of YAML"}
	}
	root, err := parseDocument(file, data)
	if err != nil {
		return nil, err
	}
	d := &decoder{file: file, root: root, fields: map[string]*yaml.Node{}}
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

// decoder walks the YAML tree alongside the Go type, so that every unknown
// field and every wrong type is reported with its line and dotted path.
type decoder struct {
	file   string
	root   *yaml.Node
	fields map[string]*yaml.Node // dotted path -> value node, for fields present
	errs   []error
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{File: d.file, Line: n.Line, Field: path, Msg: fmt.Sprintf(format, args...)})
}

// full reports whether enough errors were found for joinCapped to cut them
// short: decoding stops there.
func (d *decoder) full() bool { return len(d.errs) > maxErrors }

// at builds a FieldError for validation, at the line of the field or of its
// nearest ancestor the file gives, else at the document's first line.
func (d *decoder) at(path, format string, args ...any) error {
	line := d.root.Line
	for p := path; p != ""; p = p[:max(strings.LastIndexAny(p, ".["), 0)] {
		if n := d.fields[p]; n != nil {
			line = n.Line
			break
		}
	}
	return &FieldError{File: d.file, Line: line, Field: path, Msg: fmt.Sprintf(format, args...)}
}

// MaxDuration bounds every duration of a scenario, of either sign: a year
// is beyond any useful run, and far enough from time.Duration's limit that
// the harness may double and add them.
const MaxDuration = 365 * 24 * time.Hour

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && hasControl(n.Value, path == "description") {
		d.fail(n, path, "must not contain control characters, got %q", n.Value)
		return
	}
	if v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct {
		// An optional section: present means set, even when empty.
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct && v.Type().PkgPath() != "time" {
		if n.Kind == yaml.ScalarNode && d.setShorthand(n, v) {
			return
		}
		d.decodeStruct(n, v, path)
		return
	}
	if v.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode {
		out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			if d.full() {
				break
			}
			itemPath := fmt.Sprintf("%s[%d]", path, i)
			d.fields[itemPath] = item
			d.decode(item, out.Index(i), itemPath)
		}
		v.Set(out)
		return
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		d.fail(n, path, "%s", typeMessage(n, v.Type(), err))
		return
	}
	switch x := v.Interface().(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			d.fail(n, path, "must be a finite number, got %g", x)
		}
	case time.Duration:
		if x > MaxDuration {
			d.fail(n, path, "must be at most %s, got %s", MaxDuration, x)
		} else if x < -MaxDuration {
			d.fail(n, path, "must be at most %s either way, got %s", MaxDuration, x)
		}
	}
}

// hasControl reports whether s holds a control character other than a tab,
// or a line break where lines are not allowed.
func hasControl(s string, lines bool) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) && r != '\t' && !(lines && r == '\n')
	})
}

// setShorthand lets a scalar stand for a struct with only its name set, as
// in "faults: [kill-leader]".
func (d *decoder) setShorthand(n *yaml.Node, v reflect.Value) bool {
	for i := 0; i < v.NumField(); i++ {
		if strings.Split(v.Type().Field(i).Tag.Get("yaml"), ",")[0] == "name" && v.Field(i).Kind() == reflect.String {
			v.Field(i).SetString(n.Value)
			return true
		}
	}
	return false
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		where := path
		if where == "" {
			where = "the scenario"
		}
		d.fail(n, path, "%s must be a mapping of fields, got %s", where, describe(n))
		return
	}
	fields := map[string]int{}
	var names []string
	for i := 0; i < v.NumField(); i++ {
		tag := strings.Split(v.Type().Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		fields[tag] = i
		names = append(names, tag)
	}
	for i := 0; i+1 < len(n.Content) && !d.full(); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		child := key.Value
		if path != "" {
			child = path + "." + key.Value
		}
		idx, ok := fields[key.Value]
		if !ok {
			d.fail(key, child, "unknown field (known fields here: %s)", strings.Join(names, ", "))
			continue
		}
		if d.fields[child] != nil {
			d.fail(key, child, "given twice (first on line %d)", d.fields[child].Line)
			continue
		}
		d.fields[child] = val
		if val.Kind == yaml.ScalarNode && val.Tag == "!!null" {
			d.fail(val, child, "has no value")
			continue
		}
		d.decode(val, v.Field(idx), child)
	}
}

// typeMessage explains a decode failure without yaml's Go type jargon.
func typeMessage(n *yaml.Node, t reflect.Type, err error) string {
	want := t.Kind().String()
	switch {
	case t == reflect.TypeOf(Scenario{}.TimeLimit):
		want = `a duration such as "30s" or "1m30s"`
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		want = "a whole number"
	case t.Kind() == reflect.Float64:
		want = "a number"
	case t.Kind() == reflect.Bool:
		want = "true or false"
	case t.Kind() == reflect.String:
		want = "a string"
	case t.Kind() == reflect.Slice:
		want = "a list"
	}
	if n.Kind == yaml.ScalarNode {
		return fmt.Sprintf("must be %s, got %q", want, n.Value)
	}
	if want == t.Kind().String() {
		return err.Error()
	}
	return fmt.Sprintf("must be %s, got %s", want, describe(n))
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

// validate checks values that decode but make no sense.
func (s *Scenario) validate(at func(path, format string, args ...any) error, present func(path string) bool) []error {
	var errs []error
	check := func(ok bool, path, format string, args ...any) {
		if !ok {
			errs = append(errs, at(path, format, args...))
		}
	}
	oneOf := func(v, path string, allowed []string) {
		check(slices.Contains(allowed, v), path, "%q is not one of: %s", v, strings.Join(allowed, ", "))
	}
	check(s.Name != "" && !strings.ContainsAny(s.Name, `/\`) && s.Name != "." && s.Name != ".." && !hasControl(s.Name, false),
		"name", "must be a non-empty name without slashes or control characters (it names the run directory)")
	if err := CheckTimeLimit(s.TimeLimit); err != nil {
		errs = append(errs, at("time-limit", "%v", err))
	}
	check(s.Recovery >= 0, "recovery", "must not be negative, got %s", s.Recovery)

	c := s.Cluster
	oneOf(c.Backend, "cluster.backend", knownBackends)
	check(c.Nodes >= 1 && c.Nodes <= 9, "cluster.nodes", "must be between 1 and 9, got %d", c.Nodes)
	check(c.StartTimeout > 0, "cluster.start-timeout", "must be positive, got %s", c.StartTimeout)
	switch c.Backend {
	case BackendLocal:
		if present("cluster.kubernetes") {
			errs = append(errs, at("cluster.kubernetes", "applies only to the kubernetes backend (cluster.backend: kubernetes)"))
		}
		if err := cluster.CheckDistributionName(c.Distribution); err != nil {
			errs = append(errs, at("cluster.distribution", "%v", err))
		}
		check(c.TickTime >= 10*time.Millisecond, "cluster.tick-time", "must be at least 10ms, got %s", c.TickTime)
		check(c.TickTime <= local.DefaultMaxSessionTimeout/2, "cluster.tick-time",
			"must be at most %s (a session lasts at least two ticks and at most the servers' maxSessionTimeout, %s), got %s",
			local.DefaultMaxSessionTimeout/2, local.DefaultMaxSessionTimeout, c.TickTime)
		check(c.TickTime%time.Millisecond == 0, "cluster.tick-time", "must be a whole number of milliseconds, got %s", c.TickTime)
		for _, f := range c.JVMFlags {
			check(strings.HasPrefix(f, "-") && strings.TrimSpace(f) == f, "cluster.jvm-flags",
				"each flag must start with - and carry no surrounding spaces, got %q", f)
		}
	case BackendKubernetes:
		for _, f := range localOnly {
			if present("cluster." + f) {
				errs = append(errs, at("cluster."+f, "does not apply to the kubernetes backend: the StatefulSet configures the servers"))
			}
		}
		validateKubernetes(c.Kubernetes, check, oneOf)
	}

	w := s.Workload
	oneOf(w.Name, "workload.name", knownWorkloads)
	for _, f := range []string{"keys", "read-mode", "mix", "hold"} {
		if present("workload."+f) && slices.Contains(knownWorkloads, w.Name) && !slices.Contains(workloadParams[w.Name], f) {
			errs = append(errs, at("workload."+f, "does not apply to the %s workload", w.Name))
		}
	}
	check(w.Hold >= 0, "workload.hold", "must not be negative, got %s", w.Hold)
	if slices.Contains(workloadParams[w.Name], "keys") {
		check(w.Keys >= 1, "workload.keys", "must be at least 1, got %d", w.Keys)
		check(w.Keys <= maxKeys, "workload.keys", "must be at most %d, got %d", maxKeys, w.Keys)
		check(w.Name != "multi" || w.Keys != 1, "workload.keys",
			"must be at least 2 for the multi workload (a transaction sets two or three keys), got %d", w.Keys)
	}
	check(w.Workers >= 1, "workload.workers", "must be at least 1, got %d", w.Workers)
	check(w.Workers <= maxWorkers, "workload.workers", "must be at most %d (each worker holds a session), got %d", maxWorkers, w.Workers)
	if err := CheckRate(w.Rate); err != nil {
		errs = append(errs, at("workload.rate", "%v", err))
	}
	if slices.Contains(workloadParams[w.Name], "read-mode") {
		oneOf(w.ReadMode, "workload.read-mode", knownReadModes)
	}
	check(w.OpTimeout > 0, "workload.op-timeout", "must be positive, got %s", w.OpTimeout)
	check(w.SessionTimeout >= 2*c.TickTime, "workload.session-timeout",
		"must be at least two tick times (%s), got %s", 2*c.TickTime, w.SessionTimeout)
	maxSession, why := maxSessionTimeout, "the client sends it in 32-bit milliseconds"
	if c.Backend == BackendLocal {
		maxSession, why = local.DefaultMaxSessionTimeout, "the servers' maxSessionTimeout: a longer one is cut to it"
	}
	check(w.SessionTimeout <= maxSession, "workload.session-timeout", "must be at most %s (%s), got %s", maxSession, why, w.SessionTimeout)
	if m := w.Mix; slices.Contains(workloadParams[w.Name], "mix") {
		check(m.Read >= 0 && m.Write >= 0 && m.CAS >= 0, "workload.mix", "weights must not be negative")
		check(max(m.Read, m.Write, m.CAS) <= maxWeight, "workload.mix", "each weight must be at most %g", float64(maxWeight))
		check(m.Read+m.Write+m.CAS > 0, "workload.mix", "at least one weight must be positive")
	}

	n := s.Nemesis
	for i, f := range n.Faults {
		item := fmt.Sprintf("nemesis.faults[%d]", i)
		for _, p := range f.Validate() {
			path := item + "." + p.Field
			if !present(path) {
				path = item // a shorthand, or a default: point at the entry
			}
			errs = append(errs, at(path, "%s", p.Msg))
		}
	}
	for _, p := range nemesis.ValidateScript(n.Script) {
		path := fmt.Sprintf("nemesis.script[%d]", p.Step)
		if p.Field != "" && present(path+"."+p.Field) {
			path += "." + p.Field
		} else if p.Field != "" {
			// A field left out or with a default: name it, point at the step.
			errs = append(errs, at(path, "%s: %s", p.Field, p.Msg))
			continue
		}
		errs = append(errs, at(path, "%s", p.Msg))
	}
	check(len(n.Script) == 0 || len(n.Faults) == 0, "nemesis.script",
		"a scenario has either faults (a seeded schedule) or a script (steps in order), not both")
	oneOf(n.Schedule, "nemesis.schedule", knownSchedules)
	check(n.Warmup >= 0, "nemesis.warmup", "must not be negative, got %s", n.Warmup)
	check(n.Interval > 0, "nemesis.interval", "must be positive, got %s", n.Interval)
	check(n.Duration > 0, "nemesis.duration", "must be positive, got %s", n.Duration)
	if n.Schedule == ScheduleRandom {
		check(n.MaxInterval >= n.Interval, "nemesis.max-interval", "must be at least interval (%s), got %s", n.Interval, n.MaxInterval)
		check(n.MaxDuration >= n.Duration, "nemesis.max-duration", "must be at least duration (%s), got %s", n.Duration, n.MaxDuration)
	}

	check(s.Checker.TimeBudget > 0, "checker.time-budget", "must be positive, got %s", s.Checker.TimeBudget)
	return errs
}

// Bounds of the workload's numbers: far beyond what one machine's ensemble
// serves, and small enough that pacing intervals and weight sums stay exact.
const (
	maxWorkers = 1000
	maxKeys    = 10_000
	maxWeight  = 1e6
	// MinRate and MaxRate bound a workload rate other than 0 (unlimited),
	// in operations per second over all workers.
	MinRate = 0.01
	MaxRate = 1e6
	// maxSessionTimeout bounds a session timeout where no server setting
	// does: go-zookeeper sends it as 32-bit milliseconds.
	maxSessionTimeout = 24 * time.Hour
)

// CheckRate says what is wrong with a workload rate (scenario field
// workload.rate, run flag --rate), or returns nil.
func CheckRate(r float64) error {
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0):
		return fmt.Errorf("must be a finite number, got %g", r)
	case r < 0:
		return fmt.Errorf("must not be negative (0 means unlimited), got %g", r)
	case r > 0 && r < MinRate:
		return fmt.Errorf("must be 0 (unlimited) or at least %g ops/s, got %g", MinRate, r)
	case r > MaxRate:
		return fmt.Errorf("must be at most %g ops/s, got %g", MaxRate, r)
	}
	return nil
}

// CheckTimeLimit says what is wrong with a time limit (scenario field
// time-limit, run flag --time-limit), or returns nil.
func CheckTimeLimit(d time.Duration) error {
	switch {
	case d <= 0:
		return fmt.Errorf("must be positive, got %s", d)
	case d > MaxDuration:
		return fmt.Errorf("must be at most %s, got %s", MaxDuration, d)
	}
	return nil
}

// Marshal renders the resolved scenario as YAML, every default spelled out.
func (s *Scenario) Marshal() ([]byte, error) {
	var doc yaml.Node
	if err := doc.Encode(s); err != nil {
		return nil, fmt.Errorf("encode scenario: %w", err)
	}
	if s.Cluster.Backend != BackendLocal {
		// The local backend's settings would not load again elsewhere.
		dropKeys(mappingValue(&doc, "cluster"), localOnly...)
	}
	b, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("encode scenario: %w", err)
	}
	return b, nil
}

// localOnly are the cluster fields of the local backend alone.
var localOnly = []string{"distribution", "tick-time", "jvm-flags", "force-sync"}

// mappingValue returns the value of key in a mapping node, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; m != nil && i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// dropKeys removes keys and their values from a mapping node.
func dropKeys(m *yaml.Node, keys ...string) {
	if m == nil {
		return
	}
	kept := m.Content[:0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if !slices.Contains(keys, m.Content[i].Value) {
			kept = append(kept, m.Content[i], m.Content[i+1])
		}
	}
	m.Content = kept
}
