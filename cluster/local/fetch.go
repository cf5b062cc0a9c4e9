package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/cluster"
)

// debianPackage is the Debian package that holds ZooKeeper's jars.
const debianPackage = "libzookeeper-java"

// aptHint says what to do when apt is missing.
const aptHint = "fetching a Debian package needs apt-get, apt-cache and dpkg (a Debian or Ubuntu machine); " +
	"elsewhere, set the distribution to the path of an unpacked ZooKeeper release"

// CacheDir returns the directory that fetched distributions are kept in:
// zkchaos/zookeeper under the user's cache directory ($XDG_CACHE_HOME, by
// default ~/.cache).
func CacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("cache directory for fetched ZooKeeper distributions: %w", err)
	}
	return filepath.Join(base, "zkchaos", "zookeeper"), nil
}

// FetchDebian returns the directory holding Debian's libzookeeper-java at
// the given package version, unpacked (DIR/usr/share/java/zookeeper.jar).
// The first call fetches it into CacheDir()/debian/VERSION: apt-get
// download in a temporary directory next to the cache, dpkg -x, then a
// rename into place, so that a crash never leaves a half-written copy and
// concurrent fetches of one version all succeed (the first rename wins, the
// others use its copy). Later calls use the cached copy. The system's
// packages are never touched.
//
// The version must be one that apt's package lists know, or one of another
// Debian suite of the same archives: named as VERSION@SUITE (e.g.
// 3.9.3-1@trixie), or implied by a stable update's "+debNNuM" (3.9.3-1+deb13u1
// is trixie's). Such a suite gets a private apt state under
// CacheDir()/apt/SUITE (suiteApt). The error lists the versions known.
func FetchDebian(ctx context.Context, version string) (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", fmt.Errorf("fetch debian=%s: %w", version, err)
	}
	return debianFetcher{dir: filepath.Join(cache, "debian"), aptDir: filepath.Join(cache, "apt"), root: "/", run: runCommand}.fetch(ctx, version)
}

// runFunc runs a command in dir ("" for the current directory) and returns
// its combined output.
type runFunc func(ctx context.Context, dir, name string, args ...string) ([]byte, error)

// debianFetcher fetches package versions into dir, one subdirectory each;
// the private apt states of other suites go under aptDir, made from the
// apt sources under root.
type debianFetcher struct {
	dir, aptDir, root string
	run               runFunc
}

// fetch returns dir/version, fetching it first when it is not there; name
// is VERSION or VERSION@SUITE.
func (f debianFetcher) fetch(ctx context.Context, name string) (string, error) {
	if err := cluster.CheckDistributionName(cluster.DebianPrefix + name); err != nil {
		return "", fmt.Errorf("fetch: %w", err)
	}
	version, suite := splitSuite(name)
	final := filepath.Join(f.dir, version)
	if ok, err := cached(final); ok || err != nil {
		return final, err
	}
	opts, err := f.locate(ctx, version, suite)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return "", fmt.Errorf("fetch debian=%s: %w", version, err)
	}
	// Next to the cache, so that the rename is atomic; the leading dot
	// keeps it apart from versions, which start with a digit.
	tmp, err := os.MkdirTemp(f.dir, ".fetch-"+version+"-")
	if err != nil {
		return "", fmt.Errorf("fetch debian=%s: %w", version, err)
	}
	defer os.RemoveAll(tmp)
	download := filepath.Join(tmp, "download")
	if err := os.Mkdir(download, 0o755); err != nil {
		return "", fmt.Errorf("fetch debian=%s: %w", version, err)
	}
	if out, err := f.run(ctx, download, "apt-get", append(opts, "download", "-q", debianPackage+"="+version)...); err != nil {
		return "", fmt.Errorf("fetch debian=%s: apt-get download %s=%s failed: %w\n%s",
			version, debianPackage, version, err, indent(lastLines(out, tailSize)))
	}
	debs, err := filepath.Glob(filepath.Join(download, "*.deb"))
	if err != nil || len(debs) != 1 {
		return "", fmt.Errorf("fetch debian=%s: apt-get download left %d .deb files in %s, want 1", version, len(debs), download)
	}
	tree := filepath.Join(tmp, "tree")
	if out, err := f.run(ctx, tmp, "dpkg", "-x", debs[0], tree); err != nil {
		return "", fmt.Errorf("fetch debian=%s: dpkg -x %s failed: %w\n%s",
			version, filepath.Base(debs[0]), err, indent(lastLines(out, tailSize)))
	}
	if !fileExists(filepath.Join(tree, "usr", "share", "java", "zookeeper.jar")) {
		return "", fmt.Errorf("fetch debian=%s: %s holds no usr/share/java/zookeeper.jar", version, filepath.Base(debs[0]))
	}
	if err := os.Rename(tree, final); err != nil {
		// Another fetch of this version got there first: use its copy.
		if ok, cerr := cached(final); ok || cerr != nil {
			return final, cerr
		}
		return "", fmt.Errorf("fetch debian=%s: %w", version, err)
	}
	return final, nil
}

