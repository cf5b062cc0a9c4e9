package local

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeJava stands in for the Java lookup.
func fakeJava() (string, error) { return "/opt/jdk/bin/java", nil }

// fakeFinder resolves names with sys as the system's jar directory, the
// fake Java, no installed package version and no fetching.
func fakeFinder(sys string) finder {
	return finder{
		sysJavaDir: sys,
		java:       fakeJava,
		installed:  func(context.Context) string { return "" },
		fetch: func(context.Context, string) (string, error) {
			return "", errors.New("unit tests fetch nothing")
		},
	}
}

// findDistribution resolves name with fakeFinder(sys) and the given Java
// lookup.
func findDistribution(name, sys string, java func() (string, error)) (Distribution, error) {
	f := fakeFinder(sys)
	f.java = java
	return f.find(context.Background(), name)
}

// touch creates empty files (fake jars) under dir.
func touch(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(dir, n)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, nil, 0o644))
	}
}

// debianClasspath is the classpath of a Debian layout whose ZooKeeper jars
// are in jars and whose logging jars are in sys.
func debianClasspath(jars, sys string) []string {
	return []string{
		// Ahead of zookeeper.jar, whose manifest names the installed one
		// and is searched right after it.
		filepath.Join(jars, "zookeeper-jute.jar"),
		filepath.Join(jars, "zookeeper.jar"),
		filepath.Join(sys, "slf4j-log4j12.jar"),
		filepath.Join(sys, "log4j-1.2.jar"),
	}
}

func TestDebianDistributionCommand(t *testing.T) {
	sys := t.TempDir()
	touch(t, sys, "zookeeper.jar", "zookeeper-3.8.0.jar", "zookeeper-jute.jar", "zookeeper-jute-3.8.0.jar",
		"slf4j-log4j12.jar", "log4j-1.2.jar")
	for _, name := range []string{"", "debian"} {
		d, err := findDistribution(name, sys, fakeJava)
		require.NoError(t, err)
		assert.Equal(t, LayoutDebian, d.Layout)
		assert.Equal(t, "3.8.0", d.Version)
		assert.Equal(t, "/opt/jdk/bin/java", d.Java)
		// The manifest of zookeeper.jar brings the rest, jute included.
		assert.Equal(t, []string{
			filepath.Join(sys, "zookeeper.jar"),
			filepath.Join(sys, "slf4j-log4j12.jar"),
			filepath.Join(sys, "log4j-1.2.jar"),
		}, d.Classpath)
	}

	d, err := findDistribution("debian", sys, fakeJava)
	require.NoError(t, err)
	argv := d.Command([]string{"-Xmx256m", "-DsocksProxyPort=9"}, "/run/nodes/n1", "/run/nodes/n1/zoo.cfg")
	want := []string{
		"/opt/jdk/bin/java",
		"-Dlog4j.configuration=file:///run/nodes/n1/log4j.properties",
		"-Dlogback.configurationFile=/run/nodes/n1/logback.xml",
		"-Dzookeeper.jmx.log4j.disable=true",
		"-Dzookeeper.fastleader.maxNotificationInterval=1000",
		"-Dzookeeper.cnxTimeout=1000",
		"-Djava.net.preferIPv4Stack=true",
		"-XX:+ExitOnOutOfMemoryError",
		"-Xmx256m", "-DsocksProxyPort=9",
		"-cp", strings.Join(d.Classpath, ":"),
		"org.apache.zookeeper.server.quorum.QuorumPeerMain",
		"/run/nodes/n1/zoo.cfg",
	}
	assert.Equal(t, want, argv)
}

func TestDebianWithoutLoggingBackendSaysWhatToInstall(t *testing.T) {
	sys := t.TempDir()
	touch(t, sys, "zookeeper.jar")
	_, err := findDistribution("debian", sys, fakeJava)
	require.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), "slf4j-log4j12.jar")
	assert.Contains(t, err.Error(), "liblog4j1.2-java libslf4j-java")
}

func TestDebianMissingSaysWhatToInstall(t *testing.T) {
	_, err := findDistribution("", t.TempDir(), fakeJava)
	require.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), "ZooKeeper not found")
	assert.Contains(t, err.Error(), `"apt-get install -y zookeeper openjdk-17-jre-headless liblog4j1.2-java libslf4j-java"`)
}

