package checker

import (
	"context"
	"encoding/json"
	"math"
	"testing"
)

// FuzzSessions feeds arbitrary histories to the sessions checker: it must
// never panic, and its verdict must agree with its evidence.
func FuzzSessions(f *testing.F) {
	lsFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ops := lsFuzzOps(data, lsFuzzFs, lsFuzzEvents)
		for _, c := range []Sessions{{}, ssChecker, {SessionTimeout: math.MaxInt64, Margin: math.MaxInt64}} {
			r := c.Check(context.Background(), ops)
			d, ok := r.Details.(SessionsDetails)
			if !ok {
				t.Fatalf("details are %T", r.Details)
			}
			switch r.Verdict {
			case Invalid:
				if d.Violations == 0 {
					t.Fatalf("invalid without a violation: %s", r.Message)
				}
			case Valid:
				if d.Violations > 0 || d.ProvenAlive+d.AfterBound == 0 {
					t.Fatalf("valid without evidence: %s", r.Message)
				}
			case Unknown:
			default:
				t.Fatalf("verdict %q", r.Verdict)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatal(err)
			}
		}
	})
}
