package recovery

import (
	"fmt"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/checker"
)

// Evidence lists why the ensemble was not healthy after the final heal, and
// every fault window never seen recovered, each as the span of the window.
func (d Details) Evidence() []checker.Anomaly {
	var out []checker.Anomaly
	if d.FinalError != "" {
		a := checker.Anomaly{Kind: "not healthy after the final heal",
			Text: "the ensemble did not recover after every fault was healed: " + d.FinalError}
		if n := len(d.Windows); n > 0 {
			last := d.Windows[n-1]
			a.Ops = []checker.OpRef{checker.Span("last fault", int64(last.Start), int64(max(last.Healed, last.Start)))}
		}
		out = append(out, a)
	}
	for _, w := range d.Windows {
		if w.Recovered {
			continue
		}
		on := ""
		if len(w.Targets) > 0 {
			on = " on " + strings.Join(w.Targets, ", ")
		}
		when := fmt.Sprintf("from %s, never healed", w.Start.Round(time.Millisecond))
		if w.Healed > 0 {
			when = fmt.Sprintf("from %s, healed at %s", w.Start.Round(time.Millisecond), w.Healed.Round(time.Millisecond))
		}
		out = append(out, checker.Anomaly{
			Kind: "not recovered", Key: w.Fault,
			Text: fmt.Sprintf("%s%s (%s) was not seen recovered, every node serving with one leader, before the next fault or the end of the run",
				w.Fault, on, when),
			Facts: []checker.Fact{{Name: "leader before", Value: w.LeaderBefore}, {Name: "new leader", Value: w.NewLeader}},
			Ops:   []checker.OpRef{checker.Span("fault window", int64(w.Start), int64(max(w.Healed, w.Start)))},
		})
	}
	return out
}
