package scenarios

import (
	"fmt"
	"reflect"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/zkchaos/zkchaos/cluster"
)

// MarshalYAML renders the cluster section as files spell it: backend and
// nodes, the backend's settings, start-timeout, then the backend's own
// sub-sections (mappings such as kubernetes:).
func (c Cluster) MarshalYAML() (any, error) {
	type plain Cluster // without this method
	var n yaml.Node
	if err := n.Encode(plain(c)); err != nil {
		return nil, fmt.Errorf("encode cluster: %w", err)
	}
	if c.Section == nil {
		return &n, nil
	}
	var sec yaml.Node
	if err := sec.Encode(c.Section); err != nil {
		return nil, fmt.Errorf("encode cluster settings of the %s backend: %w", c.Backend, err)
	}
	var flat, nested []*yaml.Node
	for i := 0; i+1 < len(sec.Content); i += 2 {
		if sec.Content[i+1].Kind == yaml.MappingNode {
			nested = append(nested, sec.Content[i], sec.Content[i+1])
		} else {
			flat = append(flat, sec.Content[i], sec.Content[i+1])
		}
	}
	at := len(n.Content)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "start-timeout" {
			at = i
		}
	}
	n.Content = slices.Concat(n.Content[:at], flat, n.Content[at:], nested)
	return &n, nil
}

// decodeCluster decodes the cluster section: its own fields, and the
// fields of the backend it names into that backend's section. The fields
// of other backends are decoded too, so that their values are checked as
// strictly, and validate refuses them.
func (d *decoder) decodeCluster(n *yaml.Node, c *Cluster, path string) {
	name := cluster.DefaultBackend
	if b := mappingValue(n, "backend"); b != nil {
		if b.Kind == yaml.AliasNode {
			b = b.Alias
		}
		name = b.Value
	}
	targets := []reflect.Value{reflect.ValueOf(c).Elem()}
	if b, err := cluster.Lookup(name); err == nil {
		c.Section = b.NewSection()
		targets = append(targets, reflect.ValueOf(c.Section).Elem())
	}
	for _, b := range cluster.Backends() {
		if b.Name() != name {
			targets = append(targets, reflect.ValueOf(b.NewSection()).Elem())
		}
	}
	d.decodeFields(n, path, targets...)
}

// mappingValue returns the value of key in a mapping node, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; m != nil && m.Kind == yaml.MappingNode && i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// defaultCluster fills the cluster fields the file left out, the backend's
// settings by the backend. An unknown backend gets none: validate says so.
func (c *Cluster) defaultCluster(present func(path string) bool) {
	cluster.SetDefault(present, &c.Backend, "cluster.backend", cluster.DefaultBackend)
	cluster.SetDefault(present, &c.Nodes, "cluster.nodes", 3)
	b, err := cluster.Lookup(c.Backend)
	if err != nil {
		return
	}
	cluster.SetDefault(present, &c.StartTimeout, "cluster.start-timeout", b.DefaultStartTimeout())
	if c.Section == nil {
		c.Section = b.NewSection()
	}
	c.Section.Defaults(func(p string) bool { return present("cluster." + p) })
}

// validateCluster checks the cluster section with validate's check.
func (c *Cluster) validateCluster(check cluster.Check, present func(path string) bool) {
	check.OneOf(c.Backend, "cluster.backend", cluster.BackendNames())
	check(c.Nodes >= 1 && c.Nodes <= 9, "cluster.nodes", "must be between 1 and 9, got %d", c.Nodes)
	if c.Section == nil {
		return
	}
	check(c.StartTimeout > 0, "cluster.start-timeout", "must be positive, got %s", c.StartTimeout)
	own := fieldNames(reflect.ValueOf(c.Section).Elem())
	for _, b := range cluster.Backends() {
		for _, f := range fieldNames(reflect.ValueOf(b.NewSection()).Elem()) {
			if b.Name() == c.Backend || slices.Contains(own, f) || !present("cluster."+f) {
				continue
			}
			msg := fmt.Sprintf("applies only to the %s backend (cluster.backend: %s)", b.Name(), b.Name())
			if r, ok := c.Section.(cluster.Refuser); ok {
				msg = fmt.Sprintf("does not apply to the %s backend: %s", c.Backend, r.Refusal())
			}
			check(false, "cluster."+f, "%s", msg)
		}
	}
	c.Section.Validate(func(ok bool, path, format string, args ...any) {
		check(ok, "cluster."+path, format, args...)
	})
}

// sessionBounds are the session timeouts the cluster's servers grant, or
// that the client can ask for where the backend knows no bound.
func (c *Cluster) sessionBounds() cluster.SessionBounds {
	b := cluster.SessionBounds{Max: maxSessionTimeout, MaxWhy: "the client sends it in 32-bit milliseconds"}
	if c.Section == nil {
		return b
	}
	s := c.Section.SessionTimeouts()
	if s.MinWhy != "" {
		b.Min, b.MinWhy = s.Min, s.MinWhy
	}
	if s.Max != 0 {
		b.Max, b.MaxWhy = s.Max, s.MaxWhy
	}
	return b
}

// fieldNames returns the yaml names of a struct's fields, in order.
func fieldNames(v reflect.Value) []string {
	var names []string
	for i := 0; i < v.NumField(); i++ {
		if name := yamlName(v.Type().Field(i)); name != "" {
			names = append(names, name)
		}
	}
	return names
}
