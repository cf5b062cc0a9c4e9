package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/linearizable"
	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/harness"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/reports"
	"github.com/zkchaos/zkchaos/scenarios"
)

// args wraps a cobra argument check so that a wrong argument count is bad input.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return badInput(fmt.Errorf("%s: %w", cmd.CommandPath(), err))
		}
		return nil
	}
}

func newRunCmd() *cobra.Command {
	var (
		outDir       string
		runs         int
		untilInvalid bool
		budget       time.Duration
		junit        string
		flags        scenarioFlags
	)
	cmd := &cobra.Command{
		Use:   "run SCENARIO.yaml",
		Short: "Run a scenario against a fresh ensemble and judge its history",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			s, err := scenarios.Load(a[0], flags.overrides()...)
			if err != nil {
				return badInput(err)
			}
			if runs < 1 {
				return badInput(fmt.Errorf("--runs must be at least 1, got %d", runs))
			}
			if budget < 0 {
				return badInput(fmt.Errorf("--budget must not be negative, got %s", budget))
			}
			errOut := cmd.ErrOrStderr()
			live := isTerminal(errOut)
			// Successive seeds; the exit code is the worst outcome.
			var done []reports.JUnitRun
			var worst error
			hunt := harness.Hunt{
				Variants: []harness.Variant{{Scenario: s, OutDir: outDir}},
				Runs:     runs, UntilInvalid: untilInvalid, Budget: budget,
				Started: func(t harness.Trial) {
					fmt.Fprintf(errOut, "zkchaos: running %s (seed %d, %s)\n", s.Name, t.Scenario.Seed, s.TimeLimit)
					inForce.start(outDir, s.Name)
				},
				Finished: func(_ harness.Trial, out harness.Outcome, err error) {
					inForce.stop()
					if live {
						_ = clearLine(errOut)
					}
					if out.Dir != "" {
						done = append(done, reports.JUnitRun{Dir: out.Dir, Results: out.Results})
					}
					worst = worse(worst, finish(cmd.OutOrStdout(), out, err))
				},
			}
			huntStart := time.Now()
			switch end := hunt.Run(cmd.Context(), harnessOptions(errOut)); end.End {
			case harness.BudgetSpent:
				fmt.Fprintf(errOut, "zkchaos: budget of %s spent after %d runs\n", budget, end.Seeds)
			case harness.FoundInvalid:
				fmt.Fprintf(errOut, "zkchaos: invalid with seed %d after %d runs\n", end.Last.Scenario.Seed, end.Seeds)
			}
			if runs > 1 {
				if err := summarizeHunt(cmd.OutOrStdout(), outDir, s.Name, huntStart, done); err != nil {
					worst = worse(worst, &exitError{code: exitHarness, err: err})
				}
			}
			if junit != "" {
				if err := reports.WriteJUnit(junit, done); err != nil {
					return &exitError{code: exitHarness, err: err}
				}
			}
			return worst
		},
	}
	cmd.Flags().IntVar(&runs, "runs", 1, "run the scenario N times with successive seeds, then sum the runs up (hunt-*.json)")
	cmd.Flags().BoolVar(&untilInvalid, "until-invalid", false, "stop at the first run judged invalid")
	cmd.Flags().DurationVar(&budget, "budget", 0, "start no run after this much time has passed (0: no limit)")
	cmd.Flags().StringVar(&junit, "junit", "", "also write JUnit XML to this file (one test case per checker per run)")
	flags = addScenarioFlags(cmd.Flags(), "time-limit", "rate", "seed", "kubeconfig")
	cmd.Flags().StringVar(&outDir, "out", "runs", "directory that holds run directories")
	return cmd
}

