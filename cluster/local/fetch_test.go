package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// madisonOutput is what apt-cache madison libzookeeper-java prints here.
const madisonOutput = `libzookeeper-java | 3.8.0-11+deb12u2 | http://deb.debian.org/debian bookworm/main amd64 Packages
libzookeeper-java | 3.8.0-11+deb12u1 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
`

// fakeApt stands in for apt-cache, apt-get and dpkg: madison prints
// madison, download writes a .deb named after the version asked for (or
// fails with downloadErr), and dpkg -x unpacks it into a tree holding
// zookeeper.jar. It counts the commands it ran.
type fakeApt struct {
	madison     string
	downloadErr error
	// suites is what madison prints with the apt options of a suite's
	// private state, by suite (read from the Dir::State::Lists option).
	suites map[string]string

	mu   sync.Mutex
	runs []string
}

// run implements runFunc.
func (a *fakeApt) run(_ context.Context, dir, name string, args ...string) ([]byte, error) {
	a.mu.Lock()
	a.runs = append(a.runs, name+" "+strings.Join(args, " "))
	a.mu.Unlock()
	suite, lists := "", ""
	for len(args) >= 2 && args[0] == "-o" {
		if dir, ok := strings.CutPrefix(args[1], "Dir::State::Lists="); ok {
			suite, lists = filepath.Base(filepath.Dir(dir)), dir
		}
		args = args[2:]
	}
	switch {
	case name == "apt-get" && len(args) == 2 && args[0] == "update" && suite != "":
		list := filepath.Join(lists, "deb.debian.org_debian_dists_"+suite+"_main_binary-amd64_Packages")
		return []byte("Reading package lists...\n"), os.WriteFile(list, nil, 0o644)
	case name == "apt-cache" && len(args) == 2 && args[0] == "madison" && suite != "":
		return []byte(a.suites[suite]), nil
	case name == "apt-cache" && len(args) == 2 && args[0] == "madison":
		return []byte(a.madison), nil
	case name == "apt-get" && len(args) == 3 && args[0] == "download":
		if a.downloadErr != nil {
			return []byte("Err:1 http://deb.debian.org/debian-security bookworm-security/main\n  Could not resolve 'deb.debian.org'\n"), a.downloadErr
		}
		pkg, version, _ := strings.Cut(args[2], "=")
		deb := filepath.Join(dir, fmt.Sprintf("%s_%s_all.deb", pkg, version))
		return []byte("Get:1 " + pkg + "\n"), os.WriteFile(deb, []byte(version), 0o644)
	case name == "dpkg" && len(args) == 3 && args[0] == "-x":
		version, err := os.ReadFile(args[1])
		if err != nil {
			return nil, err
		}
		jars := filepath.Join(args[2], "usr", "share", "java")
		if err := os.MkdirAll(jars, 0o755); err != nil {
			return nil, err
		}
		return nil, os.WriteFile(filepath.Join(jars, "zookeeper.jar"), version, 0o644)
	}
	return nil, fmt.Errorf("unexpected command %s %v", name, args)
}

// commands returns the commands run so far.
func (a *fakeApt) commands() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.runs...)
}

func TestFetchUnpacksOnceThenUsesTheCache(t *testing.T) {
	apt := &fakeApt{madison: madisonOutput}
	f := debianFetcher{dir: filepath.Join(t.TempDir(), "debian"), run: apt.run}
	ctx := context.Background()

	dir, err := f.fetch(ctx, "3.8.0-11+deb12u1")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(f.dir, "3.8.0-11+deb12u1"), dir)
	jar, err := os.ReadFile(filepath.Join(dir, "usr", "share", "java", "zookeeper.jar"))
	require.NoError(t, err)
	assert.Equal(t, "3.8.0-11+deb12u1", string(jar), "the package of the version asked for")
	cmds := apt.commands()
	require.Len(t, cmds, 3)
	assert.Equal(t, "apt-cache madison libzookeeper-java", cmds[0])
	assert.Equal(t, "apt-get download -q libzookeeper-java=3.8.0-11+deb12u1", cmds[1])
	assert.True(t, strings.HasPrefix(cmds[2], "dpkg -x "), cmds[2])

	again, err := f.fetch(ctx, "3.8.0-11+deb12u1")
	require.NoError(t, err)
	assert.Equal(t, dir, again)
	assert.Len(t, apt.commands(), 3, "a cached version runs no command")

	entries, err := os.ReadDir(f.dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary directory is left behind")
	assert.Equal(t, "3.8.0-11+deb12u1", entries[0].Name())
}

