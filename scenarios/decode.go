package scenarios

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// decoder walks the YAML tree alongside the Go type, so that every unknown
// field and every wrong type is reported with its line and dotted path.
type decoder struct {
	file   string
	root   *yaml.Node
	fields map[string]*yaml.Node // dotted path -> value node, for fields present
	// sources names the override that wrote a node, for nodes no line of
	// the file holds.
	sources map[*yaml.Node]string
	errs    []error
}

// where is the file and line of a node, or the override that wrote it.
func (d *decoder) where(n *yaml.Node) (file string, line int) {
	if src, ok := d.sources[n]; ok {
		return src, 0
	}
	return d.file, n.Line
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	file, line := d.where(n)
	d.errs = append(d.errs, &FieldError{File: file, Line: line, Field: path, Msg: fmt.Sprintf(format, args...)})
}

// full reports whether enough errors were found for joinCapped to cut them
// short: decoding stops there.
func (d *decoder) full() bool { return len(d.errs) > maxErrors }

// at builds a FieldError for validation, at the line of the field or of its
// nearest ancestor the file gives, else at the document's first line.
func (d *decoder) at(path, format string, args ...any) error {
	file, line := d.file, d.root.Line
	for p := path; p != ""; p = p[:max(strings.LastIndexAny(p, ".["), 0)] {
		if n := d.fields[p]; n != nil {
			file, line = d.where(n)
			break
		}
	}
	return &FieldError{File: file, Line: line, Field: path, Msg: fmt.Sprintf(format, args...)}
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
	if v.Type() == reflect.TypeFor[Cluster]() && n.Kind == yaml.MappingNode {
		d.decodeCluster(n, v.Addr().Interface().(*Cluster), path)
		return
	}
	if v.Kind() == reflect.Struct && v.Type().PkgPath() != "time" {
		if n.Kind == yaml.ScalarNode && d.setShorthand(n, v) {
			return
		}
		d.decodeFields(n, path, v)
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
		if yamlName(v.Type().Field(i)) == "name" && v.Field(i).Kind() == reflect.String {
			v.Field(i).SetString(n.Value)
			return true
		}
	}
	return false
}

// decodeFields decodes a mapping into the fields of one or more structs
// (each field goes to the first that has it).
func (d *decoder) decodeFields(n *yaml.Node, path string, targets ...reflect.Value) {
	if n.Kind != yaml.MappingNode {
		where := path
		if where == "" {
			where = "the scenario"
		}
		d.fail(n, path, "%s must be a mapping of fields, got %s", where, describe(n))
		return
	}
	fields := map[string]reflect.Value{}
	var names []string
	for _, v := range targets {
		for i := 0; i < v.NumField(); i++ {
			name := yamlName(v.Type().Field(i))
			if name == "" || fields[name].IsValid() {
				continue
			}
			fields[name] = v.Field(i)
			names = append(names, name)
		}
	}
	for i := 0; i+1 < len(n.Content) && !d.full(); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		child := key.Value
		if path != "" {
			child = path + "." + key.Value
		}
		field, ok := fields[key.Value]
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
		d.decode(val, field, child)
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

// yamlName is the name a struct field has in the file, or "" for a field
// the file does not give.
func yamlName(f reflect.StructField) string {
	name := strings.Split(f.Tag.Get("yaml"), ",")[0]
	if name == "-" {
		return ""
	}
	return name
}
