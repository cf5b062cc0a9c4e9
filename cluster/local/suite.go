package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
)

// debianReleases names Debian's releases by the number that the "+debNN"
// of a stable update's version carries.
var debianReleases = map[string]string{"10": "buster", "11": "bullseye", "12": "bookworm", "13": "trixie", "14": "forky"}

// releaseRE finds the release number of a stable update's version, e.g. 13
// in 3.9.3-1+deb13u1.
var releaseRE = regexp.MustCompile(`\+deb(\d+)u\d+`)

// suiteRE matches a Debian suite name, e.g. trixie or trixie-security.
var suiteRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// splitSuite splits "VERSION@SUITE" into its parts; without "@SUITE" the
// suite is the release a "+debNNuM" version was built for, or "".
func splitSuite(name string) (version, suite string) {
	version, suite, named := strings.Cut(name, "@")
	if named {
		return version, suite
	}
	if m := releaseRE.FindStringSubmatch(version); m != nil {
		return version, debianReleases[m[1]]
	}
	return version, ""
}

// aptSource is one line of an apt sources list.
type aptSource struct {
	uri, suite, components, signedBy string
}

// line renders s in the one-line format.
func (s aptSource) line() string {
	opts := ""
	if s.signedBy != "" {
		opts = "[signed-by=" + s.signedBy + "] "
	}
	return fmt.Sprintf("deb %s%s %s %s", opts, s.uri, s.suite, s.components)
}

// systemSources reads the binary package sources of this machine's apt
// (sources.list and sources.list.d, one-line and deb822 files) and the
// release they follow (VERSION_CODENAME of os-release), under root ("/").
func systemSources(root string) ([]aptSource, string, error) {
	release, err := codename(filepath.Join(root, "etc", "os-release"))
	if err != nil {
		return nil, "", err
	}
	files := []string{filepath.Join(root, "etc", "apt", "sources.list")}
	parts, _ := filepath.Glob(filepath.Join(root, "etc", "apt", "sources.list.d", "*"))
	files = append(files, parts...)
	var out []aptSource
	for _, f := range files {
		b, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("read apt sources: %w", err)
		}
		switch {
		case strings.HasSuffix(f, ".sources"):
			out = append(out, deb822Sources(string(b))...)
		case strings.HasSuffix(f, ".list"):
			out = append(out, oneLineSources(string(b))...)
		}
	}
	return out, release, nil
}

// codename reads VERSION_CODENAME from an os-release file.
func codename(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("which Debian release this is: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "VERSION_CODENAME="); ok && v != "" {
			return strings.Trim(v, `"`), nil
		}
	}
	return "", fmt.Errorf("which Debian release this is: %s has no VERSION_CODENAME", path)
}

// deb822Sources reads the "Types: deb" stanzas of a deb822 sources file.
func deb822Sources(text string) []aptSource {
	var out []aptSource
	for _, stanza := range strings.Split(text, "\n\n") {
		fields := map[string]string{}
		for line := range strings.Lines(stanza) {
			if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, " ") {
				fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
		if !slices.Contains(strings.Fields(fields["types"]), "deb") || fields["enabled"] == "no" {
			continue
		}
		for _, uri := range strings.Fields(fields["uris"]) {
			for _, suite := range strings.Fields(fields["suites"]) {
				out = append(out, aptSource{uri: uri, suite: suite, components: fields["components"], signedBy: fields["signed-by"]})
			}
		}
	}
	return out
}

// oneLineSources reads the "deb" lines of a one-line sources file.
func oneLineSources(text string) []aptSource {
	var out []aptSource
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) < 4 || f[0] != "deb" {
			continue
		}
		s := aptSource{}
		rest := f[1:]
		if strings.HasPrefix(rest[0], "[") {
			i := slices.IndexFunc(rest, func(w string) bool { return strings.HasSuffix(w, "]") })
			if i < 0 || len(rest) < i+4 {
				continue
			}
			for _, opt := range strings.Fields(strings.Trim(strings.Join(rest[:i+1], " "), "[]")) {
				if v, ok := strings.CutPrefix(opt, "signed-by="); ok {
					s.signedBy = v
				}
			}
			rest = rest[i+1:]
		}
		s.uri, s.suite, s.components = rest[0], rest[1], strings.Join(rest[2:], " ")
		out = append(out, s)
	}
	return out
}

