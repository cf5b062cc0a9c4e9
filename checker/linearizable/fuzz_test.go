package linearizable

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/checkertest"
	"github.com/zkchaos/zkchaos/internal/oracle"
)

func FuzzLinearizable(f *testing.F) {
	checkertest.FuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ops := checkertest.RegisterHistory(data, true)
		for _, mode := range []string{ReadQuorum, ReadPlain} {
			r := Checker{Budget: 200 * time.Millisecond, ReadMode: mode, VisualizeAllBelow: 50}.Check(context.Background(), ops)
			checkertest.CheckResult(t, "linearizable", r)
		}
		// The version order's fast path must agree with Porcupine's search
		// on every key both decide.
		keys, _ := splitByKey(ops, true)
		for _, kh := range keys {
			if len(kh.malformed) > 0 || len(kh.ops) > 12 {
				continue
			}
			if got, agree := orderAgainstPorcupine(kh); !agree {
				t.Fatalf("key %s: the version order says %v (%s), Porcupine alone the opposite", kh.key, got.verdict == orderValid, got.reason)
			}
		}
	})
}

func FuzzValueRegister(f *testing.F) {
	f.Add([]byte(`{:type :invoke, :f :write, :value 1, :process 0, :time 1}
{:type :ok, :f :write, :value 1, :process 0, :time 2}
{:type :invoke, :f :read, :value nil, :process 1, :time 3}
{:type :ok, :f :read, :value 1, :process 1, :time 4}`))
	f.Add([]byte(`[{:type :invoke, :f :cas, :value [:k [1 2]], :process 0, :time 5}]`))
	f.Add([]byte(`{:type :invoke, :f :cas, :value [0 1], :process 1}
{:type :invoke, :f :cas, :value [0 2], :process 2}
{:type :ok, :f :cas, :value [0 1], :process 1}
{:type :info, :f :cas, :value [0 2], :process 2}
{:type :invoke, :f :read, :value nil, :process 3}
{:type :ok, :f :read, :value 2, :process 3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := history.ReadEDN(bytes.NewReader(data))
		if err != nil || len(h.Ops) > 300 {
			return
		}
		for _, cas := range []bool{true, false} {
			v := ValueRegister{CAS: cas, Initial: history.Int64(0), Budget: time.Second}
			r := v.Check(context.Background(), h.Ops)
			checkertest.CheckResult(t, "value-register", r)
			if _, err := v.Judge(context.Background(), h.Ops); err != nil || len(h.Ops) > 20 {
				continue
			}
			// Small histories have a known answer.
			want, err := oracle.JepsenRegister(h.Ops, cas, 0)
			if err != nil {
				t.Fatalf("the model accepted what the oracle refused: %v", err)
			}
			if want != (r.Verdict == checker.Valid) || r.Verdict == checker.Unknown {
				t.Fatalf("verdict %s, brute force says linearizable=%v: %s", r.Verdict, want, r.Message)
			}
		}
	})
}