func TestConcurrentFetchesOfOneVersionAllSucceed(t *testing.T) {
	apt := &fakeApt{madison: madisonOutput}
	f := debianFetcher{dir: filepath.Join(t.TempDir(), "debian"), run: apt.run}
	const n = 4
	dirs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dirs[i], errs[i] = f.fetch(context.Background(), "3.8.0-11+deb12u2") })
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, filepath.Join(f.dir, "3.8.0-11+deb12u2"), dirs[i])
	}
	assert.FileExists(t, filepath.Join(dirs[0], "usr", "share", "java", "zookeeper.jar"))
	entries, err := os.ReadDir(f.dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "losers of the rename leave nothing behind")
}

func TestFetchOfAVersionAptDoesNotKnowListsTheKnownOnes(t *testing.T) {
	apt := &fakeApt{madison: madisonOutput}
	f := debianFetcher{dir: filepath.Join(t.TempDir(), "debian"), run: apt.run}
	_, err := f.fetch(context.Background(), "3.8.4-1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "debian=3.8.4-1")
	assert.Contains(t, err.Error(), "3.8.0-11+deb12u2, 3.8.0-11+deb12u1")
	assert.Equal(t, []string{"apt-cache madison libzookeeper-java"}, apt.commands(), "nothing is downloaded")
	assert.NoDirExists(t, filepath.Join(f.dir, "3.8.4-1"))
}

func TestFetchWithEmptyPackageListsSaysToUpdate(t *testing.T) {
	apt := &fakeApt{madison: ""}
	f := debianFetcher{dir: filepath.Join(t.TempDir(), "debian"), run: apt.run}
	_, err := f.fetch(context.Background(), "3.8.0-11")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "debian=3.8.0-11")
	assert.Contains(t, err.Error(), "run apt-get update")
}

// fakeRoot writes a Debian 12 machine's os-release and apt sources under a
// temporary root: the deb822 file this machine has, a one-line list with
// options and a backports suite, and a file apt does not read.
func fakeRoot(t *testing.T) string {
	root := t.TempDir()
	files := map[string]string{
		"etc/os-release": "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_CODENAME=bookworm\n",
		"etc/apt/sources.list.d/debian.sources": "Types: deb\n# a comment\nURIs: http://deb.debian.org/debian\n" +
			"Suites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n" +
			"Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n" +
			"Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb-src\nURIs: http://deb.debian.org/debian\n" +
			"Suites: bookworm\nComponents: main\n",
		"etc/apt/sources.list":                       "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm-backports main contrib\n# deb http://x y z\n",
		"etc/apt/sources.list.d/other.list.disabled": "deb http://elsewhere.example/apt stable main\n",
	}
	for name, text := range files {
		p := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	}
	return root
}

func TestAnotherSuiteUsesTheSystemsArchives(t *testing.T) {
	sources, release, err := systemSources(fakeRoot(t))
	require.NoError(t, err)
	assert.Equal(t, "bookworm", release)
	var lines []string
	for _, s := range forSuite(sources, release, "trixie") {
		lines = append(lines, s.line())
	}
	assert.ElementsMatch(t, []string{
		"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main",
		"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-updates main",
		"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security trixie-security main",
		"deb [signed-by=/k.gpg] http://mirror.example/debian trixie-backports main contrib",
	}, lines, "the same archives, keys and components; no source packages, no file apt does not read")

	for name, want := range map[string][2]string{
		"3.9.3-1+deb13u1":       {"3.9.3-1+deb13u1", "trixie"},
		"3.8.0-11+deb12u2":      {"3.8.0-11+deb12u2", "bookworm"},
		"3.9.3-1@trixie":        {"3.9.3-1", "trixie"},
		"3.9.3-1+deb13u1@forky": {"3.9.3-1+deb13u1", "forky"},
		"3.9.4-1":               {"3.9.4-1", ""},
		"3.9.3-1+deb99u1":       {"3.9.3-1+deb99u1", ""},
	} {
		v, suite := splitSuite(name)
		assert.Equal(t, want, [2]string{v, suite}, name)
	}
}

