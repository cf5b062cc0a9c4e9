package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/local/diskfs"
)

// BackendName names the local backend in scenario files.
const BackendName = cluster.DefaultBackend

// The local backend registers itself on import: the command's registration
// file only imports it, and a test that runs local scenarios imports it
// blank.
func init() { cluster.Register(backend{}) }

// Section is the local backend's part of a scenario's cluster section:
// settings of the servers this machine runs.
type Section struct {
	// Distribution is "debian" (default: Debian's installed zookeeper
	// package), "debian=VERSION" (that version of Debian's
	// libzookeeper-java, fetched once into the user's cache) or the path of
	// an unpacked Apache ZooKeeper binary release.
	Distribution string `yaml:"distribution"`
	// TickTime is ZooKeeper's tickTime (default 500ms).
	TickTime time.Duration `yaml:"tick-time"`
	// JVMFlags tune each server's JVM (default: a small serial-GC heap
	// that starts fast, DefaultJVMFlags).
	JVMFlags []string `yaml:"jvm-flags"`
	// ForceSync makes servers fsync their transaction log (default true).
	ForceSync bool `yaml:"force-sync"`
}

var _ cluster.Section = (*Section)(nil)

// Defaults implements cluster.Section.
func (s *Section) Defaults(given cluster.Given) {
	cluster.SetDefault(given, &s.Distribution, "distribution", "debian")
	cluster.SetDefault(given, &s.TickTime, "tick-time", DefaultTickTime)
	cluster.SetDefault(given, &s.JVMFlags, "jvm-flags", DefaultJVMFlags())
	cluster.SetDefault(given, &s.ForceSync, "force-sync", true)
}

// Validate implements cluster.Section.
func (s *Section) Validate(check cluster.Check) {
	err := cluster.CheckDistributionName(s.Distribution)
	check(err == nil, "distribution", "%v", err)
	check(s.TickTime >= 10*time.Millisecond, "tick-time", "must be at least 10ms, got %s", s.TickTime)
	check(s.TickTime <= DefaultMaxSessionTimeout/2, "tick-time",
		"must be at most %s (a session lasts at least two ticks and at most the servers' maxSessionTimeout, %s), got %s",
		DefaultMaxSessionTimeout/2, DefaultMaxSessionTimeout, s.TickTime)
	check(s.TickTime%time.Millisecond == 0, "tick-time", "must be a whole number of milliseconds, got %s", s.TickTime)
	for _, f := range s.JVMFlags {
		check(strings.HasPrefix(f, "-") && strings.TrimSpace(f) == f, "jvm-flags",
			"each flag must start with - and carry no surrounding spaces, got %q", f)
	}
}

// DistributionName implements cluster.Section.
func (s *Section) DistributionName() string { return s.Distribution }

// SessionTimeouts implements cluster.Section: at least two ticks, at most
// the servers' maxSessionTimeout.
func (s *Section) SessionTimeouts() cluster.SessionBounds {
	return cluster.SessionBounds{Min: 2 * s.TickTime, MinWhy: "two tick times",
		Max: DefaultMaxSessionTimeout, MaxWhy: "the servers' maxSessionTimeout: a longer one is cut to it"}
}

// backend runs real ZooKeeper processes on this machine.
type backend struct{}

func (backend) Name() string                       { return BackendName }
func (backend) NewSection() cluster.Section        { return &Section{} }
func (backend) DefaultStartTimeout() time.Duration { return DefaultStartTimeout }

// section returns the local part of a run's spec.
func section(spec cluster.Spec) (*Section, error) {
	s, ok := spec.Section.(*Section)
	if !ok {
		return nil, fmt.Errorf("scenario %s: the local backend cannot run a cluster section of type %T", spec.Scenario, spec.Section)
	}
	return s, nil
}

