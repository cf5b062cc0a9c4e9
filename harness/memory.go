package harness

import "syscall"

// peakRSS returns the harness process's peak resident set size in bytes so
// far, or 0 when the system cannot tell. Servers are other processes and do
// not count.
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024 // kilobytes on Linux
}
