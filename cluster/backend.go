package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultBackend is the backend of a scenario that names none.
const DefaultBackend = "local"

// Backend is a place where ensembles run: real processes on this machine, a
// Kubernetes cluster. A backend registers itself (Register) when its package
// is imported, and everything above this package reaches it by the name a
// scenario's cluster.backend gives (Lookup), never by importing it.
type Backend interface {
	// Name names the backend in scenario files, e.g. "local".
	Name() string
	// NewSection returns the backend's part of a scenario's cluster
	// section, empty, for the scenario decoder to fill.
	NewSection() Section
	// DefaultStartTimeout is the default of cluster.start-timeout.
	DefaultStartTimeout() time.Duration
	// Prepare readies what a run needs before anything starts, so that what
	// is missing fails the run at once (spec.Dir is not set yet), and
	// returns the label of the servers' build for the run's results. An
	// error caused by a setting of the scenario matches ErrBadSetting.
	Prepare(ctx context.Context, spec Spec) (string, error)
	// Start starts the ensemble, or connects to it, and returns it healthy;
	// what it started is gone again when it fails.
	Start(ctx context.Context, spec Spec) (Cluster, error)
	// Heal removes what runs of this backend that were killed left behind,
	// writes a line to out for each thing removed or still there, and
	// returns how many it found. A request for another kind of leftovers
	// (HealRequest.Remote) finds nothing.
	Heal(ctx context.Context, req HealRequest, out io.Writer) (int, error)
	// Distribution resolves a distribution name (as cluster.distribution
	// gives it) to the label of its build, fetching it if need be: what
	// compare runs each side on. A backend that does not choose its
	// servers' build says so in the error.
	Distribution(ctx context.Context, name string) (string, error)
}

// Section is a backend's part of a scenario's cluster section: a pointer to
// a struct whose yaml-tagged fields sit in the file's cluster: mapping beside
// backend, nodes and start-timeout, decoded by the scenario decoder (so that
// every error names the file, the line and the field). Paths given to and
// by its methods are relative to cluster:, e.g. "tick-time" or
// "kubernetes.connect".
type Section interface {
	// Defaults fills every field the file left out; given reports whether
	// the file spelled a field, so that an explicit zero is validated
	// rather than replaced.
	Defaults(given Given)
	// Validate reports, through check, every value that decodes but makes
	// no sense.
	Validate(check Check)
	// DistributionName names the servers' build as cluster.distribution
	// does, or is "" when the backend does not choose it: the default of a
	// rollback's target, and a run's label in comparisons.
	DistributionName() string
	// SessionTimeouts bounds the session timeout the servers grant.
	SessionTimeouts() SessionBounds
}

// SessionBounds bound the session timeout servers grant a client.
type SessionBounds struct {
	// Min is the shortest, for the reason MinWhy (e.g. "two tick times");
	// there is no lower bound when MinWhy is empty.
	Min    time.Duration
	MinWhy string
	// Max is the longest, for the reason MaxWhy; 0 means no bound.
	Max    time.Duration
	MaxWhy string
}

// Refuser is a Section that says itself why the settings of other
// backends do not apply to it. The settings of another backend given in a
// section that is no Refuser are refused as applying only to that backend.
type Refuser interface {
	// Refusal says why settings of other backends do not apply, e.g.
	// "the StatefulSet configures the servers".
	Refusal() string
}

// Given reports whether a scenario file spelled the field at path.
type Given func(path string) bool

// SetDefault sets *p to v when the file did not spell the field at path.
func SetDefault[T any](given Given, p *T, path string, v T) {
	if !given(path) {
		*p = v
	}
}

// Check records a problem with the field at path when ok is false; the
// message is format with args.
type Check func(ok bool, path, format string, args ...any)

// OneOf records a problem when v is not one of allowed.
func (c Check) OneOf(v, path string, allowed []string) {
	c(slices.Contains(allowed, v), path, "%q is not one of: %s", v, strings.Join(allowed, ", "))
}

// Spec is what a backend is told about one run.
type Spec struct {
	// Scenario names the scenario, for messages.
	Scenario string
	// Section is the backend's part of the scenario, defaults applied.
	Section Section
	// Nodes is the number of servers.
	Nodes int
	// StartTimeout bounds how long the ensemble may take to become healthy.
	StartTimeout time.Duration
	// Needs is what the run's faults ask of the ensemble, so that it is
	// started with the means to (Capabilities.Links, Capabilities.Clocks).
	Needs Capabilities
	// Distributions are the builds faults restart servers on (upgrades and
	// rollbacks), beside the section's own.
	Distributions []string
	// Dir is the run directory; empty for Prepare.
	Dir string
	// Logger receives the backend's structured log.
	Logger *slog.Logger
}

// ErrBadSetting marks errors of Backend.Prepare caused by a setting of the
// scenario (a distribution that is none, say) rather than by the machine.
var ErrBadSetting = errors.New("bad setting")

// badSettingError is an error matching ErrBadSetting with the message of
// the error it wraps.
type badSettingError struct{ err error }

func (e badSettingError) Error() string        { return e.err.Error() }
func (e badSettingError) Unwrap() error        { return e.err }
func (e badSettingError) Is(target error) bool { return target == ErrBadSetting }

// BadSetting marks err as caused by a setting of the scenario.
func BadSetting(err error) error { return badSettingError{err: err} }

// HealRequest says which leftovers `zkchaos heal` removes.
type HealRequest struct {
	// Remote asks for the leftovers in a cluster the harness reaches
	// through an API (heal --kubernetes) rather than on this machine.
	Remote bool
	// Root holds run directories at any depth; Dirs, when given, are the
	// only run directories to look at (this machine).
	Root string
	Dirs []string
	// Kubeconfig, Context and Namespace say where remote leftovers are
	// (empty: the defaults; Namespace "*" means all namespaces); Run, when
	// set, limits healing to one run's objects.
	Kubeconfig, Context, Namespace, Run string
}

var (
	registryMu sync.Mutex
	registry   = map[string]Backend{}
)

// Register makes a backend known by its name. It panics when the name is
// taken: two backends with one name are a mistake of the program.
func Register(b Backend) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, ok := registry[b.Name()]; ok {
		panic(fmt.Sprintf("cluster: backend %q registered twice", b.Name()))
	}
	registry[b.Name()] = b
}

// Lookup returns the backend registered under name.
func Lookup(name string) (Backend, error) {
	registryMu.Lock()
	b, ok := registry[name]
	registryMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("backend %q is not one of: %s", name, strings.Join(BackendNames(), ", "))
	}
	return b, nil
}

// Backends returns every registered backend, sorted by name.
func Backends() []Backend {
	registryMu.Lock()
	defer registryMu.Unlock()
	out := make([]Backend, 0, len(registry))
	for _, b := range registry {
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b Backend) int { return strings.Compare(a.Name(), b.Name()) })
	return out
}

// BackendNames returns the names of the registered backends, sorted.
func BackendNames() []string {
	var names []string
	for _, b := range Backends() {
		names = append(names, b.Name())
	}
	return names
}
