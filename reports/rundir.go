package reports

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/history"
)

// LatestLink is the name of the symlink beside a scenario's runs that points at the newest one.
const LatestLink = "latest"

// runDirLayout names run directories by their UTC start, so they sort by time.
const runDirLayout = "20060102T150405Z"

// NewRunDir creates root/<scenario>/<UTC timestamp>/ (with a -N suffix when
// that second is taken) and points root/<scenario>/latest at it.
func NewRunDir(root, scenario string, now time.Time) (string, error) {
	if scenario == "" || scenario == "." || scenario == ".." || strings.ContainsAny(scenario, `/\`) {
		return "", fmt.Errorf("new run directory: scenario name %q cannot be a directory name; use letters, digits and dashes", scenario)
	}
	parent := filepath.Join(root, scenario)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("new run directory: %w", err)
	}
	stamp := now.UTC().Format(runDirLayout)
	var dir string
	for n := 0; ; n++ {
		name := stamp
		if n > 0 {
			name += "-" + strconv.Itoa(n)
		}
		dir = filepath.Join(parent, name)
		// Mkdir, not MkdirAll: it fails on an existing directory, which is
		// what makes two runs in one second (even concurrent ones) distinct.
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("new run directory: %w", err)
		}
	}
	if err := pointLatest(parent, filepath.Base(dir)); err != nil {
		return dir, err
	}
	return dir, nil
}

// pointLatest replaces parent/latest with a relative symlink to target by
// renaming a fresh link over it, so readers never find it missing.
func pointLatest(parent, target string) error {
	link := filepath.Join(parent, LatestLink)
	if fi, err := os.Lstat(link); err == nil && fi.Mode()&fs.ModeSymlink == 0 {
		return fmt.Errorf("point %s at %s: it exists and is not a symlink; move it away", link, target)
	}
	tmp := filepath.Join(parent, fmt.Sprintf(".%s.tmp-%d-%d", LatestLink, os.Getpid(), time.Now().UnixNano()))
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("point %s at %s: %w", link, target, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("point %s at %s: %w", link, target, err)
	}
	return nil
}

// FindRuns returns the run directories at or below each root: directories
// holding a results.json. Unjudged are directories that hold a history but
// no results.json (a harness killed before it wrote them; zkchaos check
// judges them). Latest links are skipped, so no run counts twice; both lists
// are sorted and free of duplicates.
func FindRuns(roots ...string) (runs, unjudged []string, err error) {
	judged, pending := map[string]bool{}, map[string]bool{}
	for _, root := range roots {
		// A root may itself be a latest link: walk what it points at.
		root, err := filepath.EvalSymlinks(root)
		if err != nil {
			return nil, nil, fmt.Errorf("find runs: %w", err)
		}
		r, u, err := FindRunsFS(os.DirFS(root), ".")
		if err != nil {
			return nil, nil, fmt.Errorf("find runs in %s: %w", root, err)
		}
		for _, d := range r {
			judged[filepath.Join(root, filepath.FromSlash(d))] = true
		}
		for _, d := range u {
			pending[filepath.Join(root, filepath.FromSlash(d))] = true
		}
	}
	return slices.Sorted(maps.Keys(judged)), slices.Sorted(maps.Keys(pending)), nil
}

// FindRunsFS is FindRuns for the directory dir (a slash path) in fsys, such
// as an os.Root's, through which every file is opened; the directories it
// returns are slash paths in fsys, in walking order.
func FindRunsFS(fsys fs.FS, dir string) (runs, unjudged []string, err error) {
	err = fs.WalkDir(fsys, dir, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err // a *fs.PathError naming the file
		}
		if !d.IsDir() {
			return nil // a latest link is not a directory to WalkDir, so it ends here
		}
		switch {
		case exists(fsys, path.Join(name, ResultsFile)):
			runs = append(runs, name)
		case exists(fsys, path.Join(name, history.FileName)):
			unjudged = append(unjudged, name)
		default:
			return nil
		}
		return fs.SkipDir // a run holds no runs
	})
	return runs, unjudged, err
}

// exists reports whether name is in fsys. A symlink counts, even one that
// leads nowhere or outside an os.Root: its run is found, and reading it
// says what is wrong.
func exists(fsys fs.FS, name string) bool {
	_, err := fs.Lstat(fsys, name)
	return err == nil
}