// summarizeHunt reads what each run's script did, prints the sum and
// writes it next to the run directories.
func summarizeHunt(w io.Writer, outDir, scenario string, started time.Time, done []reports.JUnitRun) error {
	var runs []reports.HuntRun
	for _, d := range done {
		r, err := reports.ReadHuntRun(d.Dir, d.Results)
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	h := reports.SumHunt(scenario, started, runs)
	path := filepath.Join(outDir, reports.HuntFile(scenario, started))
	if err := h.Write(path); err != nil {
		return err
	}
	h.Text(w)
	fmt.Fprintf(w, "hunt summary: %s\n", path)
	return nil
}

// worse returns whichever of two command outcomes is worse: interrupted,
// then a harness failure, then invalid, unknown, valid.
func worse(a, b error) error {
	rank := func(err error) int {
		var ee *exitError
		if !errors.As(err, &ee) {
			if err == nil {
				return 0
			}
			return 4
		}
		switch ee.code {
		case exitValid:
			return 0
		case exitUnknown:
			return 1
		case exitInvalid:
			return 2
		case exitInterrupted:
			return 5
		default:
			return 4
		}
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// finish prints the verdict and the report's path and turns them into an exit code.
func finish(w io.Writer, out harness.Outcome, err error) error {
	if out.Dir != "" {
		printSummary(w, out.Results, out.Dir)
	}
	switch {
	case errors.Is(err, harness.ErrInterrupted):
		return &exitError{code: exitInterrupted, err: fmt.Errorf("%w; history kept in %s (judge it with: zkchaos check %s)", err, out.Dir, out.Dir)}
	case errors.Is(err, harness.ErrBadInput) && out.Dir == "":
		return badInput(err)
	case err != nil:
		return &exitError{code: exitHarness, err: err}
	}
	return &exitError{code: verdictCode(out.Results.Verdict)}
}

func printSummary(w io.Writer, r reports.Results, dir string) {
	fmt.Fprintf(w, "verdict: %s\n", strings.ToUpper(string(r.Verdict)))
	if r.Check.Message != "" {
		fmt.Fprintf(w, "  %s\n", r.Check.Message)
	}
	printChecks(w, r.Check.Children, "  ")
	if r.Duration > 0 {
		fmt.Fprintf(w, "ops: %s in %s (%.0f ops/s); ensemble healthy after %s\n",
			countsLine(r.Counts), r.Duration.Round(time.Second), r.OpsPerSecond, r.HealthyAfter.Round(time.Millisecond))
	}
	if builds := slices.Compact(slices.Sorted(maps.Values(r.Builds))); len(builds) == 1 {
		fmt.Fprintf(w, "servers ran: %s\n", builds[0])
	} else {
		for _, n := range slices.Sorted(maps.Keys(r.Builds)) {
			fmt.Fprintf(w, "%s ran: %s\n", n, r.Builds[n])
		}
	}
	fmt.Fprintf(w, "report: %s\n", filepath.Join(dir, "report.html"))
}

// printChecks prints one line per checker, the leaves of composed ones
// indented under them.
func printChecks(w io.Writer, rs []checker.Result, indent string) {
	for _, c := range rs {
		if len(c.Children) > 0 {
			fmt.Fprintf(w, "%s%s:\n", indent, c.Checker)
			printChecks(w, c.Children, indent+"  ")
			continue
		}
		fmt.Fprintf(w, "%s%-14s %-8s %s\n", indent, c.Checker, c.Verdict, c.Message)
	}
}

func countsLine(c reports.Counts) string {
	var ok, fail, info int
	for _, byType := range c {
		ok += byType["ok"]
		fail += byType["fail"]
		info += byType["info"]
	}
	return fmt.Sprintf("%d ok, %d fail, %d info", ok, fail, info)
}

// harnessOptions sets up the harness's logging for run and compare (one live
// line on a terminal, structured progress lines elsewhere) and tells the
// signal handler which fault is in force.
func harnessOptions(errOut io.Writer) harness.Options {
	opts := harness.Options{Logger: slog.Default()}
	var progress func(harness.Progress)
	if isTerminal(errOut) {
		// One live line on a terminal; only warnings as log lines.
		opts.Logger = slog.New(slog.NewTextHandler(&lineBreaker{w: errOut}, &slog.HandlerOptions{Level: slog.LevelWarn}))
		progress = func(p harness.Progress) { showProgress(errOut, p) }
	} else {
		log := opts.Logger
		progress = func(p harness.Progress) {
			if int(p.Elapsed.Seconds())%10 == 0 {
				log.Info("progress", "elapsed", p.Elapsed.Round(time.Second), "limit", p.Limit,
					"ok", p.OK, "fail", p.Fail, "info", p.Info, "fault", p.Fault)
			}
		}
	}
	opts.Progress = func(p harness.Progress) {
		inForce.inject(p.Fault)
		progress(p)
	}
	return opts
}

// showProgress replaces the live status line on w with p.
func showProgress(w io.Writer, p harness.Progress) {
	if clearLine(w) == nil {
		_, _ = io.WriteString(w, progressLine(p))
	}
}

func progressLine(p harness.Progress) string {
	fault := p.Fault
	if fault == "" {
		fault = "none"
	}
	return fmt.Sprintf("%s / %s  ok %d  fail %d  info %d  fault: %s",
		p.Elapsed.Round(time.Second), p.Limit, p.OK, p.Fail, p.Info, fault)
}

func newCheckCmd() *cobra.Command {
	var (
		ednFile string
		model   string
		initial string
		out     string
		budget  time.Duration
		junit   string
	)
	cmd := &cobra.Command{
		Use:   "check RUN_DIR | check --edn FILE --model MODEL",
		Short: "Judge the history stored in a run directory again, offline (or a Jepsen history.edn)",
		Args: func(cmd *cobra.Command, a []string) error {
			if ednFile != "" {
				return args(cobra.NoArgs)(cmd, a)
			}
			return args(cobra.ExactArgs(1))(cmd, a)
		},
		RunE: func(cmd *cobra.Command, a []string) error {
			if ednFile != "" {
				return checkEDN(cmd, harness.EDNCheck{Path: ednFile, Model: model, Budget: budget, Draw: out != ""}, initial, out)
			}
			for _, f := range []string{"initial", "out"} {
				if cmd.Flags().Changed(f) {
					return badInput(fmt.Errorf("--%s applies to --edn only", f))
				}
			}
			dir := a[0]
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return badInput(fmt.Errorf("%s is not a run directory", dir))
			}
			res, err := harness.Check(cmd.Context(), dir)
			if errors.Is(err, harness.ErrBadInput) {
				return badInput(err)
			}
			if err != nil {
				return &exitError{code: exitHarness, err: err}
			}
			printSummary(cmd.OutOrStdout(), res, dir)
			if junit != "" {
				if err := reports.WriteJUnit(junit, []reports.JUnitRun{{Dir: dir, Results: res}}); err != nil {
					return &exitError{code: exitHarness, err: err}
				}
			}
			return &exitError{code: verdictCode(res.Verdict)}
		},
	}
	cmd.Flags().StringVar(&junit, "junit", "", "also write JUnit XML to this file (one test case per checker)")
	cmd.Flags().StringVar(&ednFile, "edn", "", "judge this Jepsen history.edn instead of a run directory")
	cmd.Flags().StringVar(&model, "model", "cas-register", "model for --edn: "+strings.Join(harness.EDNModels, ", "))
	cmd.Flags().StringVar(&initial, "initial", "nil", "for --edn: the register's value before the history, an integer or nil (Knossos' tests start at 0)")
	cmd.Flags().StringVar(&out, "out", "", "for --edn: write results.json and the visualization of every key that is not linearizable into this directory")
	cmd.Flags().DurationVar(&budget, "budget", time.Minute, "time budget of the linearizability search for --edn")
	return cmd
}

// checkEDN judges a Jepsen history and prints the verdict with its
// explanation.
func checkEDN(cmd *cobra.Command, c harness.EDNCheck, initial, out string) error {
	if initial != "nil" {
		v, err := strconv.ParseInt(initial, 10, 64)
		if err != nil || v == history.EDNNil {
			return badInput(fmt.Errorf("--initial must be an integer or nil, got %q", initial))
		}
		c.Initial = &v
	}
	if c.Budget <= 0 {
		return badInput(fmt.Errorf("--budget must be positive, got %s", c.Budget))
	}
	res, err := harness.CheckEDN(cmd.Context(), c)
	if err != nil {
		return badInput(err)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "verdict: %s\n  %s %s\n", strings.ToUpper(string(res.Verdict)), res.Checker, res.Message)
	if d, ok := res.Details.(linearizable.ValueRegisterDetails); ok {
		for _, k := range d.Keys {
			if k.Verdict == checker.Invalid && len(d.Keys) > 1 {
				fmt.Fprintf(w, "  key %s: %s\n", k.Key, k.Explanation)
			}
		}
	}
	if out != "" {
		pages, err := harness.WriteEDNResults(out, res)
		if err != nil {
			return &exitError{code: exitHarness, err: err}
		}
		fmt.Fprintf(w, "results: %s\n", filepath.Join(out, "results.json"))
		for _, p := range pages {
			fmt.Fprintf(w, "visualization: %s\n", p)
		}
	}
	return &exitError{code: verdictCode(res.Verdict)}
}

func newExportCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export --edn RUN_DIR",
		Short: "Write a run's history as Jepsen's history.edn (for Knossos or Elle)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			path := out
			if path == "" {
				path = filepath.Join(a[0], "history.edn")
			}
			if err := harness.ExportEDN(a[0], path); err != nil {
				return badInput(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), path)
			return nil
		},
	}
	cmd.Flags().Bool("edn", true, "write EDN (the only format)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (default RUN_DIR/history.edn)")
	return cmd
}

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate SCENARIO.yaml...",
		Short: "Check scenario files without running them",
		Args:  args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			var errs []error
			for _, f := range a {
				if _, err := scenarios.Load(f); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", f)
			}
			if len(errs) > 0 {
				return badInput(errors.Join(errs...))
			}
			return nil
		},
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := raw(w).(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("CI") == ""
}