// cached reports whether dir holds a fetched package. A dir that exists
// without zookeeper.jar was not made by fetch: the error says to remove it.
func cached(dir string) (bool, error) {
	_, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("fetched distribution cache: %w", err)
	}
	if !fileExists(filepath.Join(dir, "usr", "share", "java", "zookeeper.jar")) {
		return false, fmt.Errorf("fetched distribution cache %s holds no usr/share/java/zookeeper.jar: remove it to fetch again", dir)
	}
	return true, nil
}

// locate finds the package lists that hold version: the system's (no apt
// options), else suite's private state (its options), fetching the suite's
// lists once, and again when they do not hold version. Otherwise it fails,
// listing the versions known.
func (f debianFetcher) locate(ctx context.Context, version, suite string) ([]string, error) {
	known, err := f.known(ctx, version, nil)
	if err != nil || slices.Contains(known, version) {
		return nil, err
	}
	if suite == "" {
		if len(known) == 0 {
			return nil, fmt.Errorf("fetch debian=%s: apt knows no version of %s: its package lists are empty "+
				"(run apt-get update, as root, and try again)", version, debianPackage)
		}
		return nil, fmt.Errorf("fetch debian=%s: no such version; apt knows these versions of %s: %s "+
			"(a newer one may need apt-get update, one of another Debian suite VERSION@SUITE, e.g. debian=3.9.3-1@trixie)",
			version, debianPackage, strings.Join(known, ", "))
	}
	apt := suiteApt{dir: filepath.Join(f.aptDir, suite), suite: suite, root: f.root, run: f.run}
	var inSuite []string
	for _, refresh := range []bool{false, true} {
		opts, err := apt.prepare(ctx, refresh)
		if err != nil {
			return nil, fmt.Errorf("fetch debian=%s: %w", version, err)
		}
		if inSuite, err = f.known(ctx, version, opts); err != nil || slices.Contains(inSuite, version) {
			return opts, err
		}
	}
	return nil, fmt.Errorf("fetch debian=%s: no such version in %s, which has %s; apt's own lists have %s",
		version, suite, listOrNone(inSuite), listOrNone(known))
}

// known lists the versions of the package that the package lists opts
// select know.
func (f debianFetcher) known(ctx context.Context, version string, opts []string) ([]string, error) {
	out, err := f.run(ctx, "", "apt-cache", append(opts, "madison", debianPackage)...)
	if err != nil {
		return nil, fmt.Errorf("fetch debian=%s: apt-cache madison %s failed: %w\n%s",
			version, debianPackage, err, indent(lastLines(out, tailSize)))
	}
	return madisonVersions(out, debianPackage), nil
}

// listOrNone joins versions, or says there are none.
func listOrNone(versions []string) string {
	if len(versions) == 0 {
		return "none"
	}
	return strings.Join(versions, ", ")
}

// madisonVersions reads the versions of pkg out of apt-cache madison's
// "pkg | version | source" lines, each once, in order.
func madisonVersions(out []byte, pkg string) []string {
	var versions []string
	for line := range strings.Lines(string(out)) {
		fields := strings.Split(line, "|")
		if len(fields) < 3 || strings.TrimSpace(fields[0]) != pkg {
			continue
		}
		if v := strings.TrimSpace(fields[1]); v != "" && !slices.Contains(versions, v) {
			versions = append(versions, v)
		}
	}
	return versions
}

// runCommand runs a command and returns its combined output; a missing
// command's error says what it takes.
func runCommand(ctx context.Context, dir, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if errors.Is(err, exec.ErrNotFound) {
		return out, fmt.Errorf("%w: %s", err, aptHint)
	}
	if err != nil && ctx.Err() != nil {
		return out, fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return out, err
}

// installedDebianVersion returns the version of the installed
// libzookeeper-java as dpkg-query reports it, or "" when dpkg cannot tell
// (not a Debian system, or the package is not installed).
func installedDebianVersion(ctx context.Context) string {
	cmd := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${db:Status-Abbrev}\t${Version}", debianPackage)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	status, version, ok := strings.Cut(string(out), "\t")
	if !ok || !strings.HasPrefix(status, "ii") {
		return ""
	}
	return strings.TrimSpace(version)
}

// lastLines returns the last n lines of out, or a note that it is empty.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return "(no output)"
	}
	return strings.Join(lines, "\n")
}
