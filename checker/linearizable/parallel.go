package linearizable

import (
	"runtime"

	"github.com/zkchaos/zkchaos/internal/guard"
)

// inParallel calls f(0) to f(n-1), as many at once as there are cores, and
// returns when all have returned: keys are judged independently. A panic in
// f is raised again in the caller, once every call has returned, where
// checker.Compose turns it into an unknown result instead of a crash of the
// process.
func inParallel(n int, f func(i int)) {
	work := make(chan int)
	var g guard.Group
	for range min(runtime.GOMAXPROCS(0), n) {
		g.Go("a checker's parallel work", func() {
			for i := range work {
				f(i)
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	g.Wait()
}
