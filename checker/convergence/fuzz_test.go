package convergence

import (
	"context"
	"testing"

	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/checkertest"
)

func FuzzConvergence(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		// Every 3 bytes: node, path, value; a high bit makes the snapshot
		// an error, another a digest counter.
		snaps := map[string]*history.Op{}
		for i := 0; i+3 <= len(data) && i < 600; i += 3 {
			node := "n" + string(rune('1'+data[i]%4))
			op := snaps[node]
			if op == nil {
				op = &history.Op{Type: history.Info, F: history.FSnapshot, Process: history.NemesisProcess, Node: node, Snapshot: map[string]string{}}
				snaps[node] = op
			}
			switch {
			case data[i]&0x80 != 0:
				op.Error = "unreachable"
			case data[i]&0x40 != 0:
				op.Metrics = map[string]int64{"zk_digest_mismatches_count": int64(data[i+2] % 2)}
			default:
				op.Snapshot["/p"+string(rune('a'+data[i+1]%5))] = "v" + string(rune('0'+data[i+2]%3))
			}
		}
		var ops []history.Op
		for _, op := range snaps {
			ops = append(ops, *op)
		}
		checkertest.CheckResult(t, "convergence", Checker{}.Check(context.Background(), ops))
	})
}
