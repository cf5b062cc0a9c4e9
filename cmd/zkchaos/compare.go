package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/compare"
	"github.com/zkchaos/zkchaos/harness"
	"github.com/zkchaos/zkchaos/reports"
	"github.com/zkchaos/zkchaos/scenarios"
)

// compareFlags are the flags of zkchaos compare.
type compareFlags struct {
	distA, distB string
	dirsA, dirsB []string
	runs         int
	scenario     scenarioFlags
	outDir       string
	failAvail    float64
	failLatency  float64
	thresholds   compare.Thresholds
}

func newCompareCmd() *cobra.Command {
	var f compareFlags
	cmd := &cobra.Command{
		Use:   "compare --a DIST --b DIST [--runs N] SCENARIO.yaml... | compare --a-dirs DIR --b-dirs DIR",
		Short: "Compare two ZooKeeper versions: verdicts, availability, recovery and latency of A vs B",
		Long: `compare sets two groups of runs side by side, A and B, to decide whether B (say,
the version to upgrade to) is worse than A.

Run mode runs every scenario --runs times against each distribution with the
same seeds (the scenario's seed or --seed, then the next ones), A and B in
turn. A distribution is "debian", "debian=VERSION" (that Debian package
version, fetched once into a cache) or the path of an unpacked ZooKeeper
release. Runs go to OUT/a/<scenario>/<time>/ and OUT/b/...; SIGINT stops the
run in progress cleanly and the runs that finished are still compared.

  zkchaos compare --a debian=3.8.0-11+deb12u1 --b debian=3.8.0-11+deb12u2 --runs 5 scenarios/register-kill.yaml

Directory mode compares runs made before. Each --a-dirs / --b-dirs (repeat
the flag for more) is a run directory, a directory holding run directories
below it (runs/<scenario>/; latest links are skipped), or a glob in quotes,
expanded by zkchaos:

  zkchaos compare --a-dirs runs/compare/a --b-dirs 'runs/compare/b/register-*'

The comparison is written to OUT/compare.html and OUT/compare.json.

B is worse on correctness when a checker was invalid in B and either never
invalid in A or invalid in a larger share of runs; unknown verdicts do not
count as invalid. With --fail-on-availability PCT, B is also worse when its
unavailable time per run, or its median time until clients are served again
after a kind of fault, exceeds A's by more than PCT percent (or more faults
never recovered); with --fail-on-latency PCT, when an operation's p99 latency
exceeds A's by more than PCT percent. Each scenario is judged on its own.

Exit codes: 0 B is not worse, 1 B is worse, 3 a run could not be completed
(run mode: the harness failed), 4 bad input (a flag, a scenario, a distribution, no
runs found, an unreadable results.json), 130 interrupted.`,
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := f.parseThresholds(cmd); err != nil {
				return err
			}
			flags := cmd.Flags()
			runMode := flags.Changed("a") || flags.Changed("b")
			dirMode := flags.Changed("a-dirs") || flags.Changed("b-dirs")
			switch {
			case runMode && dirMode:
				return badInput(errors.New("compare: --a/--b (run scenarios) and --a-dirs/--b-dirs (compare stored runs) cannot be mixed"))
			case runMode:
				return compareByRunning(cmd, f, a)
			case dirMode:
				return compareDirs(cmd, f, a)
			}
			return badInput(errors.New("compare: say what to compare: --a DIST --b DIST SCENARIO.yaml..., or --a-dirs DIR --b-dirs DIR"))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.distA, "a", "", "the ZooKeeper `DIST` to run as A: \"debian\", \"debian=VERSION\" or the path of an unpacked release")
	fl.StringVar(&f.distB, "b", "", "the ZooKeeper `DIST` to run as B, the candidate (same forms as --a)")
	fl.StringArrayVar(&f.dirsA, "a-dirs", nil, "A's runs: a run directory, a `DIR` of runs or a quoted glob (repeatable)")
	fl.StringArrayVar(&f.dirsB, "b-dirs", nil, "B's runs (a `DIR` or a quoted glob, as --a-dirs)")
	fl.IntVar(&f.runs, "runs", 1, "run mode: run every scenario N times on each side, with successive seeds")
	f.scenario = addScenarioFlags(fl, "seed", "time-limit")
	fl.StringVar(&f.outDir, "out", filepath.Join("runs", "compare"), "directory for the comparison (and, in run mode, the runs under a/ and b/)")
	fl.Float64Var(&f.failAvail, "fail-on-availability", 0, "also exit 1 when B's unavailability or recovery time is worse than A's by more than `PCT` percent")
	fl.Float64Var(&f.failLatency, "fail-on-latency", 0, "also exit 1 when B's p99 latency of an operation is worse than A's by more than `PCT` percent")
	return cmd
}

