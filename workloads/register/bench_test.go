package register_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkchaos/zkchaos/cluster/local"
	"github.com/zkchaos/zkchaos/cluster/local/localtest"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/workloads"
	"github.com/zkchaos/zkchaos/workloads/register"
)

// BenchmarkOverhead measures what recording costs: the register workload
// with its full history (invoke and completion records, fsync every 200 ms)
// against a bare go-zookeeper loop doing the same calls, with the same
// sessions pinned the same way, against the same ensemble, in one run:
//
//	go test -run x -bench Overhead -benchtime 20000x -count 5 ./workloads/register/
//
// ns/op is per completed operation over all workers; ops/s is its inverse.
func BenchmarkOverhead(b *testing.B) {
	localtest.RequireZooKeeper(b)
	ctx := context.Background()
	e, err := local.Start(ctx, local.Config{Dir: b.TempDir(), Nodes: 3})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = e.Close(ctx) }()
	env := workloads.Env{Nodes: e.Nodes(), Workers: 10, OpTimeout: 5 * time.Second, SessionTimeout: 10 * time.Second, Seed: 1}
	cfg := register.Config{Keys: 5, ReadMode: register.ReadQuorum, ReadWeight: 2, WriteWeight: 1, CASWeight: 1}
	if err := register.New(cfg).Setup(ctx, env); err != nil {
		b.Fatal(err)
	}

	b.Run("bare", func(b *testing.B) {
		conns := make([]*zk.Conn, env.Workers)
		for i := range conns {
			c, err := env.Connect(ctx, env.Node(i))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			conns[i] = c
		}
		var left atomic.Int64
		left.Store(int64(b.N))
		var unexpected atomic.Value
		var wg sync.WaitGroup
		b.ResetTimer()
		for i, c := range conns {
			wg.Go(func() {
				version := map[string]int32{}
				for n := 0; left.Add(-1) >= 0; n++ {
					// A version conflict is a normal outcome of a cas or a
					// quorum read's check, as in the workload.
					if err := bareCall(c, i, n, version); err != nil && !errors.Is(err, zk.ErrBadVersion) {
						unexpected.Store(err)
					}
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		if err := unexpected.Load(); err != nil {
			b.Fatalf("bare loop: %v", err)
		}
		reportRate(b)
	})

	b.Run("recorded", func(b *testing.B) {
		w, err := history.Create(filepath.Join(b.TempDir(), history.FileName), time.Now())
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		stop, cancel := context.WithCancel(ctx)
		defer cancel()
		rec := &countingRecorder{w: w, left: int64(b.N), done: cancel}
		b.ResetTimer()
		if err := register.New(cfg).Run(stop, env, rec); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		reportRate(b)
	})
}

// bareCall is worker i's n-th call, with the workload's mix (two reads, one
// write, one cas) and its calls: a quorum read is a get and a check-only
// multi.
func bareCall(c *zk.Conn, i, n int, version map[string]int32) error {
	key := register.KeyName((i + n) % 5)
	path := register.Path(key)
	switch n % 4 {
	case 0, 1:
		_, stat, err := c.Get(path)
		if err != nil {
			return err
		}
		version[key] = stat.Version
		_, err = c.Multi(&zk.CheckVersionRequest{Path: path, Version: stat.Version})
		return err
	case 2:
		_, err := c.Set(path, []byte(strconv.Itoa(i*1_000_000+n)), -1)
		return err
	default:
		stat, err := c.Set(path, []byte(strconv.Itoa(i*1_000_000+n)), version[key])
		if err == nil {
			version[key] = stat.Version
		}
		return err
	}
}

// reportRate adds ops/s, the inverse of ns/op.
func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// countingRecorder records into a history file and ends the run after a
// number of completions.
type countingRecorder struct {
	w    *history.Writer
	left int64
	mu   sync.Mutex
	done context.CancelFunc
}

func (r *countingRecorder) Append(op history.Op) (history.Op, error) {
	op, err := r.w.Append(op)
	if err == nil && op.Type != history.Invoke {
		r.mu.Lock()
		if r.left--; r.left == 0 {
			r.done()
		}
		r.mu.Unlock()
	}
	return op, err
}
