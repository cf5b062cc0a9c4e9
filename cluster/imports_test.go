package cluster

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// module is this module's import path.
const module = "github.com/zkchaos/zkchaos/"

// backendImporters may import a backend package: the command's
// registration file. Backends import their own sub-packages, and tests may
// import backends (blank, to register them).
var backendImporters = []string{"cmd/zkchaos/backends.go"}

// TestOnlyTheRegistrationFileImportsABackend parses the imports of every
// Go file of the module: outside the backends themselves only the
// command's registration file names cluster/local or cluster/k8s, and only
// the kubernetes backend names deploy.
func TestOnlyTheRegistrationFileImportsABackend(t *testing.T) {
	rules := []struct{ pkg, owner string }{
		{"cluster/local", "cluster/local"},
		{"cluster/k8s", "cluster/k8s"},
		{"deploy", "cluster/k8s"},
	}
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != ".." {
			return fs.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel("..", path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return err
			}
			for _, r := range rules {
				target := module + r.pkg
				if p != target && !strings.HasPrefix(p, target+"/") {
					continue
				}
				inside := strings.HasPrefix(rel, r.pkg+"/") || strings.HasPrefix(rel, r.owner+"/")
				if !inside && !slices.Contains(backendImporters, rel) {
					t.Errorf("%s imports %s: only %v and the backends themselves may", rel, p, backendImporters)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("only %d Go files found under the module root", checked)
	}
}
