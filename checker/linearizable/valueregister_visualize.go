package linearizable

import (
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/zkchaos/zkchaos/checker"
)

// drawBudget is what is left of drawTime, shared by the keys of a check.
type drawBudget struct {
	mu   sync.Mutex
	left time.Duration
}

// take reserves up to drawKeyTime, and give returns what was not used.
func (b *drawBudget) take() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := min(b.left, drawKeyTime)
	b.left -= t
	return t
}

func (b *drawBudget) give(t time.Duration) {
	b.mu.Lock()
	b.left += max(t, 0)
	b.mu.Unlock()
}

// visualize draws a key that is not linearizable with Porcupine, when its
// search finishes within the drawing budget (the verdict does not depend
// on it). Only operations invoked up to until are drawn: a violation on the
// face of the history is already one in the prefix that ends with it.
func (v ValueRegister) visualize(k *valueKey, until int64, deadline time.Time, budget *drawBudget) *checker.Visualization {
	if !v.Draw {
		return nil
	}
	sub := &valueKey{key: k.key}
	for i, op := range k.ops {
		if op.Call <= until {
			sub.ops, sub.calls = append(sub.ops, op), append(sub.calls, k.calls[i])
		}
	}
	if len(sub.ops) > confirmMaxOps {
		return nil
	}
	granted := budget.take()
	timeout := min(granted, time.Until(deadline))
	if timeout <= 0 {
		budget.give(granted)
		return nil
	}
	start := time.Now()
	model := v.porcupineModel()
	res, info := porcupine.CheckOperationsVerbose(model, v.porcupineOps(sub), timeout)
	budget.give(granted - time.Since(start))
	if res != porcupine.Illegal {
		return nil
	}
	var buf strings.Builder
	if err := porcupine.Visualize(model, info, &buf); err != nil {
		return nil
	}
	title := "the register (not linearizable)"
	if k.key != "" {
		title = "key " + k.key + " (not linearizable)"
	}
	return &checker.Visualization{Title: title, HTML: []byte(buf.String())}
}

// drawTime bounds the time Porcupine spends drawing the keys of one check
// that are not linearizable, and drawKeyTime one key: the verdict never
// waits on a picture.
const (
	drawTime    = 5 * time.Second
	drawKeyTime = time.Second
)
