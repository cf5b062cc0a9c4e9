package reports

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
)

func TestJUnitHasOneCasePerCheckerPerRun(t *testing.T) {
	valid := Results{Scenario: "smoke", Seed: 7, Started: time.Unix(0, 0), Duration: 15 * time.Second,
		Check: checker.Result{Checker: "zkchaos", Verdict: checker.Invalid, Children: []checker.Result{
			{Checker: "register", Verdict: checker.Invalid, Children: []checker.Result{
				{Checker: "linearizable", Verdict: checker.Invalid, Message: "keys not linearizable: k1"},
				{Checker: "stats", Verdict: checker.Valid, Message: "ok"},
			}},
			{Checker: "recovery", Verdict: checker.Unknown, Message: "no observation"},
		}}}
	interrupted := Results{Scenario: "smoke", Seed: 8, Interrupted: true}
	path := filepath.Join(t.TempDir(), "junit.xml")
	require.NoError(t, WriteJUnit(path, []JUnitRun{{Dir: "runs/smoke/a", Results: valid}, {Dir: "runs/smoke/b", Results: interrupted}}))

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var doc junitSuites
	require.NoError(t, xml.Unmarshal(b, &doc))
	require.Len(t, doc.Suites, 2)
	s := doc.Suites[0]
	assert.Equal(t, "smoke seed 7", s.Name)
	assert.Equal(t, 3, s.Tests)
	assert.Equal(t, 1, s.Failures)
	assert.Equal(t, 1, s.Errors, "unknown is an error, never a pass")
	assert.Equal(t, "register/linearizable", s.Cases[0].Name)
	assert.Equal(t, "keys not linearizable: k1", s.Cases[0].Failure.Message)
	assert.Nil(t, s.Cases[1].Failure)
	assert.Contains(t, s.Cases[0].Output, "runs/smoke/a")
	assert.Equal(t, "harness", doc.Suites[1].Cases[0].Name)
	assert.Equal(t, 1, doc.Suites[1].Errors)
}