// parseThresholds turns the --fail-on-* flags that were given into limits.
func (f *compareFlags) parseThresholds(cmd *cobra.Command) error {
	for _, t := range []struct {
		name string
		v    float64
		dst  **float64
	}{{"fail-on-availability", f.failAvail, &f.thresholds.Availability}, {"fail-on-latency", f.failLatency, &f.thresholds.Latency}} {
		if !cmd.Flags().Changed(t.name) {
			continue
		}
		if t.v < 0 {
			return badInput(fmt.Errorf("--%s must be a percentage of at least 0, got %g", t.name, t.v))
		}
		*t.dst = new(t.v)
	}
	return nil
}

// compareSide is one side of run mode: its distribution and its runs.
type compareSide struct {
	label, flag, dist, sub string
	// resolved names the distribution as found, e.g. "debian 3.8.0-11+deb12u1".
	resolved string
	// scenarios are the scenarios with this side's distribution, in the
	// order of the files.
	scenarios []*scenarios.Scenario
	side      compare.Side
}

// compareByRunning is run mode: validate everything, run each scenario on A
// and B with the same seeds, then compare what finished.
func compareByRunning(cmd *cobra.Command, f compareFlags, files []string) error {
	ctx := cmd.Context()
	sides := []*compareSide{{label: "A", flag: "--a", dist: f.distA, sub: "a"}, {label: "B", flag: "--b", dist: f.distB, sub: "b"}}
	for _, s := range sides {
		if s.dist == "" {
			return badInput(fmt.Errorf("compare: %s names no distribution; both --a and --b are needed", s.flag))
		}
	}
	if len(files) == 0 {
		return badInput(errors.New("compare: name at least one scenario file to run on --a and --b"))
	}
	if f.runs < 1 {
		return badInput(fmt.Errorf("--runs must be at least 1, got %d", f.runs))
	}
	// Each side's distribution is one more override of every scenario.
	for _, side := range sides {
		names := map[string]string{}
		overrides := append(f.scenario.overrides(), scenarios.Override{Source: side.flag, Path: "cluster.distribution", Value: side.dist})
		for _, file := range files {
			s, err := scenarios.Load(file, overrides...)
			if err != nil {
				return badInput(err)
			}
			if prev, ok := names[s.Name]; ok {
				return badInput(fmt.Errorf("compare: %s and %s are both named %s; their runs would mix", prev, file, s.Name))
			}
			names[s.Name] = file
			side.scenarios = append(side.scenarios, s)
		}
	}
	// The backends the scenarios run on resolve each side's distribution.
	backends := map[string]cluster.Backend{}
	for _, s := range sides[0].scenarios {
		b, err := cluster.Lookup(s.Cluster.Backend)
		if err != nil {
			return badInput(fmt.Errorf("compare: scenario %s: %w", s.Name, err))
		}
		backends[b.Name()] = b
	}
	for _, s := range sides {
		s.side.Source = s.dist
		for _, name := range slices.Sorted(maps.Keys(backends)) {
			label, err := backends[name].Distribution(ctx, s.dist)
			if err != nil {
				if ctx.Err() != nil {
					return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted while resolving %s %s", s.flag, s.dist)}
				}
				return badInput(fmt.Errorf("%s %s: %w", s.flag, s.dist, err))
			}
			s.resolved = label
		}
	}

	errOut := cmd.ErrOrStderr()
	opts := harnessOptions(errOut)
	var failed []error
	interrupted := false
	for i := range files {
		hunt := harness.Hunt{Runs: f.runs}
		for _, side := range sides {
			hunt.Variants = append(hunt.Variants, harness.Variant{Scenario: side.scenarios[i], OutDir: filepath.Join(f.outDir, side.sub)})
		}
		hunt.Started = func(t harness.Trial) {
			side := sides[t.Variant]
			fmt.Fprintf(errOut, "zkchaos: %s (%s): running %s (seed %d, %s)\n", side.label, side.dist, t.Scenario.Name, t.Scenario.Seed, t.Scenario.TimeLimit)
			inForce.start(hunt.Variants[t.Variant].OutDir, t.Scenario.Name)
		}
		hunt.Finished = func(t harness.Trial, out harness.Outcome, err error) {
			inForce.stop()
			if isTerminal(errOut) {
				_ = clearLine(errOut)
			}
			side := sides[t.Variant]
			if out.Dir != "" {
				side.side.Runs = append(side.side.Runs, compare.Run{Dir: out.Dir, Results: out.Results,
					Distribution: cmp.Or(out.Results.Distribution, side.resolved)})
			}
			printRunLine(cmd.OutOrStdout(), side.label, t.Scenario.Name, t.Scenario.Seed, out, err)
			if err != nil && !errors.Is(err, harness.ErrInterrupted) {
				failed = append(failed, fmt.Errorf("%s %s seed %d: %w", side.label, t.Scenario.Name, t.Scenario.Seed, err))
			}
		}
		if hunt.Run(ctx, opts).End == harness.Interrupted {
			interrupted = true
			break
		}
	}

	rep := compare.Build(sides[0].side, sides[1].side, f.thresholds)
	if err := writeComparison(cmd.OutOrStdout(), f.outDir, rep); err != nil {
		return &exitError{code: exitHarness, err: err}
	}
	switch {
	case interrupted:
		return &exitError{code: exitInterrupted, err: fmt.Errorf("%w; the comparison covers the runs that finished", harness.ErrInterrupted)}
	case len(failed) > 0:
		return &exitError{code: exitHarness, err: fmt.Errorf("%d run(s) could not be completed: %w", len(failed), errors.Join(failed...))}
	}
	return regressionCode(rep)
}