func TestExtractedDebianPackage(t *testing.T) {
	sys := t.TempDir()
	touch(t, sys, "zookeeper.jar", "zookeeper-jute.jar", "slf4j-log4j12.jar", "log4j-1.2.jar")
	pkg := t.TempDir() // as left by: dpkg -x libzookeeper-java_3.8.0-11+deb12u1_all.deb DIR
	touch(t, pkg, "usr/share/java/zookeeper.jar", "usr/share/java/zookeeper-3.8.0.jar", "usr/share/java/zookeeper-jute.jar")
	d, err := findDistribution(pkg, sys, fakeJava)
	require.NoError(t, err)
	assert.Equal(t, LayoutDebian, d.Layout)
	assert.Equal(t, "3.8.0", d.Version)
	jars := filepath.Join(pkg, "usr", "share", "java")
	assert.Equal(t, debianClasspath(jars, sys), d.Classpath)
	assert.Empty(t, d.Package)
	assert.Equal(t, "debian 3.8.0 ("+jars+")", d.Name())
}

func TestDebianVersionNameFetchesAndLabels(t *testing.T) {
	sys := t.TempDir()
	touch(t, sys, "zookeeper.jar", "zookeeper-jute.jar", "slf4j-log4j12.jar", "log4j-1.2.jar")
	cache := t.TempDir()
	touch(t, cache, "usr/share/java/zookeeper.jar", "usr/share/java/zookeeper-3.8.0.jar", "usr/share/java/zookeeper-jute.jar")
	f := fakeFinder(sys)
	var asked []string
	f.fetch = func(_ context.Context, version string) (string, error) {
		asked = append(asked, version)
		return cache, nil
	}
	d, err := f.find(context.Background(), "debian=3.8.0-11+deb12u1")
	require.NoError(t, err)
	assert.Equal(t, []string{"3.8.0-11+deb12u1"}, asked)
	assert.Equal(t, "3.8.0-11+deb12u1", d.Package)
	assert.Equal(t, "debian 3.8.0-11+deb12u1", d.Name())
	jars := filepath.Join(cache, "usr", "share", "java")
	assert.Equal(t, jars, d.Dir)
	assert.Equal(t, debianClasspath(jars, sys), d.Classpath)

	f.fetch = func(context.Context, string) (string, error) {
		return "", errors.New("fetch debian=9.9: apt knows no version")
	}
	_, err = f.find(context.Background(), "debian=9.9")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "debian=9.9")
}

func TestFetchedVersionNeedsTheInstalledDependencies(t *testing.T) {
	f := fakeFinder(t.TempDir())
	f.fetch = func(context.Context, string) (string, error) {
		t.Fatal("nothing may be fetched when it could not run")
		return "", nil
	}
	_, err := f.find(context.Background(), "debian=3.8.0-11+deb12u1")
	require.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), "installed package's dependencies")
	assert.Contains(t, err.Error(), "apt-get install -y zookeeper")
}

func TestInstalledDebianCarriesItsPackageVersion(t *testing.T) {
	sys := t.TempDir()
	touch(t, sys, "zookeeper.jar", "zookeeper-3.8.0.jar", "slf4j-log4j12.jar", "log4j-1.2.jar")
	f := fakeFinder(sys)
	f.installed = func(context.Context) string { return "3.8.0-11+deb12u2" }
	d, err := f.find(context.Background(), "debian")
	require.NoError(t, err)
	assert.Equal(t, "3.8.0-11+deb12u2", d.Package)
	assert.Equal(t, "debian 3.8.0-11+deb12u2", d.Name())

	f.installed = func(context.Context) string { return "" }
	d, err = f.find(context.Background(), "debian")
	require.NoError(t, err)
	assert.Equal(t, "debian 3.8.0 ("+sys+")", d.Name(), "dpkg could not tell: the jar version and the directory")
}

