package compare

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/zkchaos/zkchaos/reports"
)

// Expand turns arguments naming run directories into the run directories
// themselves. An argument is a directory or a glob. A directory holding
// results.json is a run directory; any other directory is searched below
// for run directories (runs/, runs/<scenario>/). Symlinks named latest are
// skipped, in globs and below directories, and a run reached twice counts
// once, so that nothing counts twice. A directory that looks like a run
// (it has a history or a scenario) but lacks results.json is an error naming
// the missing file, and so is an argument under which no run is found.
func Expand(ctx context.Context, args []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, arg := range args {
		matches := []string{arg}
		globbed := strings.ContainsAny(arg, "*?[")
		if globbed {
			var err error
			if matches, err = filepath.Glob(arg); err != nil {
				return nil, fmt.Errorf("run directories %q: %w", arg, err)
			}
			if len(matches) == 0 {
				return nil, fmt.Errorf("run directories %q: the pattern matches nothing", arg)
			}
		}
		found := 0
		for _, m := range matches {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			fi, err := os.Lstat(m)
			if err != nil {
				return nil, fmt.Errorf("run directories: %w", err)
			}
			if globbed && isLatestLink(fi) {
				continue
			}
			if st, err := os.Stat(m); err != nil || !st.IsDir() {
				if globbed {
					continue // a glob over runs/ also matches files beside the runs
				}
				return nil, fmt.Errorf("run directories: %s is not a directory", m)
			}
			runs, err := findRuns(m)
			if err != nil {
				return nil, err
			}
			for _, r := range runs {
				real, err := filepath.EvalSymlinks(r)
				if err != nil {
					return nil, fmt.Errorf("run directory %s: %w", r, err)
				}
				found++
				if !seen[real] {
					seen[real] = true
					out = append(out, r)
				}
			}
		}
		if found == 0 {
			return nil, fmt.Errorf("no run directory (one holding %s) in %s", reports.ResultsFile, arg)
		}
	}
	return out, nil
}

// isLatestLink reports whether fi is a scenario's latest symlink.
func isLatestLink(fi fs.FileInfo) bool {
	return fi.Mode()&fs.ModeSymlink != 0 && fi.Name() == reports.LatestLink
}

// findRuns returns dir itself, as named, when it is a run directory, else
// the run directories below it; one that has a history but was never judged
// is an error naming the missing file.
func findRuns(dir string) ([]string, error) {
	if exists(filepath.Join(dir, reports.ResultsFile)) {
		return []string{dir}, nil
	}
	runs, unjudged, err := reports.FindRuns(dir)
	if err != nil {
		return nil, err
	}
	if len(unjudged) > 0 {
		u := unjudged[0]
		return nil, fmt.Errorf("run directory %s has no %s (judge it first: zkchaos check %s)",
			u, filepath.Join(u, reports.ResultsFile), u)
	}
	return runs, nil
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Load reads the run directories, in order; the first that cannot be read
// is an error naming its file.
func Load(ctx context.Context, dirs []string) ([]Run, error) {
	return load(ctx, dirs, LoadRun)
}

// load reads dirs, in order, with read.
func load(ctx context.Context, dirs []string, read func(dir string) (Run, error)) ([]Run, error) {
	runs := make([]Run, 0, len(dirs))
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, err := read(d)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// ErrNoRuns is returned by LoadSide when a side holds no complete run.
var ErrNoRuns = errors.New("no complete run to compare")

// LoadSide expands and loads one side's arguments; a side without a single
// complete run is an error matching ErrNoRuns.
func LoadSide(ctx context.Context, args []string) (Side, error) {
	dirs, err := Expand(ctx, args)
	if err != nil {
		return Side{}, err
	}
	runs, err := Load(ctx, dirs)
	if err != nil {
		return Side{}, err
	}
	return newSide(args, runs)
}

// LoadSideFS is LoadSide for arguments that are directories in fsys (slash
// paths, no globs), such as an os.Root's, through which every file is
// opened: no symlink leads outside it. Run directories are named by their
// paths in fsys.
func LoadSideFS(ctx context.Context, fsys fs.FS, args []string) (Side, error) {
	var dirs []string
	seen := map[string]bool{}
	for _, arg := range args {
		runs, unjudged, err := reports.FindRunsFS(fsys, arg)
		if err != nil {
			return Side{}, fmt.Errorf("run directories: %w", err)
		}
		if len(unjudged) > 0 {
			return Side{}, fmt.Errorf("run directory %s has no %s", unjudged[0], reports.ResultsFile)
		}
		if len(runs) == 0 {
			return Side{}, fmt.Errorf("no run directory (one holding %s) in %s", reports.ResultsFile, arg)
		}
		for _, r := range runs {
			if !seen[r] {
				seen[r] = true
				dirs = append(dirs, r)
			}
		}
	}
	runs, err := load(ctx, dirs, func(dir string) (Run, error) { return LoadRunFS(fsys, dir) })
	if err != nil {
		return Side{}, err
	}
	return newSide(args, runs)
}

// newSide is the side of the runs read for args; one without a single
// complete run is an error matching ErrNoRuns.
func newSide(args []string, runs []Run) (Side, error) {
	if len(complete(runs)) == 0 {
		return Side{}, fmt.Errorf("%w among the %d run(s) in %s", ErrNoRuns, len(runs), strings.Join(args, " "))
	}
	return Side{Source: strings.Join(args, " "), Runs: runs}, nil
}
