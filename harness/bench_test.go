package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/history/gen"
	"github.com/zkchaos/zkchaos/internal/histtest"
	"github.com/zkchaos/zkchaos/internal/memstat"
)

// BenchmarkJudge1M judges a run directory holding a generated register
// history of 1M calls over 100 keys at full speed (7 minutes of run, 2M
// records, about 230 MB of JSONL), as
// `zkchaos check` does after a long run, in a process of its own: read the
// history, run every checker of the register workload, write results.json
// and report.html. It reports the peak of the memory the Go runtime holds
// while judging as peak-MB, the process's peak resident memory as
// peak-RSS-MB, and the seconds the judgement took.
//
//	go test -run x -bench 'Judge1M$' -benchtime 1x -count 5 ./harness/
func BenchmarkJudge1M(b *testing.B) { benchmarkJudge(b, 1_000_000) }

// BenchmarkJudge1MOnFiveKeys is BenchmarkJudge1M over 5 keys, as the
// Kubernetes scenarios of deploy/ run the register: each key holds a fifth
// of the calls, and judging holds one key at a time. deploy/'s memory
// limits are sized by it.
//
//	go test -run x -bench Judge1MOnFiveKeys -benchtime 1x -count 3 ./harness/
func BenchmarkJudge1MOnFiveKeys(b *testing.B) { benchmarkJudgeKeys(b, 1_000_000, 5) }

// BenchmarkJudgeHour is BenchmarkJudge1M for an hour at full speed: 9M
// calls over 100 keys with a kill every 5 s (18M records spanning about an
// hour, about 2 GB of JSONL). Writing the history takes a few minutes and a
// few GB before the judgement starts.
//
//	go test -run x -bench JudgeHour -benchtime 1x -count 3 -timeout 60m ./harness/
func BenchmarkJudgeHour(b *testing.B) { benchmarkJudge(b, 9_000_000) }

// BenchmarkJudgeMemoryIsFlat judges 1M calls over 64 keys, 4M calls over
// 256 keys (the same share a key, four times the run) and 4M calls over 64
// keys (four times both), each at full speed (7 and 28 minutes of run); up
// to 256 keys, each key's records have a spill file of their own. Judging
// holds one key's records and work at a time, fixed buffers (8 KiB a spill
// file, 1 MiB of zxid owners, the chart's latency slots) and a hundred-odd
// bytes a session: 1M calls over 64 keys took 141-150 MB and 4M over 256
// keys 199-211 MB, the difference being mostly the sessions (the generator
// starts a new one every 80 calls or so) and the buffers of more keys. It
// fails when 4M calls over 256 keys take 1.75 times the resident memory of
// 1M over 64 or more; and, a key four times larger costing more, when 4M
// over 64 keys take three times 1M's or more. It reports the three peaks.
//
//	go test -run x -bench JudgeMemoryIsFlat -benchtime 1x -timeout 30m ./harness/
func BenchmarkJudgeMemoryIsFlat(b *testing.B) {
	short, longer, larger := b.TempDir(), b.TempDir(), b.TempDir()
	writeGeneratedRun(b, short, fullSpeed(1_000_000, 64))
	writeGeneratedRun(b, longer, fullSpeed(4_000_000, 256))
	writeGeneratedRun(b, larger, fullSpeed(4_000_000, 64))
	for b.Loop() {
		s, l, k := judgeInChild(b, short), judgeInChild(b, longer), judgeInChild(b, larger)
		b.ReportMetric(s.rssMB, "1M-RSS-MB")
		b.ReportMetric(l.rssMB, "4M-256keys-RSS-MB")
		b.ReportMetric(k.rssMB, "4M-RSS-MB")
		if l.rssMB >= 1.75*s.rssMB {
			b.Errorf("judging 4M calls over 256 keys took %.0f MB, 1M over 64 keys %.0f MB: memory grows with the run's length", l.rssMB, s.rssMB)
		}
		if k.rssMB >= 3*s.rssMB {
			b.Errorf("judging 4M calls over 64 keys took %.0f MB, 1M %.0f MB: memory grows faster than a key's share", k.rssMB, s.rssMB)
		}
	}
}

// TestJudgingMemoryDoesNotGrowWithTheRun is BenchmarkJudgeMemoryIsFlat at
// a tenth of its size, for the suite: 100k calls over 8 keys against 400k
// over 32 (the same share a key). Judged whole, the longer run would take
// four times the memory of the shorter one.
func TestJudgingMemoryDoesNotGrowWithTheRun(t *testing.T) {
	if testing.Short() {
		t.Skip("judges 500k calls")
	}
	t.Parallel()
	short, longer := t.TempDir(), t.TempDir()
	writeGeneratedRun(t, short, fullSpeed(100_000, 8))
	writeGeneratedRun(t, longer, fullSpeed(400_000, 32))
	s, l := judgeInChild(t, short), judgeInChild(t, longer)
	t.Logf("peak RSS: %.0f MB for 100k calls, %.0f MB for 400k", s.rssMB, l.rssMB)
	assert.Less(t, l.rssMB, 1.5*s.rssMB, "judging 400k calls over 32 keys against 100k over 8")
}