func TestApacheReleaseCommand(t *testing.T) {
	dir := t.TempDir() // as unpacked from apache-zookeeper-3.8.4-bin.tar.gz
	touch(t, dir, "bin/zkServer.sh", "conf/zoo_sample.cfg", "conf/logback.xml", "README.md",
		"lib/zookeeper-3.8.4.jar", "lib/zookeeper-jute-3.8.4.jar", "lib/zookeeper-prometheus-metrics-3.8.4.jar",
		"lib/slf4j-api-1.7.30.jar", "lib/logback-classic-1.2.13.jar", "lib/logback-core-1.2.13.jar",
		"lib/netty-handler-4.1.105.Final.jar", "lib/jline-2.14.6.LICENSE.txt")
	d, err := findDistribution(dir, "/nonexistent", fakeJava)
	require.NoError(t, err)
	assert.Equal(t, LayoutApache, d.Layout)
	assert.Equal(t, dir, d.Dir)
	assert.Equal(t, "3.8.4", d.Version)
	assert.Equal(t, "apache 3.8.4 ("+dir+")", d.Name())
	lib := filepath.Join(dir, "lib")
	wantCP := []string{
		filepath.Join(lib, "logback-classic-1.2.13.jar"),
		filepath.Join(lib, "logback-core-1.2.13.jar"),
		filepath.Join(lib, "netty-handler-4.1.105.Final.jar"),
		filepath.Join(lib, "slf4j-api-1.7.30.jar"),
		filepath.Join(lib, "zookeeper-3.8.4.jar"),
		filepath.Join(lib, "zookeeper-jute-3.8.4.jar"),
		filepath.Join(lib, "zookeeper-prometheus-metrics-3.8.4.jar"),
	}
	assert.Equal(t, wantCP, d.Classpath, "every jar of lib/, sorted; not conf/ nor other files")

	argv := d.Command(DefaultJVMFlags(), "/run/nodes/n2", "/run/nodes/n2/zoo.cfg")
	assert.Equal(t, "/opt/jdk/bin/java", argv[0])
	assert.Contains(t, argv, "-Dlogback.configurationFile=/run/nodes/n2/logback.xml")
	assert.Contains(t, argv, "-Xmx256m")
	n := len(argv)
	assert.Equal(t, []string{"-cp", strings.Join(wantCP, ":"), MainClass, "/run/nodes/n2/zoo.cfg"}, argv[n-4:])
}

func TestApacheSourceReleaseIsRejected(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "pom.xml", "bin/zkServer.sh", "zookeeper-server/pom.xml")
	_, err := findDistribution(dir, "/nonexistent", fakeJava)
	require.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), "lib/zookeeper-*.jar")
	assert.Contains(t, err.Error(), dir)
}

func TestDistributionPathThatIsAFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "zookeeper.tar.gz")
	touch(t, filepath.Dir(f), filepath.Base(f))
	_, err := findDistribution(f, "/nonexistent", fakeJava)
	require.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), "not a directory")
}

func TestMissingJavaSaysWhatToInstall(t *testing.T) {
	sys := t.TempDir()
	touch(t, sys, "zookeeper.jar", "slf4j-log4j12.jar", "log4j-1.2.jar")
	home := filepath.Join(t.TempDir(), "no-jdk")
	noJava := func() (string, error) {
		return findJavaFrom(home, filepath.Join(t.TempDir(), "java"), func(string) (string, error) {
			return "", exec.ErrNotFound
		})
	}
	_, err := findDistribution("debian", sys, noJava)
	require.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), "Java not found")
	assert.Contains(t, err.Error(), filepath.Join(home, "bin", "java")+" ($JAVA_HOME)")
	assert.Contains(t, err.Error(), "openjdk-17-jre-headless")
}

func TestFindJavaPrefersJavaHome(t *testing.T) {
	home := t.TempDir()
	java := filepath.Join(home, "bin", "java")
	require.NoError(t, os.MkdirAll(filepath.Dir(java), 0o755))
	require.NoError(t, os.WriteFile(java, []byte("#!/bin/sh\n"), 0o755))
	got, err := findJavaFrom(home, "/nonexistent/java", exec.LookPath)
	require.NoError(t, err)
	assert.Equal(t, java, got)
}

func TestVersionFromJars(t *testing.T) {
	assert.Equal(t, "3.9.4", versionFromJars([]string{"/l/zookeeper-jute-3.9.4.jar", "/l/zookeeper-3.9.4.jar"}))
	assert.Equal(t, "", versionFromJars([]string{"/l/zookeeper.jar", "/l/zookeeper-jute-3.9.4.jar"}))
}
