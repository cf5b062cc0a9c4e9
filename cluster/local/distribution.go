package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/zkchaos/zkchaos/cluster"
)

// Layout says how a ZooKeeper distribution's jars are laid out on disk.
type Layout string

const (
	// LayoutDebian is Debian's libzookeeper-java: zookeeper.jar, whose
	// manifest Class-Path names its dependencies in /usr/share/java, plus a
	// logging backend (slf4j-log4j12 + log4j 1.2) that the package lacks.
	LayoutDebian Layout = "debian"
	// LayoutApache is an unpacked Apache binary release: DIR/lib/*.jar.
	LayoutApache Layout = "apache"
)

// MainClass is the class that runs a replicated ZooKeeper server.
const MainClass = "org.apache.zookeeper.server.quorum.QuorumPeerMain"

// InstallHint says what to install when ZooKeeper or Java is missing.
const InstallHint = `install it with "apt-get install -y zookeeper openjdk-17-jre-headless liblog4j1.2-java libslf4j-java", ` +
	`or set the distribution to an unpacked Apache ZooKeeper release directory`

// debianJavaDir is where Debian installs jars.
const debianJavaDir = "/usr/share/java"

// Log configuration files written into every node directory. Both are always
// written and both are named on the command line, so that any layout finds
// the one its logging backend reads: log4j 1.2 (Debian, Apache up to 3.7) or
// logback (Apache 3.8 and later).
const (
	log4jFile   = "log4j.properties"
	logbackFile = "logback.xml"
)

// ErrNotFound marks errors saying that ZooKeeper, its logging backend or Java
// is missing; the message says what to install.
var ErrNotFound = errors.New("not found")

// ErrNotADistribution marks errors saying that a directory the user named
// as a distribution does not exist or holds no ZooKeeper: bad input, unlike
// a machine without ZooKeeper installed. Such errors match ErrNotFound too.
var ErrNotADistribution = errors.New("not a ZooKeeper distribution")

// notFoundError is an error matching ErrNotFound with its own message.
type notFoundError struct {
	msg string
	// named is set when the user named what is missing.
	named bool
}

// Error returns the message.
func (e *notFoundError) Error() string { return e.msg }

// Is makes errors.Is(err, ErrNotFound) true, and errors.Is(err,
// ErrNotADistribution) for a directory the user named.
func (e *notFoundError) Is(target error) bool {
	return target == ErrNotFound || (e.named && target == ErrNotADistribution)
}

// notFound builds an ErrNotFound error.
func notFound(format string, args ...any) error {
	return &notFoundError{msg: fmt.Sprintf(format, args...)}
}

// notADistribution builds an ErrNotADistribution error.
func notADistribution(format string, args ...any) error {
	return &notFoundError{msg: fmt.Sprintf(format, args...), named: true}
}

// Distribution is a ZooKeeper installation this package can run.
type Distribution struct {
	// Layout is LayoutDebian or LayoutApache.
	Layout Layout `json:"layout"`
	// Dir is where the jars were found: /usr/share/java, an extracted
	// package's usr/share/java, or the root of an Apache release.
	Dir string `json:"dir"`
	// Version is the ZooKeeper version read from the jar names, or "".
	Version string `json:"version,omitempty"`
	// Package is the Debian package version, e.g. "3.8.0-11+deb12u1": the
	// one a "debian=VERSION" name fetched, or the installed one for
	// "debian" (empty when dpkg cannot tell); empty for directories.
	Package string `json:"package,omitempty"`
	// Java is the java executable that runs the servers.
	Java string `json:"java"`
	// Classpath lists the jars, in order.
	Classpath []string `json:"classpath"`
}

// Name labels the distribution for records and reports: "debian
// 3.8.0-11+deb12u2" for a Debian package of known version, otherwise the
// layout, the ZooKeeper version when known and the directory, e.g. "apache
// 3.9.4 (/opt/apache-zookeeper-3.9.4-bin)".
func (d Distribution) Name() string {
	if d.Package != "" {
		return string(LayoutDebian) + " " + d.Package
	}
	if d.Version != "" {
		return fmt.Sprintf("%s %s (%s)", d.Layout, d.Version, d.Dir)
	}
	return fmt.Sprintf("%s (%s)", d.Layout, d.Dir)
}

// FindDistribution resolves a distribution name: "" or "debian" for the
// Debian package installed in /usr/share/java; "debian=VERSION" for that
// version of Debian's libzookeeper-java, fetched into the cache on first
// use (see FetchDebian) and run with the installed package's dependencies;
// otherwise a directory holding an unpacked Apache binary release
// (DIR/lib/zookeeper-*.jar) or an extracted Debian package
// (DIR/usr/share/java/zookeeper.jar, e.g. from dpkg -x). It also finds
// Java. When something is missing the error matches ErrNotFound and says
// what to install.
func FindDistribution(ctx context.Context, name string) (Distribution, error) {
	return finder{
		sysJavaDir: debianJavaDir,
		java:       findJava,
		installed:  installedDebianVersion,
		fetch:      FetchDebian,
	}.find(ctx, name)
}