// lineBreaker starts each log line on a fresh line, below the live status line.
type lineBreaker struct{ w io.Writer }

func (l *lineBreaker) Write(p []byte) (int, error) {
	if err := clearLine(l.w); err != nil {
		return 0, err
	}
	return l.w.Write(p)
}

func newHealCmd() *cobra.Command {
	var (
		root       string
		kubernetes bool
		kubeconfig string
		kubectx    string
		namespace  string
		run        string
	)
	cmd := &cobra.Command{
		Use:   "heal [RUN_DIR...]",
		Short: "Remove what a killed harness left behind (servers still running, chaos objects, deployed ensembles)",
		Long: `heal stops every ZooKeeper server that a run directory's ensemble started and
that still runs, e.g. after the harness was killed with SIGKILL or hung, and
removes the files libfaketime left in /dev/shm for servers killed with it. With
no argument it looks at every run directory at any depth under --out (compare's
runs included). A server that is still running afterwards is listed, with exit
code 3.

With --kubernetes it deletes instead every Chaos Mesh object the harness created
(label app.kubernetes.io/managed-by=zkchaos) in --namespace (default: the
context's), or in all namespaces with --namespace '*', and waits until Chaos
Mesh has undone each; then the ensembles runs deployed (StatefulSets,
Services, volume claims with the same label); --run limits it to one run's
objects.`,
		RunE: func(cmd *cobra.Command, a []string) error {
			if kubernetes && len(a) > 0 {
				return badInput(errors.New("heal --kubernetes takes no run directories (use --run)"))
			}
			req := cluster.HealRequest{Remote: kubernetes, Root: root, Dirs: a,
				Kubeconfig: kubeconfig, Context: kubectx, Namespace: namespace, Run: run}
			return heal(cmd.Context(), cmd.OutOrStdout(), req)
		},
	}
	cmd.Flags().StringVar(&root, "out", "runs", "directory that holds run directories")
	cmd.Flags().BoolVar(&kubernetes, "kubernetes", false, "delete leftover chaos objects and deployed ensembles in a Kubernetes cluster instead")
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: KUBECONFIG, ~/.kube/config, in-cluster)")
	cmd.Flags().StringVar(&kubectx, "context", "", "kubeconfig context (default: the current one)")
	cmd.Flags().StringVar(&namespace, "namespace", "", "namespace to clean (default: the context's; '*' for all)")
	cmd.Flags().StringVar(&run, "run", "", "only the objects of this run (its run directory's name)")
	return cmd
}

// heal asks every backend to remove what killed runs left behind, and says
// when none found anything.
func heal(ctx context.Context, out io.Writer, req cluster.HealRequest) error {
	found := 0
	var errs []error
	for _, b := range cluster.Backends() {
		// Each backend's errors name what it was healing.
		n, err := b.Heal(ctx, req, out)
		found += n
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return &exitError{code: exitHarness, err: err}
	}
	if found == 0 {
		fmt.Fprintln(out, "nothing left behind")
	}
	return nil
}
