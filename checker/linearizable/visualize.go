package linearizable

import (
	"bytes"
	"fmt"
	"sync/atomic"

	"github.com/anishathalye/porcupine"
	"github.com/zkchaos/zkchaos/checker"
)

// visualize renders Porcupine's page for one key, with the nemesis windows.
func visualize(key string, v checker.Verdict, info porcupine.LinearizationInfo, annotations []porcupine.Annotation) *checker.Visualization {
	info.AddAnnotations(annotations)
	var buf bytes.Buffer
	// A fresh model: the check's model may have been stopped, and
	// Visualize replays the partial linearizations through Step.
	if err := porcupine.Visualize(registerModel(new(atomic.Bool)), info, &buf); err != nil {
		return nil
	}
	return &checker.Visualization{Title: fmt.Sprintf("linearizability of key %s (%s)", key, v), HTML: buf.Bytes()}
}