// BenchmarkCheckEDN judges a Jepsen history of 1.3M register calls over
// 100 keys (a generated run at full speed exported by `zkchaos export
// --edn`, about 190 MB of history.edn) as `zkchaos check --edn` does, in a
// process of its own, and reports as BenchmarkJudge1M does.
//
//	go test -run x -bench CheckEDN -benchtime 1x -count 3 ./harness/
func BenchmarkCheckEDN(b *testing.B) {
	dir := b.TempDir()
	writeGeneratedRun(b, dir, fullSpeed(1_300_000, 100))
	path := filepath.Join(dir, "history.edn")
	require.NoError(b, ExportEDN(dir, path))
	info, err := os.Stat(path)
	require.NoError(b, err)
	runtime.GC()
	debug.FreeOSMemory()
	for b.Loop() {
		m := childJudgement(b, judgeEDNEnv+"="+path)
		b.ReportMetric(float64(info.Size())/1e6, "history-MB")
		b.ReportMetric(m.goMB, "peak-MB")
		b.ReportMetric(m.rssMB, "peak-RSS-MB")
		b.ReportMetric(m.seconds, "seconds")
	}
}

func benchmarkJudge(b *testing.B, calls int) { benchmarkJudgeKeys(b, calls, 100) }

func benchmarkJudgeKeys(b *testing.B, calls, keys int) {
	dir := b.TempDir()
	writeGeneratedRun(b, dir, fullSpeed(calls, keys))
	for b.Loop() {
		m := judgeInChild(b, dir)
		b.ReportMetric(m.goMB, "peak-MB")
		b.ReportMetric(m.rssMB, "peak-RSS-MB")
		b.ReportMetric(m.seconds, "seconds")
	}
}

// fullSpeed is a generated register run of calls over keys at the pace of
// a real run at full speed: 50 processes whose calls take 10 ms on average
// (5 ms to their effect, 5 to return), about 2,400 calls a second, so 1M
// calls span 7 minutes and 9M about an hour, with a kill every 5 s.
func fullSpeed(calls, keys int) gen.Config {
	return gen.Config{Seed: 1, Calls: calls, Keys: keys, Latency: 5 * time.Millisecond}
}

// judged is what a judgement in a process of its own measured.
type judged struct {
	goMB, rssMB, seconds float64
}

// judgeDirEnv names the run directory that TestJudgeInChild judges, and
// judgeEDNEnv the Jepsen history it judges as a cas register.
const (
	judgeDirEnv = "ZKCHAOS_JUDGE_DIR"
	judgeEDNEnv = "ZKCHAOS_JUDGE_EDN"
)

// judgeInChild judges dir in a new process running TestJudgeInChild, so
// that the peak resident memory is the judgement's alone.
func judgeInChild(b testing.TB, dir string) judged { return childJudgement(b, judgeDirEnv+"="+dir) }

// childJudgement runs TestJudgeInChild in a new process with env set, and
// returns what it measured.
func childJudgement(b testing.TB, env string) judged {
	cmd := exec.Command(os.Args[0], "-test.run=^TestJudgeInChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), env)
	out, err := cmd.CombinedOutput()
	require.NoError(b, err, "%s", out)
	var m judged
	var goBytes, rssKB int64
	var verdict string
	_, err = fmt.Sscanf(lastLine(string(out), "judged "), "judged %s in %g s, peak-go-bytes %d, peak-rss-kB %d",
		&verdict, &m.seconds, &goBytes, &rssKB)
	require.NoError(b, err, "%s", out)
	require.Equal(b, string(checker.Valid), verdict, "%s", out)
	m.goMB, m.rssMB = float64(goBytes)/1e6, float64(rssKB)*1024/1e6
	return m
}

// lastLine returns the last line of out that starts with prefix.
func lastLine(out, prefix string) string {
	line := ""
	for l := range strings.Lines(out) {
		if strings.HasPrefix(l, prefix) {
			line = strings.TrimSpace(l)
		}
	}
	return line
}

// TestJudgeInChild judges the run directory judgeDirEnv names, as `zkchaos
// check` does, or the Jepsen history judgeEDNEnv names, as `zkchaos check
// --edn` does, for childJudgement; without either there is nothing to do.
func TestJudgeInChild(t *testing.T) {
	dir, edn := os.Getenv(judgeDirEnv), os.Getenv(judgeEDNEnv)
	if dir == "" && edn == "" {
		t.Skip("the process of a judging benchmark")
	}
	start := time.Now()
	stop := memstat.Sample()
	var verdict checker.Verdict
	if edn != "" {
		r, err := CheckEDN(context.Background(), EDNCheck{Path: edn, Model: "cas-register"})
		require.NoError(t, err)
		verdict = r.Verdict
	} else {
		res, err := Check(context.Background(), dir)
		require.NoError(t, err)
		verdict = res.Check.Children[0].Verdict
	}
	peak := stop()
	seconds := time.Since(start).Seconds()
	// The process's own high-water mark: getrusage's would count the
	// benchmark process it was started from, whose memory it shared until
	// it ran this binary.
	status, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	var rssKB int64
	for l := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			_, err := fmt.Sscanf(v, "%d kB", &rssKB)
			require.NoError(t, err)
		}
	}
	fmt.Printf("judged %s in %g s, peak-go-bytes %d, peak-rss-kB %d\n", verdict, seconds, peak, rssKB)
}

// writeGeneratedRun writes a run directory with a generated register
// history, each record at the time the generator gave it, and a scenario
// that judges it, then returns the generator's memory to the system.
func writeGeneratedRun(b testing.TB, dir string, cfg gen.Config) {
	histtest.Write(b, filepath.Join(dir, history.FileName), gen.Register(cfg))
	scenario := fmt.Sprintf("name: generated\nworkload:\n  name: register\n  keys: %d\n  rate: 0\n", cfg.Keys)
	require.NoError(b, os.WriteFile(filepath.Join(dir, ScenarioFile), []byte(scenario), 0o644))
	runtime.GC()
	debug.FreeOSMemory()
}
