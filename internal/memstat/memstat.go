// Package memstat measures the peak memory of a piece of work inside a
// benchmark.
package memstat

import (
	"runtime/metrics"
	"time"
)

// Sample samples the memory the Go runtime holds from the OS (mapped, less
// what it released) every few milliseconds until the returned function is
// called, which returns the peak in bytes.
func Sample() func() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64() - sample[1].Value.Uint64()
	}
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		top := read()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				top = max(top, read())
			case <-done:
				peak <- max(top, read())
				return
			}
		}
	}()
	return func() uint64 {
		close(done)
		return <-peak
	}
}
