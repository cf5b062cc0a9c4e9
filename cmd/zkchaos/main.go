// Command zkchaos tests ZooKeeper ensembles for consistency under faults.
//
// Exit codes: 0 valid, 1 invalid, 2 unknown, 3 the harness failed, 4 bad
// input (a scenario, flag, run directory or distribution the harness cannot
// use), 130 interrupted (SIGINT, SIGTERM, SIGHUP or SIGQUIT).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/zkchaos/zkchaos/checker"
)

// Exit codes, as Jepsen's CLI, plus the harness's own.
const (
	exitValid       = 0
	exitInvalid     = 1
	exitUnknown     = 2
	exitHarness     = 3
	exitBadInput    = 4
	exitInterrupted = 130
)

// exitError carries a process exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func badInput(err error) error { return &exitError{code: exitBadInput, err: err} }

// verdictCode maps a verdict to its exit code.
func verdictCode(v checker.Verdict) int {
	switch v {
	case checker.Valid:
		return exitValid
	case checker.Invalid:
		return exitInvalid
	default:
		return exitUnknown
	}
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// interruptSignals stop a command in order: a run heals its faults, stops
// its servers, keeps its history and exits 130. A closed terminal (SIGHUP)
// or Ctrl-\ (SIGQUIT) is no reason to leave faults in force.
var interruptSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// run executes the CLI and returns the exit code.
func run(args []string) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Room for the second and third signals: one that finds the buffer
	// full is dropped.
	sigs := make(chan os.Signal, 3)
	signal.Notify(sigs, interruptSignals...)
	// Once the command is done a signal is too late to change anything:
	// ignored, it cannot replace the exit code with death by signal (as
	// signal.Stop would, by restoring the default action).
	defer signal.Ignore(interruptSignals...)
	go onSignals(sigs, cancel, &inForce, os.Stderr, os.Exit)
	root := newRootCmd()
	root.SetArgs(args)
	// Keys, messages, errors and file names come from histories and
	// scenarios: none may reach the terminal as a control sequence.
	stderr := escapeWriter{w: os.Stderr}
	root.SetOut(escapeWriter{w: os.Stdout})
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitValid
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "zkchaos:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "zkchaos:", err)
	return exitHarness
}

// onSignals cancels the command at the first signal. While a run heals and
// tears down, a second signal says what is being undone and lets it finish;
// a third exits at once, naming what is still in force. Outside a run a
// second signal exits at once: there is nothing to undo.
func onSignals(sigs <-chan os.Signal, cancel context.CancelFunc, f *faults, w io.Writer, exit func(int)) {
	<-sigs
	cancel()
	warned := false
	for sig := range sigs {
		name := sig.String()
		if s, ok := sig.(syscall.Signal); ok {
			name = unix.SignalName(s)
		}
		what, ok := f.describe()
		switch {
		case !ok:
			fmt.Fprintf(w, "zkchaos: %s again: exiting at once\n", name)
		case !warned:
			warned = true
			fmt.Fprintf(w, "zkchaos: %s again: still healing %s; finishing that first (a third signal exits and leaves it in force)\n", name, what)
			continue
		default:
			fmt.Fprintf(w, "zkchaos: %s again: exiting with this still in force: %s\n", name, what)
		}
		exit(exitInterrupted)
		return
	}
}

// inForce is what the running command has to undo when it is interrupted.
var inForce faults

// faults is what a run has put in force, for the signal handler to name.
type faults struct {
	mu      sync.Mutex
	running bool
	out     string
	name    string
	fault   string
}

// start records that a run of scenario name into out has begun.
func (f *faults) start(out, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running, f.out, f.name, f.fault = true, out, name, ""
}

// inject records the fault in force ("" for none).
func (f *faults) inject(fault string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault = fault
}

// stop records that the run has ended, healed and torn down.
func (f *faults) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running = false
}

// describe names what the run still has to undo; false when no run is on.
func (f *faults) describe() (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.running {
		return "", false
	}
	fault := "the faults in force"
	if f.fault != "" {
		fault = "the fault " + f.fault
	}
	return fmt.Sprintf("%s and the servers of %s (undo what is left with: zkchaos heal --out %s)",
		fault, filepath.Join(f.out, f.name, "latest"), f.out), true
}

func newRootCmd() *cobra.Command {
	var verbose bool
	root := &cobra.Command{
		Use:   "zkchaos",
		Short: "Consistency testing of ZooKeeper ensembles under faults",
		Long: `zkchaos runs a workload against a ZooKeeper ensemble while a nemesis injects
faults, records every operation in a history, and judges the history.

Exit codes: 0 valid, 1 invalid, 2 unknown, 3 the harness failed,
4 bad input, 130 interrupted (SIGINT, SIGTERM, SIGHUP, SIGQUIT).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level})))
			// The Kubernetes libraries log through klog and logr, into the
			// same log. klog's errors are client-go's port-forward streams
			// failing while a pod is down, one per connection attempt: a
			// fault doing its work, shown only with --verbose, like the
			// libraries' routine chatter.
			libLevel, klogLevel := slog.LevelWarn, slog.LevelError+1
			if verbose {
				libLevel, klogLevel = slog.LevelDebug, slog.LevelDebug
			}
			lib := func(l slog.Level) *slog.Logger {
				return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: l})).With("from", "kubernetes")
			}
			klog.SetSlogLogger(lib(klogLevel))
			ctrllog.SetLogger(logr.FromSlogHandler(lib(libLevel).Handler()))
		},
	}
	root.PersistentFlags().BoolVarP(&verbose, "verbose", "v", false, "log debug messages")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return badInput(err) })
	root.AddCommand(newRunCmd(), newCheckCmd(), newValidateCmd(), newHealCmd(), newExportCmd(), newServeCmd(), newCompareCmd())
	return root
}
