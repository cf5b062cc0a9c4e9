package serverlogs

import (
	"context"
	"github.com/zkchaos/zkchaos/internal/checkertest"
	"os"
	"path/filepath"
	"testing"
)

func FuzzServerLogs(f *testing.F) {
	f.Add([]byte("2026 ERROR [x] boom\njava.lang.NullPointerException: Cannot read field \"hdr\" because \"pif\" is null\n"))
	f.Add([]byte("Digests are not matching\n=== zkchaos: command: java -XX:+ExitOnOutOfMemoryError\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "zookeeper.log")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		checkertest.CheckResult(t, "server-logs", Checker{Logs: map[string]string{"n1": path}}.Check(context.Background(), nil))
	})
}
