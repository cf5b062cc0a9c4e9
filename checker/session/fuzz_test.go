package session_test

import (
	"context"
	"encoding/json"
	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/lock"
	"github.com/zkchaos/zkchaos/checker/session"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/checkertest"
	"math"
	"testing"
	"time"
)

// fuzzFs and fuzzEvents are the operation names and session events of the
// histories that LockSessionOps makes for the sessions fuzz target: those of
// the lock fuzz target, for the lock workload records session events too.
var (
	fuzzFs     = []string{lock.Acquire, lock.Release, session.F, session.Create, session.Exists, session.Exists, history.FRoles, "kill"}
	fuzzEvents = []string{session.Established, session.Disconnected, session.Expired, session.Closed}
)

// FuzzSessions feeds arbitrary histories to the sessions checker: it must
// never panic, and its verdict must agree with its evidence.
func FuzzSessions(f *testing.F) {
	checkertest.LockSessionSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ops := checkertest.LockSessionOps(data, fuzzFs, fuzzEvents)
		for _, c := range []session.Checker{{}, {SessionTimeout: 4 * time.Second, Margin: time.Second}, {SessionTimeout: math.MaxInt64, Margin: math.MaxInt64}} {
			r := c.Check(context.Background(), ops)
			d, ok := r.Details.(session.Details)
			if !ok {
				t.Fatalf("details are %T", r.Details)
			}
			switch r.Verdict {
			case checker.Invalid:
				if d.Violations == 0 {
					t.Fatalf("invalid without a violation: %s", r.Message)
				}
			case checker.Valid:
				if d.Violations > 0 || d.ProvenAlive+d.AfterBound == 0 {
					t.Fatalf("valid without evidence: %s", r.Message)
				}
			case checker.Unknown:
			default:
				t.Fatalf("verdict %q", r.Verdict)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatal(err)
			}
		}
	})
}
