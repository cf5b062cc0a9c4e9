package reports

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// bigRun is a judged 100k-record register run, built once for the benchmark.
var bigRun = sync.OnceValue(func() Page {
	ops := registerRun{Records: 100_000, Workers: 50, Keys: 20, Rate: 250, KillEvery: 6 * time.Second, KillFor: 3 * time.Second, Seed: 5}.history()
	return Page{Results: judge(ops, "register-100k"), Ops: ops, ScenarioYAML: "name: register-100k\n"}
})

// BenchmarkWriteHTML100k writes the report of a 100k-record register run:
// 50 workers on 20 keys, fail and info outcomes, a leader kill every 6 s and
// the role observations. It reports the size of report.html as "bytes".
func BenchmarkWriteHTML100k(b *testing.B) {
	p := bigRun()
	dir := b.TempDir()
	for b.Loop() {
		if err := WriteHTML(dir, p); err != nil {
			b.Fatal(err)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, ReportFile))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fi.Size()), "bytes")
}
