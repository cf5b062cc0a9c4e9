package convergence

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

func TestConvergenceAgreesWithTheOracle(t *testing.T) {
	tl := checkertest.Differential(t, gen.ConvergenceAnomalies, 500, func(seed uint64, a gen.ConvergenceAnomaly) ([]history.Op, checker.Result, oracle.Answer) {
		ops := gen.Convergence(oracleConfig(seed, a))
		return ops, Checker{}.Check(context.Background(), ops), oracle.Convergence(ops)
	})
	// An unreachable node hides what it holds: the random histories that
	// have one are unknown, and so are some of the planted ones.
	tl.RequireShares(t, 0.6, map[string]float64{
		string(gen.DivergedReplica): 0.6,
		string(gen.MissingZnode):    0.6,
		string(gen.DigestMismatch):  0.6,
	})
}

func oracleConfig(seed uint64, a gen.ConvergenceAnomaly) gen.ConvergenceConfig {
	return gen.ConvergenceConfig{Seed: seed, Nodes: 2 + int(seed%4), Writes: 1 + int(seed%17), Anomaly: a}
}

func FuzzConvergenceOracle(f *testing.F) {
	f.Add(uint64(0), byte(0))
	f.Add(uint64(5), byte(1))
	f.Add(uint64(11), byte(0x32))
	f.Add(uint64(3), byte(0xf3))
	f.Fuzz(func(t *testing.T, seed uint64, shape byte) {
		anomalies := append([]gen.ConvergenceAnomaly{""}, gen.ConvergenceAnomalies...)
		cfg := oracleConfig(seed, anomalies[int(shape)%len(anomalies)])
		cfg.Unreachable = float64(shape>>4) / 16
		ops := gen.Convergence(cfg)
		checkertest.FuzzAgree(t, fmt.Sprintf("seed %d shape %d", seed, shape), cfg.Anomaly != "", ops, Checker{}.Check(context.Background(), ops), oracle.Convergence(ops))
	})
}
