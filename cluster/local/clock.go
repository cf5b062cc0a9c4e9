package local

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/cluster"
)

// Clock shifts use libfaketime (Debian packages faketime and libfaketime),
// preloaded into every JVM of an ensemble started with Config.Clock. Each
// node reads its shift from its own file, FAKETIME_TIMESTAMP_FILE; with
// FAKETIME_NO_CACHE=1 libfaketime reads that file at every clock call, so a
// running JVM follows a change at once. libfaketime fakes CLOCK_MONOTONIC as
// well as CLOCK_REALTIME, so a shift moves System.nanoTime (every timeout in
// ZooKeeper) and not only timestamps. What was measured on this machine
// (libfaketime 0.9.10, OpenJDK 17, ZooKeeper 3.8.0) is in clock_test.go.

var _ cluster.Clock = (*Ensemble)(nil)

// FaketimeInstallHint says what to install when libfaketime is missing.
const FaketimeInstallHint = `install it with "apt-get install -y faketime libfaketime"`

// faketimeFile is the file in a node's directory that holds its clock shift
// in libfaketime's syntax.
const faketimeFile = "faketime.rc"

// multiarch maps GOARCH to Debian's multiarch directory. The library must
// match the JVM's architecture: the dynamic loader silently ignores a
// preload of the wrong class, which would leave the clock unshifted.
var multiarch = map[string]string{
	"amd64":   "x86_64-linux-gnu",
	"arm64":   "aarch64-linux-gnu",
	"386":     "i386-linux-gnu",
	"arm":     "arm-linux-gnueabihf",
	"ppc64le": "powerpc64le-linux-gnu",
	"riscv64": "riscv64-linux-gnu",
	"s390x":   "s390x-linux-gnu",
}

// faketimeCandidates lists where libfaketime may be, in order of preference.
func faketimeCandidates() []string {
	var out []string
	if dir, ok := multiarch[runtime.GOARCH]; ok {
		out = append(out, filepath.Join("/usr/lib", dir, "faketime", "libfaketime.so.1"))
	}
	return append(out, "/usr/lib/faketime/libfaketime.so.1", "/usr/local/lib/faketime/libfaketime.so.1")
}

// FindFaketime returns the path of libfaketime.so.1 (Debian's multiarch
// location, or a source install's). Its error matches ErrNotFound and says
// what to install.
func FindFaketime() (string, error) { return findFaketimeIn(faketimeCandidates()) }

// findFaketimeIn returns the first regular file among candidates.
func findFaketimeIn(candidates []string) (string, error) {
	for _, path := range candidates {
		if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
			return path, nil
		}
	}
	return "", notFound("libfaketime (needed to shift node clocks) not found at %s: %s",
		strings.Join(candidates, ", "), FaketimeInstallHint)
}

// clocks is the clock state of an ensemble started with Config.Clock. The
// map is guarded by Ensemble.mu.
type clocks struct {
	// lib is the path of libfaketime.so.1.
	lib string
	// shifts holds the shift of every node whose clock is not real time.
	shifts map[string]clockSetting
}

// clockSetting is a node's clock shift and when it was applied.
type clockSetting struct {
	shift cluster.ClockShift
	at    time.Time
}

// rate returns the setting's rate, 1 for the zero value.
func (s clockSetting) rate() float64 {
	if s.shift.Rate == 0 {
		return 1
	}
	return s.shift.Rate
}

// skewAt returns how far the node's clock is ahead of real time at t.
func (s clockSetting) skewAt(t time.Time) time.Duration {
	return s.shift.Offset + time.Duration((s.rate()-1)*float64(t.Sub(s.at)))
}

// newClocks returns the clock state for an ensemble started with cfg: nil
// when cfg.Clock is off.
func newClocks(cfg Config) (*clocks, error) {
	if !cfg.Clock {
		return nil, nil
	}
	lib, err := FindFaketime()
	if err != nil {
		return nil, fmt.Errorf("config: Clock is on: %w", err)
	}
	if v, ok := os.LookupEnv("FAKETIME"); ok {
		// libfaketime prefers the variable to the file: shifts would be
		// silently ignored.
		return nil, fmt.Errorf("config: Clock is on but the environment sets FAKETIME=%q, "+
			"which libfaketime would obey instead of each node's %s: unset it", v, faketimeFile)
	}
	return &clocks{lib: lib, shifts: map[string]clockSetting{}}, nil
}

// ClockNote says, for the records of clock faults, that libfaketime moves
// the JVM's monotonic clock too.
func (e *Ensemble) ClockNote() string { return "the JVM's monotonic clock moves too" }

// errNoClock says why SetClock and ResetClock fail without Config.Clock.
var errNoClock = errors.New("the ensemble was started without Config.Clock, so its clocks cannot be shifted " +
	"(start it with Clock: true, which needs libfaketime)")

// SetClock shifts the node's clock: from now on it reads real time plus
// shift.Offset, and it runs shift.Rate times as fast as real time (a rate of
// 0 means 1). The running server sees the change at once, both its wall
// clock and its monotonic clock; a server started later (a restart) keeps
// the skew it had reached and the rate. With a rate other than 1 the offset
// is exact only to within the JVM's start-up time times (rate-1):
// libfaketime measures rates from the moment the process loaded it.
func (e *Ensemble) SetClock(_ context.Context, target cluster.Node, shift cluster.ClockShift) error {
	n, err := e.lookup(target)
	if err != nil {
		return fmt.Errorf("set clock: %w", err)
	}
	if e.clock == nil {
		return fmt.Errorf("set clock of %s: %w", n.Name, errNoClock)
	}
	if r := shift.Rate; r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
		return fmt.Errorf("set clock of %s: rate %v: want a finite number above 0 (or 0 for 1)", n.Name, r)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("set clock of %s: the ensemble is closed", n.Name)
	}
	set := clockSetting{shift: shift, at: time.Now()}
	spec, err := e.writeClockLocked(n, set)
	if err != nil {
		return fmt.Errorf("set clock of %s: %w", n.Name, err)
	}
	if shift == (cluster.ClockShift{}) {
		delete(e.clock.shifts, n.Name)
	} else {
		e.clock.shifts[n.Name] = set
	}
	e.log.Info("ZooKeeper node clock shifted", "node", n.Name, "offset", shift.Offset, "rate", set.rate(),
		"faketime", spec)
	return nil
}

