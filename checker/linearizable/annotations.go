package linearizable

import (
	"fmt"
	"sort"
	"strings"

	"github.com/anishathalye/porcupine"
	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// nemesisAnnotations turns nemesis records into annotations: an invoke and
// the next completion of the same f make a window, anything else a point.
func nemesisAnnotations(ops []history.Op) []porcupine.Annotation {
	var out []porcupine.Annotation
	open := map[string]history.Op{}
	point := func(op history.Op) {
		out = append(out, porcupine.Annotation{
			Tag: "nemesis", Start: op.Time, End: op.Time, Description: faultName(op), Details: faultDetails(op, nil),
			BackgroundColor: "#f9d3d3",
		})
	}
	for _, op := range ops {
		if !op.IsNemesis() {
			continue
		}
		if op.Type == history.Invoke {
			if prev, ok := open[op.F]; ok {
				point(prev)
			}
			open[op.F] = op
			continue
		}
		inv, ok := open[op.F]
		if !ok {
			point(op)
			continue
		}
		delete(open, op.F)
		out = append(out, porcupine.Annotation{
			Tag: "nemesis", Start: inv.Time, End: op.Time,
			Description: faultName(op), Details: faultDetails(op, &inv), BackgroundColor: "#f9d3d3",
		})
	}
	// Invocations never completed (the run ended during a fault), in time order.
	rest := make([]history.Op, 0, len(open))
	for _, op := range open {
		rest = append(rest, op)
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].Index < rest[j].Index })
	for _, op := range rest {
		point(op)
	}
	return out
}

func faultName(op history.Op) string {
	name := op.F
	if op.Fault != nil && op.Fault.Name != "" {
		name = op.Fault.Name
	}
	if op.Fault != nil && len(op.Fault.Targets) > 0 {
		name += " " + strings.Join(op.Fault.Targets, ",")
	}
	return name
}

func faultDetails(op history.Op, inv *history.Op) string {
	parts := []string{"f " + op.F}
	if inv != nil {
		parts = append(parts, fmt.Sprintf("%s-%s ms", checker.Millis(inv.Time), checker.Millis(op.Time)))
	} else {
		parts = append(parts, fmt.Sprintf("%s at %s ms", op.Type, checker.Millis(op.Time)))
	}
	if op.Fault != nil && op.Fault.Detail != "" {
		parts = append(parts, op.Fault.Detail)
	}
	if op.Error != "" {
		parts = append(parts, "error: "+op.Error)
	}
	return strings.Join(parts, "; ")
}
