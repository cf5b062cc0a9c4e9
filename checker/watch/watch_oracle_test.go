package watch

import (
	"context"
	"fmt"
	"testing"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/history/gen"
	"github.com/zkchaos/zkchaos/internal/checkertest"
	"github.com/zkchaos/zkchaos/internal/oracle"
)

func TestWatchesAgreeWithTheOracle(t *testing.T) {
	tl := checkertest.Differential(t, gen.WatchAnomalies, 500, func(seed uint64, a gen.WatchAnomaly) ([]history.Op, checker.Result, oracle.Answer) {
		ops := gen.Watch(oracleConfig(seed, a))
		return ops, Checker{}.Check(context.Background(), ops), oracle.Watches(ops)
	})
	tl.RequireShares(t, 0.8, map[string]float64{
		string(gen.MissedWatch):    0.3,
		string(gen.LateEvent):      0.3,
		string(gen.DuplicateEvent): 0.3,
		string(gen.PhantomEvent):   0.3,
	})
}

// oracleConfig varies the shape of small watch histories with the seed.
func oracleConfig(seed uint64, a gen.WatchAnomaly) gen.WatchConfig {
	return gen.WatchConfig{Seed: seed, Calls: 16 + int(seed%25), Keys: 1 + int(seed%3),
		Writers: 1 + int(seed/3%2), Watchers: 1 + int(seed/6%3), Anomaly: a}
}

func FuzzWatchesOracle(f *testing.F) {
	f.Add(uint64(0), byte(0))
	f.Add(uint64(3), byte(1))
	f.Add(uint64(8), byte(0x42))
	f.Add(uint64(21), byte(0x83))
	f.Add(uint64(34), byte(0xc4))
	f.Fuzz(func(t *testing.T, seed uint64, shape byte) {
		anomalies := append([]gen.WatchAnomaly{""}, gen.WatchAnomalies...)
		cfg := oracleConfig(seed, anomalies[int(shape)%len(anomalies)])
		cfg.Loss = float64(shape>>4) / 40
		ops := gen.Watch(cfg)
		checkertest.FuzzAgree(t, fmt.Sprintf("seed %d shape %d", seed, shape), cfg.Anomaly != "", ops, Checker{}.Check(context.Background(), ops), oracle.Watches(ops))
	})
}
