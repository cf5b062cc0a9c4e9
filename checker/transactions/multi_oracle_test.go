package transactions

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

func TestMultiAgreesWithTheOracle(t *testing.T) {
	tl := checkertest.Differential(t, gen.MultiAnomalies, 500, func(seed uint64, a gen.MultiAnomaly) ([]history.Op, checker.Result, oracle.Answer) {
		ops := gen.Multi(oracleConfig(seed, gen.MultiConfig{Anomaly: a}))
		return ops, Checker{}.Check(context.Background(), ops), oracle.Multi(ops)
	})
	// A lost, reordered or failed transaction leaves no trace when later
	// ones overwrite its keys before any snapshot reads them.
	minInvalid := map[string]float64{
		string(gen.TornTxn):          0.5,
		string(gen.LostTxn):          0.25,
		string(gen.ReorderedTxns):    0.3,
		string(gen.FailedTxnApplied): 0.25,
	}
	tl.RequireShares(t, 0.8, minInvalid)
}

// oracleConfig varies the shape of small multi histories with the seed.
func oracleConfig(seed uint64, cfg gen.MultiConfig) gen.MultiConfig {
	cfg.Seed = seed
	cfg.Calls = 8 + int(seed%13)
	cfg.Keys = 2 + int(seed%3)
	cfg.Processes = 2 + int(seed/3%3)
	return cfg
}

// perturb edits a generated history as the fuzz bytes say, three bytes an
// edit: which record, which position, and what to change (a value or zxid
// of a snapshot or transaction taken from elsewhere in the history, or a
// completion type).
func perturb(ops []history.Op, edits []byte) {
	var values, zxids []int64
	for _, op := range ops {
		values = append(values, op.Values...)
		zxids = append(zxids, op.Zxids...)
	}
	for i := 0; i+3 <= len(edits) && len(ops) > 0; i += 3 {
		op := &ops[int(edits[i])%len(ops)]
		p, what := int(edits[i+1]), edits[i+2]
		switch {
		case what%4 == 0 && len(op.Values) > 0 && len(values) > 0:
			op.Values = append([]int64(nil), op.Values...)
			op.Values[p%len(op.Values)] = values[int(what/4)%len(values)]
		case what%4 == 1 && len(op.Zxids) > 0 && len(zxids) > 0:
			op.Zxids = append([]int64(nil), op.Zxids...)
			op.Zxids[p%len(op.Zxids)] = zxids[int(what/4)%len(zxids)]
		case what%4 == 2 && op.Type != history.Invoke:
			op.Type = []history.Type{history.OK, history.Fail, history.Info}[int(what/4)%3]
		}
	}
}

func FuzzMultiOracle(f *testing.F) {
	f.Add(uint64(1), byte(0), []byte{})
	f.Add(uint64(7), byte(1), []byte{})
	f.Add(uint64(9), byte(3), []byte{4, 1, 0})
	f.Add(uint64(42), byte(5), []byte{10, 0, 1, 20, 2, 6})
	f.Fuzz(func(t *testing.T, seed uint64, shape byte, edits []byte) {
		anomalies := append([]gen.MultiAnomaly{""}, gen.MultiAnomalies...)
		cfg := oracleConfig(seed, gen.MultiConfig{Anomaly: anomalies[int(shape)%len(anomalies)]})
		cfg.Info = float64(shape>>4) / 32
		ops := gen.Multi(cfg)
		perturb(ops, edits)
		checkertest.FuzzAgree(t, fmt.Sprintf("seed %d shape %d edits %x", seed, shape, edits), cfg.Anomaly != "" || len(edits) > 0,
			ops, Checker{}.Check(context.Background(), ops), oracle.Multi(ops))
	})
}