// Prepare resolves (and fetches) every distribution the run needs, its own
// and those faults restart servers on, so that a missing one fails the run
// at once, and checks that clock and disk faults can be injected. It returns the
// label of the servers' distribution.
func (backend) Prepare(ctx context.Context, spec cluster.Spec) (string, error) {
	sec, err := section(spec)
	if err != nil {
		return "", err
	}
	dist, err := prepareDistribution(ctx, sec.Distribution, spec.Logger)
	if err != nil {
		return "", err
	}
	for _, name := range spec.Distributions {
		if name == sec.Distribution {
			continue
		}
		if _, err := prepareDistribution(ctx, name, spec.Logger); err != nil {
			return "", fmt.Errorf("scenario %s: a fault restarts nodes on %s: %w", spec.Scenario, name, err)
		}
	}
	if spec.Needs.Clocks() {
		if _, err := FindFaketime(); err != nil {
			return "", fmt.Errorf("scenario %s has clock faults: %w", spec.Scenario, err)
		}
	}
	if spec.Needs.Disks() {
		if err := diskfs.Probe(os.TempDir()); err != nil {
			return "", cluster.BadSetting(fmt.Errorf("scenario %s has disk faults: %w", spec.Scenario, err))
		}
	}
	return dist.Name(), nil
}

// prepareDistribution resolves a distribution name, fetching it when it is
// not cached yet, and logs what it found and how long that took.
func prepareDistribution(ctx context.Context, name string, log *slog.Logger) (Distribution, error) {
	started := time.Now()
	d, err := FindDistribution(ctx, name)
	if errors.Is(err, ErrNotADistribution) {
		return d, cluster.BadSetting(err)
	}
	if err != nil {
		return d, err
	}
	if log != nil {
		log.Info("distribution ready", "name", name, "distribution", d.Name(), "jars", d.Dir,
			"took", time.Since(started).Round(time.Millisecond))
	}
	return d, nil
}

// Start starts the run's ensemble in its run directory.
func (backend) Start(ctx context.Context, spec cluster.Spec) (cluster.Cluster, error) {
	sec, err := section(spec)
	if err != nil {
		return nil, err
	}
	return Start(ctx, Config{
		Dir:          spec.Dir,
		Nodes:        spec.Nodes,
		Distribution: sec.Distribution,
		TickTime:     sec.TickTime,
		JVMFlags:     sec.JVMFlags,
		ForceSync:    sec.ForceSync,
		StartTimeout: spec.StartTimeout,
		Partitions:   spec.Needs.Links(),
		Clock:        spec.Needs.Clocks(),
		Reconfig:     spec.Needs[cluster.CapReconfig],
		Spares:       sparesFor(spec.Needs),
		Disk:         spec.Needs.Disks(),
		Logger:       spec.Logger,
	})
}

// ReconfigSpares is how many spare servers an ensemble gets when its
// scenario changes membership: enough to grow three voters to five.
const ReconfigSpares = 2

// sparesFor is how many spares a run with these needs gets.
func sparesFor(needs cluster.Capabilities) int {
	if needs[cluster.CapReconfig] {
		return ReconfigSpares
	}
	return 0
}

// Heal stops the servers still running from the run directories asked for
// (all under req.Root when none is named), removes the files libfaketime
// left in /dev/shm for servers killed with a harness and unmounts their
// stale diskfs mounts.
func (backend) Heal(ctx context.Context, req cluster.HealRequest, out io.Writer) (int, error) {
	if req.Remote {
		return 0, nil
	}
	left, err := HealRuns(ctx, req.Root, req.Dirs)
	for _, l := range left {
		if len(l.Killed) > 0 {
			fmt.Fprintf(out, "%s: stopped %d server(s): %v\n", l.Dir, len(l.Killed), l.Killed)
		}
		if len(l.Running) > 0 {
			fmt.Fprintf(out, "%s: %d server(s) still running: %v\n", l.Dir, len(l.Running), l.Running)
		}
		if len(l.SharedMemory) > 0 {
			fmt.Fprintf(out, "%s: removed %d libfaketime file(s) from /dev/shm\n", l.Dir, len(l.SharedMemory))
		}
		if len(l.Disks) > 0 {
			fmt.Fprintf(out, "%s: unmounted %d stale diskfs mount(s): %v\n", l.Dir, len(l.Disks), l.Disks)
		}
	}
	return len(left), err
}

// Distribution resolves a distribution name, fetching it if need be.
func (backend) Distribution(ctx context.Context, name string) (string, error) {
	return describe(ctx, name)
}
