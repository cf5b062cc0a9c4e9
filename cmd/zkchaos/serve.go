package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path"

	"github.com/spf13/cobra"

	"github.com/zkchaos/zkchaos/browse"
	"github.com/zkchaos/zkchaos/compare"
	"github.com/zkchaos/zkchaos/reports"
)

func newServeCmd() *cobra.Command {
	var dir, addr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Browse the runs of a directory on 127.0.0.1: verdicts, reports, comparisons",
		Long: `serve lists every run below --dir with its scenario, start, verdict, duration and
operation counts, filters them by verdict and scenario, and serves their reports
and files. Tick runs as A and B to compare them side by side. It listens on a
loopback address only and stops on Ctrl-C.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := browse.Loopback(addr); err != nil {
				return badInput(fmt.Errorf("--addr: %w", err))
			}
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				if err == nil || errors.Is(err, fs.ErrNotExist) {
					err = fmt.Errorf("%s is not a directory", dir)
				}
				return badInput(fmt.Errorf("--dir: %w", err))
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "serving the runs in %s on http://%s/ (Ctrl-C stops)\n", dir, ln.Addr())
			s := &browse.Server{Root: dir, Compare: compareRuns, Logger: slog.Default()}
			return s.Serve(cmd.Context(), ln)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "runs", "directory of runs")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "loopback address to listen on")
	return cmd
}

// compareRuns compares runs of the run browser's root, read through it, with
// links to their reports as the browser serves them.
func compareRuns(ctx context.Context, fsys fs.FS, a, b []string, w io.Writer) error {
	sideA, err := compare.LoadSideFS(ctx, fsys, a)
	if err != nil {
		return fmt.Errorf("A: %w", err)
	}
	sideB, err := compare.LoadSideFS(ctx, fsys, b)
	if err != nil {
		return fmt.Errorf("B: %w", err)
	}
	link := func(runDir string) string { return path.Join("runs", runDir, reports.ReportFile) }
	return compare.RenderHTML(w, compare.Build(sideA, sideB, compare.Thresholds{}), link, "")
}