func TestFetchFromAnotherSuiteKeepsItsOwnAptState(t *testing.T) {
	apt := &fakeApt{madison: madisonOutput, suites: map[string]string{
		"trixie": "libzookeeper-java | 3.9.3-1+deb13u1 | http://deb.debian.org/debian trixie/main amd64 Packages\n",
	}}
	cache := t.TempDir()
	f := debianFetcher{dir: filepath.Join(cache, "debian"), aptDir: filepath.Join(cache, "apt"), root: fakeRoot(t), run: apt.run}
	dir, err := f.fetch(context.Background(), "3.9.3-1+deb13u1")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(cache, "debian", "3.9.3-1+deb13u1"), dir)
	sources, err := os.ReadFile(filepath.Join(cache, "apt", "trixie", "sources.list"))
	require.NoError(t, err)
	assert.Contains(t, string(sources), "http://deb.debian.org/debian-security trixie-security main")
	var got []string
	for _, c := range apt.commands() {
		opts := strings.Contains(c, "-o Dir::State::Lists="+filepath.Join(cache, "apt", "trixie", "lists"))
		got = append(got, strings.Fields(strings.ReplaceAll(c, "-o ", "-o="))[0]+map[bool]string{true: " (trixie)"}[opts])
	}
	assert.Equal(t, []string{"apt-cache", "apt-get (trixie)", "apt-cache (trixie)", "apt-get (trixie)", "dpkg"}, got,
		"the system's lists first, then the suite's, fetched once; the download from the suite's")

	_, err = f.fetch(context.Background(), "3.9.3-1+deb13u1")
	require.NoError(t, err)
	assert.Len(t, apt.commands(), 5, "then the cache")

	_, err = f.fetch(context.Background(), "3.9.9-1@trixie")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no such version in trixie, which has 3.9.3-1+deb13u1; apt's own lists have 3.8.0-11+deb12u2, 3.8.0-11+deb12u1")
	updates := 0
	for _, c := range apt.commands() {
		if strings.HasSuffix(c, "update -q") {
			updates++
		}
	}
	assert.Equal(t, 2, updates, "lists that miss the version are fetched again once")
}

func TestFailedDownloadNamesTheVersionAndLeavesNoCache(t *testing.T) {
	apt := &fakeApt{madison: madisonOutput, downloadErr: errors.New("exit status 100")}
	f := debianFetcher{dir: filepath.Join(t.TempDir(), "debian"), run: apt.run}
	_, err := f.fetch(context.Background(), "3.8.0-11+deb12u1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "debian=3.8.0-11+deb12u1")
	assert.Contains(t, err.Error(), "apt-get download libzookeeper-java=3.8.0-11+deb12u1 failed: exit status 100")
	assert.Contains(t, err.Error(), "Could not resolve", "apt's own words are quoted")
	entries, rerr := os.ReadDir(f.dir)
	require.NoError(t, rerr)
	assert.Empty(t, entries, "no half-written cache")
}

func TestFetchRejectsWhatIsNotADebianVersion(t *testing.T) {
	apt := &fakeApt{madison: madisonOutput}
	f := debianFetcher{dir: filepath.Join(t.TempDir(), "debian"), run: apt.run}
	for _, v := range []string{"", "../../etc", "3.8.0/x", "v3.8", "3.8.0 -11"} {
		_, err := f.fetch(context.Background(), v)
		assert.ErrorContains(t, err, "Debian package version", "%q", v)
	}
	assert.Empty(t, apt.commands())
}

func TestCacheDirectoryNotMadeByFetchIsReported(t *testing.T) {
	apt := &fakeApt{madison: madisonOutput}
	f := debianFetcher{dir: filepath.Join(t.TempDir(), "debian"), run: apt.run}
	require.NoError(t, os.MkdirAll(filepath.Join(f.dir, "3.8.0-11+deb12u1", "usr"), 0o755))
	_, err := f.fetch(context.Background(), "3.8.0-11+deb12u1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "holds no usr/share/java/zookeeper.jar: remove it")
	assert.Empty(t, apt.commands())
}

func TestCacheDirFollowsXDG(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	dir, err := CacheDir()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(cache, "zkchaos", "zookeeper"), dir)

	t.Setenv("XDG_CACHE_HOME", "relative/cache")
	_, err = CacheDir()
	assert.Error(t, err, "a relative $XDG_CACHE_HOME is refused")
}

func TestMadisonVersions(t *testing.T) {
	out := madisonOutput + "libzookeeper-java | 3.8.0-11+deb12u2 | http://mirror/debian bookworm/main amd64 Packages\n" +
		"N: Unable to locate package zookeeper-other\nzookeeper | 3.8.0-11+deb12u2 | http://deb.debian.org/debian bookworm/main amd64 Packages\n"
	assert.Equal(t, []string{"3.8.0-11+deb12u2", "3.8.0-11+deb12u1"}, madisonVersions([]byte(out), "libzookeeper-java"))
	assert.Empty(t, madisonVersions(nil, "libzookeeper-java"))
}
