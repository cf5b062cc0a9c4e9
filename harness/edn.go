package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/linearizable"
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

// EDNCheck says how to judge a Jepsen history.
type EDNCheck struct {
	// Path is the history.edn file.
	Path string
	// Model is one of EDNModels.
	Model string
	// Initial is the register's value before the history; nil is Jepsen's
	// nil.
	Initial *int64
	// Budget bounds the search; zero means one minute.
	Budget time.Duration
	// Draw asks for a visualization of every key that is not linearizable.
	Draw bool
}

// CheckEDN judges a Jepsen history file. A file that is not a well-formed
// Jepsen history, or holds operations the model does not have, is an error
// that names the record and its line. The history is read once and split
// by key into spill files under os.TempDir, removed before it returns, so
// that memory holds a few keys, not the whole history.
func CheckEDN(ctx context.Context, c EDNCheck) (r checker.Result, err error) {
	var v linearizable.ValueRegister
	switch c.Model {
	case "cas-register":
		v = linearizable.ValueRegister{CAS: true}
	case "register":
	default:
		return checker.Result{}, fmt.Errorf("unknown model %q (models: %s)", c.Model, strings.Join(EDNModels, ", "))
	}
	v.Initial, v.Budget, v.Draw = c.Initial, c.Budget, c.Draw
	f, err := os.Open(c.Path)
	if err != nil {
		return checker.Result{}, fmt.Errorf("open Jepsen history: %w", err)
	}
	defer f.Close()
	split, err := history.NewSplit("")
	if err != nil {
		return checker.Result{}, err
	}
	defer func() { err = errors.Join(err, split.Close()) }()
	defer limitJudgeMemory()()
	err = history.ScanEDN(f, func(op *history.Op, _ int) error { return split.Add(op) })
	if err != nil {
		return checker.Result{}, fmt.Errorf("%s: %w", c.Path, err)
	}
	if err := split.Done(); err != nil {
		return checker.Result{}, err
	}
	r, err = v.JudgeSplit(ctx, split)
	var me *linearizable.ModelError
	if errors.As(err, &me) {
		return r, fmt.Errorf("%s: %s: %s", c.Path, ednWhere(c.Path, me.Index), me.Reason)
	}
	return r, err
}

// ednWhere names record i of the Jepsen history at path with its line,
// reading the file again up to it: only an error needs the line, so a
// judgement keeps none.
func ednWhere(path string, i int64) string {
	var h history.EDNHistory
	f, err := os.Open(path)
	if err != nil {
		return h.Where(i)
	}
	defer f.Close()
	found := errors.New("found")
	_ = history.ScanEDN(f, func(_ *history.Op, line int) error {
		if h.Lines = append(h.Lines, line); int64(len(h.Lines)) > i {
			return found
		}
		return nil
	})
	return h.Where(i)
}

// WriteEDNResults writes what a check of a Jepsen history found into dir:
// results.json, and one page per visualization. It returns the pages'
// paths.
func WriteEDNResults(dir string, r checker.Result) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("write results: %w", err)
	}
	var pages []string
	for i, v := range r.AllVisualizations() {
		p := filepath.Join(dir, fmt.Sprintf("linearizability-%d.html", i+1))
		if err := os.WriteFile(p, v.HTML, 0o644); err != nil {
			return pages, fmt.Errorf("write visualization: %w", err)
		}
		pages = append(pages, p)
	}
	return pages, nil
}