// finder resolves distribution names; its fields are what tests replace.
type finder struct {
	// sysJavaDir is where the system's jars are (/usr/share/java).
	sysJavaDir string
	// java finds the java executable.
	java func() (string, error)
	// installed returns the installed Debian package version, or "".
	installed func(ctx context.Context) string
	// fetch returns the directory of an unpacked Debian package version.
	fetch func(ctx context.Context, version string) (string, error)
}

// find is FindDistribution.
func (f finder) find(ctx context.Context, name string) (Distribution, error) {
	var d Distribution
	var err error
	version, fetched := cluster.DebianVersion(name)
	switch {
	case name == "" || name == "debian":
		d, err = debianDistribution(f.sysJavaDir, f.sysJavaDir)
		if errors.Is(err, ErrNotFound) {
			return Distribution{}, notFound("ZooKeeper not found (%v): %s", err, InstallHint)
		}
		if err == nil {
			d.Package = f.installed(ctx)
		}
	case fetched:
		// The fetched jar's manifest names its dependencies in the system's
		// jar directory: the installed package brings them.
		if sysJar := filepath.Join(f.sysJavaDir, "zookeeper.jar"); !fileExists(sysJar) {
			return Distribution{}, notFound("ZooKeeper %s runs with the installed package's dependencies, "+
				"but %s is missing: %s", name, sysJar, InstallHint)
		}
		var root string
		if root, err = f.fetch(ctx, version); err != nil {
			return Distribution{}, err
		}
		d, err = debianDistribution(filepath.Join(root, "usr", "share", "java"), f.sysJavaDir)
		if errors.Is(err, ErrNotFound) {
			return Distribution{}, notFound("ZooKeeper %s cannot run (%v): %s", name, err, InstallHint)
		}
		d.Package, _, _ = strings.Cut(version, "@") // the package version, without the suite it came from
	default:
		d, err = dirDistribution(name, f.sysJavaDir)
	}
	if err != nil {
		return Distribution{}, err
	}
	java, err := f.java()
	if err != nil {
		return Distribution{}, err
	}
	d.Java = java
	return d, nil
}

// dirDistribution inspects a directory named by the user.
func dirDistribution(name, sysJavaDir string) (Distribution, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return Distribution{}, fmt.Errorf("ZooKeeper distribution %q: %w", name, err)
	}
	st, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return Distribution{}, notADistribution("ZooKeeper not found: distribution directory %s does not exist; %s", abs, InstallHint)
	}
	if err != nil {
		return Distribution{}, fmt.Errorf("ZooKeeper distribution %s: %w", abs, err)
	}
	if !st.IsDir() {
		return Distribution{}, notADistribution("ZooKeeper not found: distribution %s is not a directory; %s", abs, InstallHint)
	}
	if jars, _ := filepath.Glob(filepath.Join(abs, "lib", "zookeeper-*.jar")); len(jars) > 0 {
		return apacheDistribution(abs)
	}
	for _, jarDir := range []string{filepath.Join(abs, "usr", "share", "java"), abs} {
		if fileExists(filepath.Join(jarDir, "zookeeper.jar")) {
			return debianDistribution(jarDir, sysJavaDir)
		}
	}
	return Distribution{}, notADistribution("ZooKeeper not found: %s holds neither lib/zookeeper-*.jar (an Apache binary release; "+
		"the source release has no lib/) nor usr/share/java/zookeeper.jar (an extracted Debian package); %s", abs, InstallHint)
}

// apacheDistribution builds the classpath of an unpacked Apache binary
// release: every jar of DIR/lib, in name order (what bin/zkEnv.sh does, less
// DIR/conf, since this package writes its own configuration).
func apacheDistribution(dir string) (Distribution, error) {
	jars, err := filepath.Glob(filepath.Join(dir, "lib", "*.jar"))
	if err != nil {
		return Distribution{}, fmt.Errorf("list jars of %s: %w", dir, err)
	}
	sort.Strings(jars)
	return Distribution{
		Layout:    LayoutApache,
		Dir:       dir,
		Version:   versionFromJars(jars),
		Classpath: jars,
	}, nil
}

