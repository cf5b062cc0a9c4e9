package linearizable

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/history/gen"
	"github.com/zkchaos/zkchaos/internal/memstat"
)

// Benchmarks of the linearizability checker on generated register histories
// (50 processes, faults, indeterminate and crashed calls). Each reports the
// peak of the memory the Go runtime holds during the check, history
// included, as peak-MB.
//
//	go test -run x -bench Linearizable -benchtime 1x -count 5 ./checker/linearizable/
//
// BenchmarkLinearizableSideBySide measures the version order against
// Porcupine alone on the same history, in one run, for the speed-up. It
// uses 50k calls: Porcupine's time grows much faster than the history
// (one run on the 100k history above took 171 s).

// lastHistory keeps the history generated last, for the repeated runs of
// one benchmark; only one is kept, so that it alone counts in peak-MB.
var lastHistory struct {
	sync.Mutex
	cfg gen.Config
	ops []history.Op
}

func generated(cfg gen.Config) []history.Op {
	lastHistory.Lock()
	defer lastHistory.Unlock()
	if lastHistory.ops == nil || lastHistory.cfg != cfg {
		lastHistory.ops = nil // let the old one go before making the new one
		lastHistory.cfg, lastHistory.ops = cfg, gen.Register(cfg)
	}
	return lastHistory.ops
}

func BenchmarkLinearizable(b *testing.B) {
	for _, size := range []struct{ calls, keys int }{{100_000, 20}, {1_000_000, 100}} {
		for _, anomaly := range append([]gen.Anomaly{gen.None}, gen.Anomalies...) {
			name := fmt.Sprintf("calls=%d/keys=%d/anomaly=%s", size.calls, size.keys, anomaly)
			if anomaly == gen.None {
				name = fmt.Sprintf("calls=%d/keys=%d/valid", size.calls, size.keys)
			}
			b.Run(name, func(b *testing.B) {
				cfg := gen.Config{Seed: 1, Calls: size.calls, Keys: size.keys, Processes: 50, Anomaly: anomaly}
				benchCheck(b, generated(cfg), Checker{ReadMode: ReadQuorum}, anomaly != gen.None)
			})
		}
	}
}

func BenchmarkLinearizableSideBySide(b *testing.B) {
	cfg := gen.Config{Seed: 1, Calls: 50_000, Keys: 20, Processes: 50}
	for _, l := range []Checker{{ReadMode: ReadQuorum}, {ReadMode: ReadQuorum, PorcupineOnly: true}} {
		method := MethodVersionOrder
		if l.PorcupineOnly {
			method = MethodPorcupine
		}
		b.Run("calls=50000/keys=20/"+method, func(b *testing.B) {
			benchCheck(b, generated(cfg), l, false)
		})
	}
}

