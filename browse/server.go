package browse

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/checker"
)

//go:embed index.html.tmpl
var indexTemplate string

var indexPage = template.Must(template.New("index").Funcs(template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "n/a"
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"dur": func(d time.Duration) string {
		if d <= 0 {
			return "n/a"
		}
		return d.Round(time.Second).String()
	},
}).Parse(indexTemplate))

// Comparer writes a side-by-side comparison page of the run directories a
// (the baseline) and b to w.
type Comparer func(ctx context.Context, a, b []string, w io.Writer) error

// Server is the run browser's HTTP handler.
type Server struct {
	// Root is the directory of runs.
	Root string
	// Compare renders comparisons of selected runs; without it the index
	// offers none.
	Compare Comparer
	// Logger receives request errors.
	Logger *slog.Logger
}

// Handler returns the routes: / (the index, filtered by ?verdict= and
// ?scenario=), /index.json, /runs/… (the files under Root) and /compare.
func (s *Server) Handler() (http.Handler, error) {
	root, err := os.OpenRoot(s.Root)
	if err != nil {
		return nil, fmt.Errorf("run browser: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.index)
	mux.HandleFunc("GET /index.json", s.indexJSON)
	// os.Root keeps every file, symlinks included, inside the root.
	mux.Handle("GET /runs/", http.StripPrefix("/runs/", http.FileServerFS(root.FS())))
	if s.Compare != nil {
		mux.HandleFunc("GET /compare", s.compare)
	}
	return mux, nil
}

// indexData is the index page's template data.
type indexData struct {
	Root        string
	Runs        []Run
	Total       int
	Verdicts    []verdictCount
	Scenarios   []string
	Verdict     string
	Scenario    string
	Comparisons []Comparison
	CanCompare  bool
}

type verdictCount struct {
	Verdict string
	Count   int
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	idx, err := List(s.Root)
	if err != nil {
		s.fail(w, err)
		return
	}
	d := indexData{
		Root: s.Root, Total: len(idx.Runs), Comparisons: idx.Comparisons, CanCompare: s.Compare != nil,
		Verdict: r.URL.Query().Get("verdict"), Scenario: r.URL.Query().Get("scenario"),
	}
	counts := map[checker.Verdict]int{}
	for _, run := range idx.Runs {
		counts[run.Verdict]++
		if !slices.Contains(d.Scenarios, run.Scenario) && run.Scenario != "" {
			d.Scenarios = append(d.Scenarios, run.Scenario)
		}
		if (d.Verdict == "" || string(run.Verdict) == d.Verdict) && (d.Scenario == "" || run.Scenario == d.Scenario) {
			d.Runs = append(d.Runs, run)
		}
	}
	slices.Sort(d.Scenarios)
	for _, v := range []checker.Verdict{checker.Valid, checker.Invalid, checker.Unknown} {
		d.Verdicts = append(d.Verdicts, verdictCount{Verdict: string(v), Count: counts[v]})
	}
	var buf bytes.Buffer
	if err := indexPage.Execute(&buf, d); err != nil {
		s.fail(w, fmt.Errorf("render index: %w", err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) indexJSON(w http.ResponseWriter, _ *http.Request) {
	idx, err := List(s.Root)
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(idx)
}

// compare renders the comparison of the runs selected as ?a= and ?b=.
func (s *Server) compare(w http.ResponseWriter, r *http.Request) {
	a, errA := s.runDirs(r.URL.Query()["a"])
	b, errB := s.runDirs(r.URL.Query()["b"])
	if err := errors.Join(errA, errB); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if len(a) == 0 || len(b) == 0 {
		http.Error(w, "select at least one run as A and one as B", http.StatusBadRequest)
		return
	}
	var buf bytes.Buffer
	if err := s.Compare(r.Context(), a, b, &buf); err != nil {
		s.fail(w, fmt.Errorf("compare: %w", err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// runDirs turns run paths relative to Root into directories, refusing any
// that would leave it.
func (s *Server) runDirs(rels []string) ([]string, error) {
	var dirs []string
	for _, rel := range rels {
		clean := path.Clean("/" + rel)[1:]
		if clean == "" || clean != rel || strings.HasPrefix(clean, "../") {
			return nil, fmt.Errorf("run %q is not a path inside %s", rel, s.Root)
		}
		dirs = append(dirs, filepath.Join(s.Root, filepath.FromSlash(clean)))
	}
	return dirs, nil
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	if s.Logger != nil {
		s.Logger.Error("run browser", "err", err)
	}
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// Serve answers on ln until ctx ends, then shuts down within a few seconds.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	h, err := s.Handler()
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("run browser: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("run browser: shut down: %w", err)
	}
	return nil
}

// Loopback checks that addr (host:port) names a loopback address, so that
// the browser is never reachable from other machines.
func Loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("address %q: the run browser listens on loopback only (127.0.0.0/8, ::1 or localhost)", addr)
}
