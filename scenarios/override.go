package scenarios

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Override sets one field of a scenario from outside its file, as a
// command-line flag does. It is applied to the file's document before
// defaults and validation, so it is held to the rules of the field it sets
// and the defaults derived from that field follow it.
type Override struct {
	// Source names what sets the field, for messages, e.g. "--rate".
	Source string
	// Path is the field's dotted path, as errors name it, e.g.
	// "workload.rate".
	Path string
	// Value is the field's value as the file would spell it, e.g. "50" or
	// "30s".
	Value string
}

// apply sets the override's field in the mapping root, adding the sections
// on its path that the file leaves out, and returns the nodes it wrote, so
// that errors about them name the override's source instead of a line.
func (o Override) apply(root *yaml.Node) ([]*yaml.Node, error) {
	if o.Path == "" {
		return nil, &FieldError{File: o.Source, Msg: "names no field"}
	}
	names := strings.Split(o.Path, ".")
	var wrote []*yaml.Node
	m := root
	for i, name := range names {
		if m.Kind == yaml.AliasNode {
			m = m.Alias
		}
		field := strings.Join(names[:i], ".")
		if m.Kind != yaml.MappingNode {
			where := "the scenario"
			if field != "" {
				where = "field " + field
			}
			return nil, &FieldError{File: o.Source, Field: o.Path, Msg: fmt.Sprintf("cannot be set: %s is not a mapping of fields", where)}
		}
		last := i == len(names)-1
		var value *yaml.Node
		if last {
			value = &yaml.Node{Kind: yaml.ScalarNode, Value: o.Value}
			value.Tag = value.ShortTag() // "30s" a string, "50" a number, as in a file
			wrote = append(wrote, value)
		}
		slot := -1
		for k := 0; k+1 < len(m.Content); k += 2 {
			if m.Content[k].Value == name {
				slot = k + 1
			}
		}
		switch {
		case slot >= 0 && last:
			m.Content[slot] = value
		case slot >= 0:
			m = m.Content[slot]
		default:
			key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name}
			if !last {
				value = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			}
			m.Content = append(m.Content, key, value)
			wrote = append(wrote, key, value)
			m = value
		}
	}
	return wrote, nil
}