// benchCheck checks ops b.N times and fails when the verdict is not the one
// the history was generated to have.
func benchCheck(b *testing.B, ops []history.Op, l Checker, wantInvalid bool) {
	want := checker.Valid
	if wantInvalid {
		want = checker.Invalid
	}
	debug.FreeOSMemory() // what earlier benchmarks left must not count
	stop := memstat.Sample()
	b.ResetTimer()
	for range b.N {
		if r := l.Check(context.Background(), ops); r.Verdict != want {
			b.Fatalf("verdict %s, want %s: %s", r.Verdict, want, r.Message)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(stop())/1e6, "peak-MB")
	b.ReportMetric(float64(len(ops)/2), "calls")
}

// Benchmarks of the Jepsen register check on hard histories of one
// register: 300 calls of 10 clients with many crashes (15% of calls end
// :info), and 750 calls with hundreds of failed cas; each valid, with a
// planted stale read, and with a planted pair of concurrent cas that both
// succeed from the same value (which no check on the face of the history
// sees). Each iteration judges the same five histories (seeds 1-5), with the
// exact search and with Porcupine alone on the same operations, and reports
// ms per history and the share decided within the 10 s budget.
//
//	go test -run x -bench ValueRegisterHard -benchtime 1x -count 5 ./checker/linearizable/
func BenchmarkValueRegisterHard(b *testing.B) {
	shapes := []struct {
		name string
		cfg  gen.JepsenConfig
	}{
		{"crashed-writers/calls=300", gen.JepsenConfig{Calls: 300, Processes: 10, Info: 0.15, Fail: 0.05}},
		{"failed-cas/calls=750", gen.JepsenConfig{Calls: 750, Processes: 10, Reads: 0.3, CAS: 0.6, Info: 0.02, Fail: 0.1}},
	}
	const histories = 5
	for _, shape := range shapes {
		for _, anomaly := range []gen.Anomaly{gen.None, gen.StaleRead, gen.DoubleCAS} {
			for _, porcupineOnly := range []bool{false, true} {
				name := shape.name + "/valid"
				if anomaly != gen.None {
					name = shape.name + "/" + string(anomaly)
				}
				method := "search"
				if porcupineOnly {
					method = "porcupine"
				}
				b.Run(name+"/"+method, func(b *testing.B) {
					cfg := shape.cfg
					cfg.Anomaly = anomaly
					want := checker.Valid
					if anomaly != gen.None {
						want = checker.Invalid
					}
					var all [histories][]history.Op
					for i := range all {
						cfg.Seed = uint64(i + 1)
						all[i] = gen.Jepsen(cfg)
					}
					decided := 0
					b.ResetTimer()
					for range b.N {
						for i, ops := range all {
							r := ValueRegister{CAS: true, Budget: 10 * time.Second, PorcupineOnly: porcupineOnly}.Check(context.Background(), ops)
							if r.Verdict == checker.Unknown {
								continue
							}
							decided++
							if r.Verdict != want {
								b.Fatalf("seed %d: verdict %s, want %s: %s", i+1, r.Verdict, want, r.Message)
							}
						}
					}
					b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N*histories), "ms/history")
					b.ReportMetric(float64(decided)/float64(b.N*histories), "decided")
				})
			}
		}
	}
}

// BenchmarkKnossosHistories judges Knossos' own published cas-register
// histories (its data/cas-register/good and bad folders, which this
// repository does not carry) from the directory ZKCHAOS_KNOSSOS_DATA names,
// with the register starting at 0 as Knossos' tests do, and fails on any
// verdict that differs from the folder's.
//
//	ZKCHAOS_KNOSSOS_DATA=.../knossos/data/cas-register go test -run x -bench KnossosHistories -benchtime 1x -count 5 ./checker/linearizable/
func BenchmarkKnossosHistories(b *testing.B) {
	dir := os.Getenv("ZKCHAOS_KNOSSOS_DATA")
	if dir == "" {
		b.Skip("ZKCHAOS_KNOSSOS_DATA is not set")
	}
	type known struct {
		name string
		ops  []history.Op
		want checker.Verdict
	}
	var all []known
	for folder, want := range map[string]checker.Verdict{"good": checker.Valid, "bad": checker.Invalid} {
		files, err := filepath.Glob(filepath.Join(dir, folder, "*.edn"))
		if err != nil || len(files) == 0 {
			b.Fatalf("no histories in %s: %v", filepath.Join(dir, folder), err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			h, err := history.ReadEDN(bytes.NewReader(data))
			if err != nil {
				b.Fatalf("%s: %v", f, err)
			}
			all = append(all, known{filepath.Base(f), h.Ops, want})
		}
	}
	for _, porcupineOnly := range []bool{false, true} {
		name := "search"
		if porcupineOnly {
			name = "porcupine"
		}
		b.Run(name, func(b *testing.B) {
			decided := 0
			for range b.N {
				for _, k := range all {
					r := ValueRegister{CAS: true, Initial: history.Int64(0), Budget: 10 * time.Second, PorcupineOnly: porcupineOnly}.Check(context.Background(), k.ops)
					if r.Verdict == checker.Unknown {
						continue
					}
					decided++
					if r.Verdict != k.want {
						b.Fatalf("%s: verdict %s, Knossos says %s: %s", k.name, r.Verdict, k.want, r.Message)
					}
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N*len(all)), "ms/history")
			b.ReportMetric(float64(decided)/float64(b.N*len(all)), "decided")
			b.ReportMetric(float64(len(all)), "histories")
		})
	}
}