// compareDirs is directory mode: compare runs stored before.
func compareDirs(cmd *cobra.Command, f compareFlags, rest []string) error {
	for _, name := range []string{"runs", "seed", "time-limit"} {
		if cmd.Flags().Changed(name) {
			return badInput(fmt.Errorf("compare: --%s only applies when running scenarios (--a/--b)", name))
		}
	}
	if len(rest) > 0 {
		return badInput(fmt.Errorf("compare --a-dirs/--b-dirs takes no other arguments, got %q; quote a glob so that zkchaos expands it, e.g. --a-dirs 'runs/a/*'", rest))
	}
	var sides [2]compare.Side
	for i, s := range []struct {
		flag string
		args []string
	}{{"--a-dirs", f.dirsA}, {"--b-dirs", f.dirsB}} {
		if len(s.args) == 0 {
			return badInput(fmt.Errorf("compare: %s names no run directories; both --a-dirs and --b-dirs are needed", s.flag))
		}
		side, err := compare.LoadSide(cmd.Context(), s.args)
		if err != nil {
			if cmd.Context().Err() != nil {
				return &exitError{code: exitInterrupted, err: err}
			}
			return badInput(fmt.Errorf("%s: %w", s.flag, err))
		}
		sides[i] = side
	}
	rep := compare.Build(sides[0], sides[1], f.thresholds)
	if err := writeComparison(cmd.OutOrStdout(), f.outDir, rep); err != nil {
		return &exitError{code: exitHarness, err: err}
	}
	return regressionCode(rep)
}

// writeComparison writes compare.json and compare.html and prints the
// decision in words.
func writeComparison(w io.Writer, dir string, rep compare.Report) error {
	rep.Generated = time.Now()
	if err := compare.Write(dir, rep); err != nil {
		return err
	}
	for i, line := range rep.Summary {
		if i > 0 {
			line = "  " + line
		}
		fmt.Fprintln(w, line)
	}
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "  note: "+n)
	}
	fmt.Fprintf(w, "comparison: %s\n", filepath.Join(dir, compare.HTMLFile))
	return nil
}

// regressionCode is the exit code of a finished comparison.
func regressionCode(rep compare.Report) error {
	if rep.Regression {
		return &exitError{code: exitInvalid}
	}
	return nil
}

// printRunLine prints one run's outcome in a line.
func printRunLine(w io.Writer, side, scenario string, seed int64, out harness.Outcome, err error) {
	verdict := strings.ToUpper(string(out.Results.Verdict))
	switch {
	case errors.Is(err, harness.ErrInterrupted):
		verdict = "INTERRUPTED"
	case err != nil:
		verdict = "HARNESS ERROR: " + err.Error()
	}
	if out.Dir == "" {
		fmt.Fprintf(w, "%s %s seed %d: %s\n", side, scenario, seed, verdict)
		return
	}
	fmt.Fprintf(w, "%s %s seed %d: %s; report: %s\n", side, scenario, seed, verdict, filepath.Join(out.Dir, reports.ReportFile))
}
