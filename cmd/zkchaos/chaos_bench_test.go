package main

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster/local"
	"github.com/zkchaos/zkchaos/cluster/local/localtest"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/reports"
)

// chaosTrials is how many runs BenchmarkHarnessChaos stops per iteration.
const chaosTrials = 20

// BenchmarkHarnessChaos stops real runs of the chaos scenario at random
// moments (before the ensemble is up, while faults are in force, while
// judging) with SIGKILL, SIGINT, SIGHUP or two SIGINTs, runs `zkchaos heal`
// after each, and requires that no ZooKeeper process, no proxy listener of
// the harness and no libfaketime file is left, that the history reads, and
// that a handled signal ends the harness with an exit code, never by the
// signal itself.
// Run it once: go test -run '^$' -bench HarnessChaos -benchtime 1x ./cmd/zkchaos/
func BenchmarkHarnessChaos(b *testing.B) {
	localtest.RequireZooKeeper(b)
	if _, err := local.FindFaketime(); err != nil {
		b.Skip(err.Error())
	}
	stops := []struct {
		name string
		sigs []syscall.Signal
	}{
		{"SIGKILL", []syscall.Signal{syscall.SIGKILL}},
		{"SIGINT", []syscall.Signal{syscall.SIGINT}},
		{"SIGHUP", []syscall.Signal{syscall.SIGHUP}},
		{"SIGINT twice", []syscall.Signal{syscall.SIGINT, syscall.SIGINT}},
	}
	rng := rand.New(rand.NewPCG(16, 3))
	// Benchmarks keep ten lines of log: one per way of stopping.
	outcomes := map[string][]string{}
	var healed, shmRemoved, proxies, histories, results int
	var took time.Duration
	for range b.N {
		for i := range chaosTrials {
			stop := stops[i%len(stops)]
			at := time.Duration(rng.Int64N(int64(14 * time.Second)))
			r := startRun(b, chaosScenario, "harness-chaos")
			sleepUnlessExited(r, at)
			ports := listeningPorts(b, r.cmd.Process.Pid)
			proxies += len(ports)
			for j, sig := range stop.sigs {
				if j > 0 {
					time.Sleep(2 * time.Millisecond)
				}
				if err := r.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
					require.NoError(b, err)
				}
			}
			code := r.exitCode(b)
			if stop.sigs[0] != syscall.SIGKILL {
				require.NotEqual(b, -1, code, "trial %d: %s at %s is handled, never death by signal: %s", i, stop.name, at, r.stderr)
			}
			start := time.Now()
			healCode, healOut, healErr := zkchaos(b, "heal", "--out", r.out)
			took += time.Since(start)
			require.Equal(b, exitValid, healCode, "trial %d (%s at %s): heal: %s%s", i, stop.name, at, healOut, healErr)
			healed += strings.Count(healOut, "stopped")
			shmRemoved += strings.Count(healOut, "libfaketime file")

			dir := r.runDir(b)
			outcomes[stop.name] = append(outcomes[stop.name], fmt.Sprintf("%.1fs: exit %d, heal %s", at.Seconds(), code, healSummary(healOut)))
			if dir == "" {
				continue // stopped before the run directory existed
			}
			requireNothingLeft(b, dir)
			still := listeningPorts(b, 0)
			for p := range ports {
				require.False(b, still[p], "trial %d: the harness's listener on port %d outlived it", i, p)
			}
			if _, err := os.Stat(filepath.Join(dir, history.FileName)); err == nil {
				_, err := history.ReadFile(filepath.Join(dir, history.FileName))
				require.NoError(b, err, "trial %d: the history must stay readable", i)
				histories++
			}
			if _, err := reports.ReadResults(dir); err == nil {
				results++
			}
		}
	}
	for _, stop := range stops {
		b.Logf("%s: %s", stop.name, strings.Join(outcomes[stop.name], "; "))
	}
	trials := float64(b.N * chaosTrials)
	b.ReportMetric(float64(histories)/trials, "histories/trial")
	b.ReportMetric(float64(results)/trials, "results/trial")
	b.ReportMetric(float64(shmRemoved)/trials, "shm-healed/trial")
	b.ReportMetric(float64(healed)/trials, "servers-healed/trial")
	b.ReportMetric(float64(proxies)/trials, "listeners-seen/trial")
	b.ReportMetric(took.Seconds()/trials, "heal-s/trial")
}

// sleepUnlessExited waits d, or less when the run ends first.
func sleepUnlessExited(r *startedRun, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && r.cmd.Process.Signal(syscall.Signal(0)) == nil {
		time.Sleep(20 * time.Millisecond)
	}
}

// healSummary shortens heal's output to what it did.
func healSummary(out string) string {
	var did []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if _, what, ok := strings.Cut(line, ": "); ok {
			line = what
		}
		did = append(did, line)
	}
	return strings.Join(did, ", ")
}

// listeningPorts returns the TCP ports in LISTEN state: those whose socket
// process pid holds, or all of them when pid is 0.
func listeningPorts(tb testing.TB, pid int) map[int]bool {
	tb.Helper()
	var mine map[string]bool
	if pid != 0 {
		mine = map[string]bool{}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)) // gone: nothing held
		for _, fd := range fds {
			link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
			if inode, ok := strings.CutPrefix(link, "socket:["); ok && err == nil {
				mine[strings.TrimSuffix(inode, "]")] = true
			}
		}
	}
	ports := map[int]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue // no IPv6
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st ... uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" || (mine != nil && !mine[fields[9]]) {
				continue
			}
			_, hexPort, _ := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); err == nil {
				ports[int(p)] = true
			}
		}
		f.Close()
	}
	return ports
}
