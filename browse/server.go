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
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/reports"
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

// Comparer writes a side-by-side comparison page of the runs a (the
// baseline) and b to w: directories in fsys, slash paths, each a run or
// holding runs. It reads every file through fsys.
type Comparer func(ctx context.Context, fsys fs.FS, a, b []string, w io.Writer) error

// Server is the run browser's HTTP handler.
type Server struct {
	// Root is the directory of runs.
	Root string
	// Addr is the address the browser listens on (host:port; Serve sets
	// it). Requests naming another host are refused.
	Addr string
	// Compare renders comparisons of selected runs; without it the index
	// offers none.
	Compare Comparer
	// Logger receives request errors.
	Logger *slog.Logger
}

// pagePolicy is the content security policy of the browser's own pages:
// inline styles, no script, forms only to itself, never framed.
const pagePolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler returns the routes: / (the index, filtered by ?verdict= and
// ?scenario=), /index.json, /runs/… (the files under Root) and /compare.
// Every file is opened through an os.Root, so that no symlink leads outside
// Root, and requests naming a host other than Addr or localhost are refused.
func (s *Server) Handler() (http.Handler, error) {
	root, err := os.OpenRoot(s.Root)
	if err != nil {
		return nil, fmt.Errorf("run browser: %w", err)
	}
	files := root.FS()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { s.index(w, r, files) })
	mux.HandleFunc("GET /index.json", func(w http.ResponseWriter, _ *http.Request) { s.indexJSON(w, files) })
	mux.Handle("GET /runs/", http.StripPrefix("/runs/", http.FileServerFS(files)))
	if s.Compare != nil {
		mux.HandleFunc("GET /compare", func(w http.ResponseWriter, r *http.Request) { s.compare(w, r, files) })
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		policy := pagePolicy
		if strings.HasPrefix(r.URL.Path, "/runs/") {
			policy = reports.ContentSecurityPolicy
		}
		w.Header().Set("Content-Security-Policy", policy)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if !s.hostAllowed(r.Host) {
			http.Error(w, fmt.Sprintf("the run browser answers requests for %s or localhost only, not for %q", s.Addr, r.Host),
				http.StatusMisdirectedRequest)
			return
		}
		mux.ServeHTTP(w, r)
	}), nil
}

// hostAllowed reports whether a request's Host header names the address
// the browser listens on or localhost, with the port it listens on if any.
// A page on another site whose name was rebound to 127.0.0.1 (DNS
// rebinding) sends its own name, and is refused.
func (s *Server) hostAllowed(host string) bool {
	name, port, err := net.SplitHostPort(host)
	if err != nil {
		name, port = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), ""
	}
	boundHost, boundPort, err := net.SplitHostPort(s.Addr)
	if err != nil {
		boundHost, boundPort = "", ""
	}
	if port != "" && boundPort != "" && port != boundPort {
		return false
	}
	if strings.EqualFold(name, "localhost") {
		return true
	}
	ip, bound := net.ParseIP(name), net.ParseIP(boundHost)
	return ip != nil && bound != nil && ip.Equal(bound)
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

func (s *Server) index(w http.ResponseWriter, r *http.Request, files fs.FS) {
	idx, err := List(files)
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

func (s *Server) indexJSON(w http.ResponseWriter, files fs.FS) {
	idx, err := List(files)
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
func (s *Server) compare(w http.ResponseWriter, r *http.Request, files fs.FS) {
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
	if err := s.Compare(r.Context(), files, a, b, &buf); err != nil {
		s.fail(w, fmt.Errorf("compare: %w", err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// runDirs checks that run paths are clean slash paths inside Root.
func (s *Server) runDirs(rels []string) ([]string, error) {
	for _, rel := range rels {
		if !fs.ValidPath(rel) || rel == "." {
			return nil, fmt.Errorf("run %q is not a path inside %s", rel, s.Root)
		}
	}
	return rels, nil
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	if s.Logger != nil {
		s.Logger.Error("run browser", "err", err)
	}
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// Serve answers on ln until ctx ends, then shuts down within a few seconds.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.Addr = ln.Addr().String()
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
