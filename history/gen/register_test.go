package gen

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/linearizable"
	"github.com/zkchaos/zkchaos/history"
)

func TestRegisterIsSeededAndShaped(t *testing.T) {
	cfg := Config{Seed: 3, Calls: 5000, Keys: 4, Processes: 20, FaultEvery: 50 * time.Millisecond, FaultFor: 20 * time.Millisecond}
	a, b := Register(cfg), Register(cfg)
	require.Equal(t, a, b, "the same config gives the same history")
	assert.NotEqual(t, a, Register(Config{Seed: 4, Calls: 5000, Keys: 4, Processes: 20}))

	counts := map[history.Type]int{}
	procs := map[history.Process]bool{}
	var invokes, nemesis, roles int
	open := map[history.Process]bool{}
	maxOpen := 0
	for i, op := range a {
		require.Equal(t, int64(i), op.Index)
		if i > 0 {
			require.GreaterOrEqual(t, op.Time, a[i-1].Time, "records are in time order")
		}
		switch {
		case op.F == history.FRoles:
			roles++
		case op.IsNemesis():
			nemesis++
		case op.Type == history.Invoke:
			invokes++
			procs[op.Process] = true
			require.False(t, open[op.Process], "one call at a time per process")
			open[op.Process] = true
			maxOpen = max(maxOpen, len(open))
		default:
			counts[op.Type]++
			delete(open, op.Process)
		}
	}
	assert.Equal(t, 5000, invokes)
	assert.Greater(t, counts[history.Info], 0)
	assert.Greater(t, counts[history.Fail], 0)
	assert.Less(t, counts[history.OK]+counts[history.Fail]+counts[history.Info], 5000, "some processes crashed")
	assert.Greater(t, len(procs), 20, "workers continue as new processes after info")
	assert.Greater(t, maxOpen, 10, "calls overlap")
	assert.Greater(t, nemesis, 4)
	assert.Greater(t, roles, 2)
}

// TestRegisterValidUnlessPlanted holds the generator to its promise with the
// linearizability checker: valid without an anomaly, invalid with each.
func TestRegisterValidUnlessPlanted(t *testing.T) {
	check := func(ops []history.Op) checker.Result {
		return linearizable.Checker{ReadMode: linearizable.ReadQuorum, Budget: time.Minute}.Check(context.Background(), ops)
	}
	for seed := range uint64(3) {
		cfg := Config{Seed: seed, Calls: 3000, Keys: 3, Processes: 10}
		r := check(Register(cfg))
		assert.Equal(t, checker.Valid, r.Verdict, "seed %d: %s", seed, r.Message)
		for _, a := range Anomalies {
			cfg.Anomaly = a
			r := check(Register(cfg))
			assert.Equal(t, checker.Invalid, r.Verdict, "seed %d %s: %s", seed, a, r.Message)
			assert.Contains(t, r.Message, "Key r0 ", "planted on the first key")
		}
	}
}

func TestJepsenIsSeededValidAndPlantsWhatItSays(t *testing.T) {
	cfg := JepsenConfig{Seed: 5, Calls: 200, Keys: 2, Processes: 6, Info: 0.2, Fail: 0.1}
	a := Jepsen(cfg)
	require.Equal(t, a, Jepsen(cfg), "the same config gives the same history")
	var buf bytes.Buffer
	require.NoError(t, history.WriteEDN(&buf, a))
	h, err := history.ReadEDN(&buf)
	require.NoError(t, err, "a generated history is a well-formed Jepsen history")
	require.Len(t, h.Ops, len(a))
	counts := map[history.Type]int{}
	for _, op := range a {
		counts[op.Type]++
	}
	assert.Equal(t, 200, counts[history.Invoke])
	assert.Positive(t, counts[history.Info])
	assert.Positive(t, counts[history.Fail])

	for _, anomaly := range []Anomaly{None, StaleRead, DoubleCAS} {
		for seed := range uint64(20) {
			ops := Jepsen(JepsenConfig{Seed: seed, Calls: 120, Processes: 5, Info: 0.1, Fail: 0.05, Anomaly: anomaly})
			r := linearizable.ValueRegister{CAS: true}.Check(context.Background(), ops)
			want := checker.Invalid
			if anomaly == None {
				want = checker.Valid
			}
			require.Equal(t, want, r.Verdict, "seed %d, %q: %s", seed, anomaly, r.Message)
		}
	}
}
