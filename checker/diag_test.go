package checker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/zkchaos/zkchaos/history/gen"
)

func TestDiagHard(t *testing.T) {
	for _, info := range []float64{0.1, 0.15, 0.25} {
		cfg := gen.JepsenConfig{Calls: 300, Processes: 10, Info: info, Fail: 0.05, Anomaly: gen.DoubleCAS}
		for seed := range 5 {
			cfg.Seed = uint64(seed)
			ops := gen.Jepsen(cfg)
			for _, po := range []bool{false, true} {
				start := time.Now()
				r := ValueRegister{CAS: true, Budget: 10 * time.Second, PorcupineOnly: po}.Check(context.Background(), ops)
				d := r.Details.(ValueRegisterDetails)
				fmt.Printf("info=%.2f seed=%d porcupine=%v %s %s %v configs=%d\n", info, seed, po, r.Verdict, d.Keys[0].Method, time.Since(start).Round(time.Millisecond), d.Configurations)
			}
		}
	}
}
