package checkertest

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/histtest"
)

// JudgeByKey judges ops with c one key at a time, from a history file as
// `zkchaos check` does.
func JudgeByKey(t testing.TB, c checker.Checker, ops []history.Op) checker.Result {
	t.Helper()
	path := histtest.WriteFile(t, ops)
	j, ok := checker.StartByKey(context.Background(), c)
	require.True(t, ok, "%s judges by key", c.Name())
	judged, err := checker.JudgeFile(context.Background(), j, path, filepath.Dir(path), nil, nil)
	require.NoError(t, err)
	require.False(t, judged.TornTail)
	return judged.Result
}

// RequireSameByKey fails unless c judges ops one key at a time as Check does:
// the same verdicts, messages, details and anomalies at every level of the
// result, and as many visualizations. Durations are left out.
func RequireSameByKey(t testing.TB, c checker.Checker, ops []history.Op) checker.Result {
	t.Helper()
	want := c.Check(context.Background(), ops)
	got := JudgeByKey(t, c, ops)
	RequireSameResult(t, want, got)
	return got
}

// RequireSameResult fails unless got is want: the same verdicts, messages,
// details and anomalies at every level, and as many visualizations.
// Durations are left out.
func RequireSameResult(t testing.TB, want, got checker.Result) {
	t.Helper()
	require.Equal(t, comparable(t, want), comparable(t, got))
	require.Len(t, got.AllVisualizations(), len(want.AllVisualizations()))
}

// comparable is r as JSON, without durations.
func comparable(t testing.TB, r checker.Result) any {
	t.Helper()
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var v any
	require.NoError(t, json.Unmarshal(b, &v))
	return withoutDurations(v)
}

func withoutDurations(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if k == "duration_ns" {
				delete(v, k)
				continue
			}
			v[k] = withoutDurations(x)
		}
	case []any:
		for i, x := range v {
			v[i] = withoutDurations(x)
		}
	}
	return v
}