// ResetClock puts the node's clock back to real time, at once.
func (e *Ensemble) ResetClock(ctx context.Context, target cluster.Node) error {
	if err := e.SetClock(ctx, target, cluster.ClockShift{}); err != nil {
		return fmt.Errorf("reset clock: %w", err)
	}
	return nil
}

// writeClockLocked writes the faketime file that gives node n the clock of
// set from set.at on, and returns the spec it wrote; e.mu must be held.
// libfaketime computes fake = start + offset + (now - start) * rate, where
// start is when the process loaded it, so the offset written makes up for
// the time the process already ran at the new rate.
func (e *Ensemble) writeClockLocked(n *node, set clockSetting) (string, error) {
	offset := set.shift.Offset
	if p := n.proc; p != nil && !p.exited() {
		offset -= time.Duration((set.rate() - 1) * float64(set.at.Sub(p.started)))
	}
	spec := faketimeSpec(offset, set.rate())
	if err := writeFileAtomic(filepath.Join(n.dir, faketimeFile), spec+"\n"); err != nil {
		return spec, err
	}
	return spec, nil
}

// clockEnvLocked returns env plus what makes the process about to start for
// node n run on the node's shifted clock, after writing the node's faketime
// file for that process; e.mu must be held. It returns env unchanged when
// the ensemble has no clock control.
func (e *Ensemble) clockEnvLocked(n *node, env []string) ([]string, error) {
	if e.clock == nil {
		return env, nil
	}
	now := time.Now()
	set, ok := e.clock.shifts[n.Name]
	if ok {
		// The new process starts its rate from its own start: carry over the
		// skew reached so far as its offset.
		set = clockSetting{shift: cluster.ClockShift{Offset: set.skewAt(now), Rate: set.shift.Rate}, at: now}
		e.clock.shifts[n.Name] = set
	}
	if p := n.proc; p != nil && !p.exited() {
		return nil, fmt.Errorf("clock of %s: the node's previous process %d still runs", n.Name, p.pid)
	}
	if _, err := e.writeClockLocked(n, set); err != nil {
		return nil, fmt.Errorf("clock of %s: %w", n.Name, err)
	}
	preload := e.clock.lib
	if old := lastEnv(env, "LD_PRELOAD"); old != "" {
		preload += ":" + old
	} else if old := os.Getenv("LD_PRELOAD"); old != "" {
		preload += ":" + old
	}
	return append(env,
		"LD_PRELOAD="+preload,
		"FAKETIME_TIMESTAMP_FILE="+filepath.Join(n.dir, faketimeFile),
		// Read the file at every clock call, not every 10 s.
		"FAKETIME_NO_CACHE=1",
		// libfaketime parses fractions with atof after the JVM set its
		// locale from the environment: make the decimal point a point.
		"LC_NUMERIC=C",
	), nil
}

// clockExited removes what libfaketime leaves in /dev/shm when the process
// that loaded it is killed: a semaphore and a shared memory object named by
// its pid, which its exit handler removes on a clean exit only. The process
// has been reaped, so the names are not in use.
func (e *Ensemble) clockExited(p *process) {
	if e.clock == nil {
		return
	}
	for _, f := range faketimeFiles(p.pid) {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			e.log.Debug("cannot remove libfaketime's shared memory", "pid", p.pid, "err", err)
		}
	}
}

// faketimeFiles names the semaphore and the shared memory object libfaketime
// creates in /dev/shm for the process pid.
func faketimeFiles(pid int) []string {
	return []string{fmt.Sprintf("/dev/shm/faketime_shm_%d", pid), fmt.Sprintf("/dev/shm/sem.faketime_sem_%d", pid)}
}

// faketimeSpec renders an offset and a rate in libfaketime's syntax (the
// FAKETIME variable's, which the file holds): a signed number of seconds,
// with a decimal point for fractions, then "x" and the rate: "+30 x1",
// "-10 x1", "+1.5 x2", "+0 x1" (real time). The rate is always written: a
// spec without one keeps the rate of the spec read before it (measured with
// libfaketime 0.9.10), so "+0" alone would not undo a rate.
func faketimeSpec(offset time.Duration, rate float64) string {
	sign := "+"
	abs := uint64(offset)
	if offset < 0 {
		sign = "-"
		abs = uint64(-offset) // also right for math.MinInt64, as unsigned
	}
	secs := strconv.FormatUint(abs/uint64(time.Second), 10)
	if frac := abs % uint64(time.Second); frac != 0 {
		secs += "." + strings.TrimRight(fmt.Sprintf("%09d", frac), "0")
	}
	return sign + secs + " x" + strconv.FormatFloat(rate, 'f', -1, 64)
}

// lastEnv returns the value of the last KEY=VALUE entry for key in env.
func lastEnv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// writeFileAtomic replaces the file at path with content through a
// temporary file and a rename, so that a reader sees the old content or the
// new one, never a part.
func writeFileAtomic(path, content string) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := f.WriteString(content)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
