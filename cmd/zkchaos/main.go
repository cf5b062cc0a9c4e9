// Command zkchaos tests ZooKeeper ensembles for consistency under faults.
//
// Exit codes: 0 valid, 1 invalid, 2 unknown, 3 the harness failed, 4 bad
// input (a scenario or flag error), 130 interrupted (SIGINT or SIGTERM).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
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

// run executes the CLI and returns the exit code.
func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// The first signal starts an orderly stop (heal, tear down, keep the
		// history); a second one kills the harness at once, and its servers
		// die with it.
		<-ctx.Done()
		stop()
	}()
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

func newRootCmd() *cobra.Command {
	var verbose bool
	root := &cobra.Command{
		Use:   "zkchaos",
		Short: "Consistency testing of ZooKeeper ensembles under faults",
		Long: `zkchaos runs a workload against a ZooKeeper ensemble while a nemesis injects
faults, records every operation in a history, and judges the history.

Exit codes: 0 valid, 1 invalid, 2 unknown, 3 the harness failed,
4 bad input, 130 interrupted.`,
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