// forSuite turns the system's sources for its own release into those of
// another suite of the same archives: bookworm becomes trixie,
// bookworm-security trixie-security, and so on. Sources of other suites are
// left out.
func forSuite(sources []aptSource, release, suite string) []aptSource {
	var out []aptSource
	for _, s := range sources {
		switch {
		case s.suite == release:
			s.suite = suite
		case strings.HasPrefix(s.suite, release+"-"):
			s.suite = suite + strings.TrimPrefix(s.suite, release)
		default:
			continue
		}
		out = append(out, s)
	}
	return out
}

// suiteApt is a private apt state for one Debian suite, under dir: a
// sources list made of the system's archives with the suite in place of the
// system's own release, and its own package lists and download cache. The
// system's apt state is never touched.
type suiteApt struct {
	dir, suite string
	// root is where the system's apt sources and os-release are ("/").
	root string
	run  runFunc
}

// options are the apt options that select this state.
func (a suiteApt) options() []string {
	var out []string
	for _, o := range []string{
		"Dir::Etc::SourceList=" + filepath.Join(a.dir, "sources.list"),
		"Dir::Etc::SourceParts=" + filepath.Join(a.dir, "empty"),
		"Dir::Etc::Preferences=" + filepath.Join(a.dir, "empty", "preferences"),
		"Dir::Etc::PreferencesParts=" + filepath.Join(a.dir, "empty"),
		"Dir::State::Lists=" + filepath.Join(a.dir, "lists"),
		"Dir::Cache=" + filepath.Join(a.dir, "cache"),
		"APT::Sandbox::User=root",
	} {
		out = append(out, "-o", o)
	}
	return out
}

// prepare writes the sources list and fetches the package lists when they
// are missing, or always with refresh; it returns the options to use. A
// file lock keeps concurrent fetches of one suite from updating at once.
func (a suiteApt) prepare(ctx context.Context, refresh bool) ([]string, error) {
	if !suiteRE.MatchString(a.suite) {
		return nil, fmt.Errorf("suite %q: not a Debian suite name", a.suite)
	}
	sources, release, err := systemSources(a.root)
	if err != nil {
		return nil, fmt.Errorf("suite %s: %w", a.suite, err)
	}
	mine := forSuite(sources, release, a.suite)
	if len(mine) == 0 {
		return nil, fmt.Errorf("suite %s: apt's sources hold no archive of this machine's release %s to take it from", a.suite, release)
	}
	for _, d := range []string{"empty", "lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(a.dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("suite %s: %w", a.suite, err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(a.dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("suite %s: %w", a.suite, err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("suite %s: lock %s: %w", a.suite, a.dir, err)
	}
	var text strings.Builder
	for _, s := range mine {
		text.WriteString(s.line() + "\n")
	}
	if err := os.WriteFile(filepath.Join(a.dir, "sources.list"), []byte(text.String()), 0o644); err != nil {
		return nil, fmt.Errorf("suite %s: %w", a.suite, err)
	}
	opts := a.options()
	lists, _ := filepath.Glob(filepath.Join(a.dir, "lists", "*_Packages"))
	if len(lists) == 0 || refresh {
		if out, err := a.run(ctx, "", "apt-get", append(opts, "update", "-q")...); err != nil {
			return nil, fmt.Errorf("suite %s: apt-get update failed: %w\n%s", a.suite, err, indent(lastLines(out, tailSize)))
		}
	}
	return opts, nil
}