// debianDistribution builds the classpath of a Debian-style jar directory:
// its zookeeper.jar, preceded by its zookeeper-jute.jar when the directory
// is not the system's, then the log4j 1.2 backend for slf4j from the same
// directory or the system's. The order matters: zookeeper.jar's manifest
// names /usr/share/java/zookeeper-jute.jar, and the JVM searches a jar's
// manifest Class-Path right after the jar itself, ahead of the rest of -cp;
// an extracted package's jute therefore goes first, or the installed one
// would be loaded in its place.
func debianDistribution(jarDir, sysJavaDir string) (Distribution, error) {
	zkJar := filepath.Join(jarDir, "zookeeper.jar")
	if !fileExists(zkJar) {
		return Distribution{}, notFound("%s is missing", zkJar)
	}
	var cp []string
	if jute := filepath.Join(jarDir, "zookeeper-jute.jar"); jarDir != sysJavaDir && fileExists(jute) {
		cp = append(cp, jute)
	}
	cp = append(cp, zkJar)
	for _, name := range []string{"slf4j-log4j12.jar", "log4j-1.2.jar"} {
		jar := filepath.Join(jarDir, name)
		if !fileExists(jar) {
			jar = filepath.Join(sysJavaDir, name)
		}
		if !fileExists(jar) {
			return Distribution{}, notFound("ZooKeeper's logging backend not found (%s is missing): %s", jar, InstallHint)
		}
		cp = append(cp, jar)
	}
	entries, _ := filepath.Glob(filepath.Join(jarDir, "zookeeper-*.jar"))
	return Distribution{
		Layout:    LayoutDebian,
		Dir:       jarDir,
		Version:   versionFromJars(entries),
		Classpath: cp,
	}, nil
}

// versionRE matches the main ZooKeeper jar's name and captures its version.
var versionRE = regexp.MustCompile(`^zookeeper-(\d+\.\d+\.\d+)\.jar$`)

// versionFromJars returns the version of zookeeper-X.Y.Z.jar among jars.
func versionFromJars(jars []string) string {
	for _, j := range jars {
		m := versionRE.FindStringSubmatch(filepath.Base(j))
		if m == nil {
			continue
		}
		return m[1]
	}
	return ""
}

// findJava returns $JAVA_HOME/bin/java, /usr/bin/java or java on $PATH.
func findJava() (string, error) {
	return findJavaFrom(os.Getenv("JAVA_HOME"), "/usr/bin/java", exec.LookPath)
}

// findJavaFrom is findJava with its sources as parameters, for tests.
func findJavaFrom(javaHome, systemJava string, lookPath func(string) (string, error)) (string, error) {
	var tried []string
	if javaHome != "" {
		j := filepath.Join(javaHome, "bin", "java")
		if isExecutable(j) {
			return j, nil
		}
		tried = append(tried, j+" ($JAVA_HOME)")
	}
	if isExecutable(systemJava) {
		return systemJava, nil
	}
	tried = append(tried, systemJava)
	if j, err := lookPath("java"); err == nil {
		return j, nil
	}
	tried = append(tried, "$PATH")
	return "", notFound("Java not found (tried %s): %s", strings.Join(tried, ", "), InstallHint)
}

// Command returns the argv that runs one server: java, the base flags (log
// configuration in nodeDir, faster re-election), jvmFlags (which may override
// the base flags: the last occurrence wins), the classpath, MainClass and
// the zoo.cfg path.
func (d Distribution) Command(jvmFlags []string, nodeDir, cfgPath string) []string {
	argv := []string{d.Java}
	argv = append(argv, baseJVMFlags(nodeDir)...)
	argv = append(argv, jvmFlags...)
	argv = append(argv, "-cp", strings.Join(d.Classpath, string(os.PathListSeparator)), MainClass, cfgPath)
	return argv
}

// baseJVMFlags are the flags every server gets.
func baseJVMFlags(nodeDir string) []string {
	return []string{
		// A URL, so a path with '#' or '%' is escaped, not cut short.
		"-Dlog4j.configuration=" + (&url.URL{Scheme: "file", Path: filepath.Join(nodeDir, log4jFile)}).String(),
		"-Dlogback.configurationFile=" + filepath.Join(nodeDir, logbackFile),
		"-Dzookeeper.jmx.log4j.disable=true",
		// Without these a node that lost its peers backs off to a minute
		// between election notifications and connection attempts.
		"-Dzookeeper.fastleader.maxNotificationInterval=1000",
		"-Dzookeeper.cnxTimeout=1000",
		"-Djava.net.preferIPv4Stack=true",
		// What bin/zkServer.sh does with -XX:OnOutOfMemoryError='kill -9 %p'.
		"-XX:+ExitOnOutOfMemoryError",
	}
}

// fileExists reports whether path exists (following symlinks).
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// isExecutable reports whether path is a regular file with an execute bit.
func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}
