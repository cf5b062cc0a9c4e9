package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// EDNModels are the models a Jepsen history can be judged with.
var EDNModels = []string{"cas-register", "register"}

// ExportEDN writes the history of a run directory as Jepsen's history.edn
// at path.
func ExportEDN(dir, path string) error {
	read, err := history.ReadFile(filepath.Join(dir, history.FileName))
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := history.WriteEDN(f, read.Ops); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}

// CheckEDN judges a Jepsen history file with the named model.
func CheckEDN(ctx context.Context, path, model string, budget time.Duration) (checker.Result, error) {
	var c checker.Checker
	switch model {
	case "cas-register":
		c = checker.ValueRegister{CAS: true, Budget: budget}
	case "register":
		c = checker.ValueRegister{Budget: budget}
	default:
		return checker.Result{}, fmt.Errorf("unknown model %q (models: %s)", model, strings.Join(EDNModels, ", "))
	}
	f, err := os.Open(path)
	if err != nil {
		return checker.Result{}, fmt.Errorf("open Jepsen history: %w", err)
	}
	defer f.Close()
	ops, err := history.ReadEDN(f)
	if err != nil {
		return checker.Result{}, fmt.Errorf("%s: %w", path, err)
	}
	return c.Check(ctx, ops), nil
}
