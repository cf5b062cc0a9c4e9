package linearizable

import (
	"fmt"
	"strings"

	"github.com/anishathalye/porcupine"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// nemesisAnnotations draws every fault window of the history
// (fault.Windows) as an annotation from its injection to its heal.
func nemesisAnnotations(ops []history.Op) []porcupine.Annotation {
	var out []porcupine.Annotation
	for _, w := range fault.Windows(ops) {
		desc := w.Name()
		if len(w.Targets) > 0 {
			desc += " " + strings.Join(w.Targets, ",")
		}
		out = append(out, porcupine.Annotation{
			Tag: "nemesis", Start: w.Start, End: w.End, Description: desc, Details: windowDetails(w),
			BackgroundColor: "#f9d3d3",
		})
	}
	return out
}

// windowDetails says what the window's records tell: the action, its span,
// how it ended and what the injection added.
func windowDetails(w fault.Window) string {
	parts := []string{"f " + w.F, fmt.Sprintf("%s-%s ms", checker.Millis(w.Start), checker.Millis(w.End))}
	switch {
	case !w.Applied():
		parts = append(parts, "failed: not applied")
	case !w.Healed:
		parts = append(parts, "in force until the history ends")
	case w.HealF != w.F:
		parts = append(parts, "healed by "+w.HealF)
	}
	if w.Detail != "" {
		parts = append(parts, w.Detail)
	}
	return strings.Join(parts, "; ")
}
