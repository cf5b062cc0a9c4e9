package sequential

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/history/gen"
	"github.com/zkchaos/zkchaos/internal/checkertest"
	"github.com/zkchaos/zkchaos/internal/oracle"
)

// oracleVerdict is the oracle's answer on ops as a Verdict.
func oracleVerdict(t testing.TB, ops []history.Op) (checker.Verdict, string) {
	t.Helper()
	res, err := oracle.Sequential(ops)
	if err != nil {
		t.Fatalf("the oracle cannot take the history: %v\n%s", err, checkertest.OpLines(ops))
	}
	switch {
	case !res.Judged:
		return checker.Unknown, res.Reason
	case res.Valid:
		return checker.Valid, ""
	}
	return checker.Invalid, res.Reason
}

// agree judges ops with the production checker and the oracle, fails the
// test when they disagree, and returns the verdict.
func agree(t testing.TB, name string, ops []history.Op) checker.Verdict {
	t.Helper()
	got := Checker{}.Check(context.Background(), ops)
	want, why := oracleVerdict(t, ops)
	if got.Verdict != want {
		t.Fatalf("%s: the checker says %s (%s), the oracle %s (%s)\n%s", name, got.Verdict, got.Message, want, why, checkertest.OpLines(ops))
	}
	return want
}

// randomConfig varies the shape of small histories with the seed.
func randomConfig(seed uint64) gen.SequentialConfig {
	return gen.SequentialConfig{Seed: seed, Calls: 16 + int(seed%24), Keys: 1 + int(seed%3), Clients: 2 + int(seed/3%4)}
}

func TestSequentialAgreesWithOracleOnRandomHistories(t *testing.T) {
	const histories = 2500
	byMode := map[string]int{}
	for seed := range uint64(histories) {
		cfg := randomConfig(seed)
		cfg.ReadMode = []string{gen.ReadPlain, gen.ReadSync, gen.ReadQuorum}[seed%3]
		ops, _ := gen.Sequential(cfg)
		v := agree(t, fmt.Sprintf("seed %d", seed), ops)
		require.Equal(t, checker.Valid, v, "seed %d: an unmutated history", seed)
		byMode[cfg.ReadMode]++
	}
	t.Logf("%d random histories compared, all valid by both, per read mode: %v", histories, byMode)
}

// certain are the mutations that, once planted, always break a rule.
var certain = map[gen.Mutation]bool{
	gen.BackwardRead: true, gen.MissingOwnWrite: true, gen.PhantomValue: true, gen.SharedVersion: true, gen.ZxidSwap: true,
}

func TestSequentialAgreesWithOracleOnMutatedHistories(t *testing.T) {
	const perKind = 200
	for _, m := range gen.Mutations {
		planted, invalid := 0, 0
		for seed := range uint64(perKind) {
			cfg := randomConfig(seed)
			cfg.Mutation = m
			ops, ok := gen.Sequential(cfg)
			v := agree(t, fmt.Sprintf("%s, seed %d", m, seed), ops)
			switch {
			case !ok:
				require.Equal(t, checker.Valid, v, "%s, seed %d: nothing was planted", m, seed)
			case certain[m]:
				require.Equal(t, checker.Invalid, v, "%s, seed %d: the planted anomaly was missed", m, seed)
			}
			if ok {
				planted++
			}
			if v == checker.Invalid {
				invalid++
			}
		}
		t.Logf("%s: %d histories compared, %d planted, %d invalid by both", m, perKind, planted, invalid)
		assert.Greater(t, planted, perKind*3/4, "%s: too few histories offer a place for the mutation", m)
		// A lost or duplicated write breaks a rule only when some later
		// operation shows it.
		assert.Greater(t, invalid, perKind/4, "%s: too few mutations plant a violation", m)
	}
}

// TestSequentialLeavesOutUnobservedVersions pins what the sequential claim
// does not cover, for the checker and the oracle alike: the rules judge the
// states operations observed, so a version no write call made, or an
// indeterminate write that shows up at two versions, goes unremarked.
func TestSequentialLeavesOutUnobservedVersions(t *testing.T) {
	for name, ops := range map[string][]history.Op{
		"a version made by no write call": checkertest.Hist(
			at(1, 0x10, checkertest.WriteOK(1, checkertest.Key, 1, 0, 10, 3)),
			at(2, 0x10, checkertest.ReadOK(2, checkertest.Key, 20, 30, 1, 3)),
		),
		"an indeterminate write seen at two versions": checkertest.Hist(
			inSession(1, checkertest.WriteInfo(1, checkertest.Key, 1, 0, 10)),
			at(2, 0x10, checkertest.ReadOK(2, checkertest.Key, 20, 30, 1, 1)),
			at(2, 0x12, checkertest.ReadOK(2, checkertest.Key, 40, 50, 1, 2)),
		),
	} {
		assert.Equal(t, checker.Valid, agree(t, name, ops), name)
	}
}

// fuzzHistory builds a history from fuzz bytes: the first 13 bytes shape
// and seed a generated history, every 4 bytes after that edit one ok
// completion within the record format: a read's value or a version set near
// another ok completion's, or another's zxid or session.
func fuzzHistory(data []byte) []history.Op {
	head := make([]byte, 13)
	copy(head, data)
	cfg := gen.SequentialConfig{
		Seed:     binary.LittleEndian.Uint64(head),
		Calls:    4 + int(head[8]%32),
		Keys:     1 + int(head[9]%3),
		Clients:  1 + int(head[10]%5),
		ReadMode: []string{gen.ReadPlain, gen.ReadSync, gen.ReadQuorum}[head[11]%3],
	}
	if m := int(head[12]) % (len(gen.Mutations) + 1); m > 0 {
		cfg.Mutation = gen.Mutations[m-1]
	}
	ops, _ := gen.Sequential(cfg)
	var oks []int
	for i, op := range ops {
		if op.Type == history.OK && !op.IsNemesis() {
			oks = append(oks, i)
		}
	}
	if len(oks) == 0 {
		return ops
	}
	for e := data[min(len(data), 13):]; len(e) >= 4; e = e[4:] {
		op, from := &ops[oks[int(e[0])%len(oks)]], ops[oks[int(e[2])%len(oks)]]
		switch e[1] % 4 {
		case 0:
			if from.Value != nil && op.F == history.Read {
				op.Value = history.Int64(*from.Value + int64(e[3]%3) - 1)
			}
		case 1:
			op.Version = history.Int32(*from.Version + int32(e[3]%3) - 1)
		case 2:
			op.Zxid = from.Zxid
		case 3:
			op.Session = from.Session
		}
	}
	return ops
}

// FuzzSequentialOracle asserts that the checker and the oracle agree on every
// history the fuzz bytes make; its seeds are in testdata/fuzz.
func FuzzSequentialOracle(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		agree(t, "fuzzed", fuzzHistory(data))
	})
}
