// Package harness orchestrates one run: start the ensemble, run the workload
// and the nemesis against it while recording the history, heal, read the
// final state from every node, judge the history and write the reports. The
// CLI and the integration tests both call it; cmd/ holds flags and output only.
package harness

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/zkadmin"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/guard"
	"github.com/zkchaos/zkchaos/nemesis"
	"github.com/zkchaos/zkchaos/nemesis/fault"
	"github.com/zkchaos/zkchaos/reports"
	"github.com/zkchaos/zkchaos/scenarios"
	"github.com/zkchaos/zkchaos/workloads"
	"github.com/zkchaos/zkchaos/workloads/lock"
	"github.com/zkchaos/zkchaos/workloads/multi"
	"github.com/zkchaos/zkchaos/workloads/queue"
	"github.com/zkchaos/zkchaos/workloads/register"
	"github.com/zkchaos/zkchaos/workloads/session"
	"github.com/zkchaos/zkchaos/workloads/set"
	"github.com/zkchaos/zkchaos/workloads/watch"
)

// ScenarioFile is the name of the resolved scenario inside a run directory.
const ScenarioFile = "scenario.yaml"

// ErrInterrupted is returned when the run's context was cancelled (SIGINT,
// SIGTERM) before it finished. The history is on disk and every fault healed.
var ErrInterrupted = errors.New("run interrupted")

// Options configure one run.
type Options struct {
	// Scenario is the loaded scenario, CLI overrides applied.
	Scenario *scenarios.Scenario
	// OutDir is the root of run directories (default "runs").
	OutDir string
	// Logger receives the harness's structured log.
	Logger *slog.Logger
	// Progress, when set, is called about once a second during the workload.
	Progress func(Progress)
	// Workload, when set, is run instead of the one the scenario names: for
	// tests of workloads the scenario schema does not know yet.
	Workload workloads.Workload
}

// Progress is a snapshot of a running workload, for a live status line.
type Progress struct {
	// Elapsed is the time since the workload started.
	Elapsed time.Duration
	// Limit is the scenario's time limit.
	Limit time.Duration
	// OK, Fail and Info count completed client operations.
	OK, Fail, Info int64
	// Fault describes the fault in force, or "" when none is.
	Fault string
}

// Outcome is what a run produced.
type Outcome struct {
	// Dir is the run directory.
	Dir string
	// Results is what was written to results.json.
	Results reports.Results
}

// Run executes the scenario. The returned Outcome has Dir set as soon as the
// run directory exists, also on error. A cancelled ctx stops the run early:
// faults are healed, the ensemble is torn down, the history stays on disk, and
// the error is ErrInterrupted.
func Run(ctx context.Context, opts Options) (Outcome, error) {
	s := opts.Scenario
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	outDir := opts.OutDir
	if outDir == "" {
		outDir = "runs"
	}
	outDir, err := filepath.Abs(outDir)
	if err != nil {
		return Outcome{}, fmt.Errorf("run directory root: %w", err)
	}
	// Cleanup must run even after ctx is cancelled.
	cleanupCtx := context.WithoutCancel(ctx)

	backend, err := cluster.Lookup(s.Cluster.Backend)
	if err != nil {
		return Outcome{}, badInput(fmt.Errorf("scenario %s: %w", s.Name, err))
	}
	spec := clusterSpec(s, log)
	distName, err := backend.Prepare(ctx, spec)
	if errors.Is(err, cluster.ErrBadSetting) {
		return Outcome{}, badInput(err)
	}
	if err != nil {
		return Outcome{}, err
	}
	started := time.Now()
	dir, err := reports.NewRunDir(outDir, s.Name, started)
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{Dir: dir}
	res := reports.Results{Scenario: s.Name, Seed: s.Seed, Started: started, Verdict: "unknown", Distribution: distName}
	resolved, err := s.Marshal()
	if err != nil {
		return out, err
	}
	if err := os.WriteFile(filepath.Join(dir, ScenarioFile), resolved, 0o644); err != nil {
		return out, fmt.Errorf("write resolved scenario: %w", err)
	}
	log.Info("run directory", "dir", dir, "distribution", distName)

	wl := opts.Workload
	if wl == nil {
		if wl, err = workloadFor(s); err != nil {
			return out, err
		}
	}
	spec.Dir = dir
	r := &run{s: s, dir: dir, log: log, res: &res, wl: wl, backend: backend, spec: spec}
	runErr := r.execute(ctx, opts)
	interrupted := ctx.Err() != nil
	res.Interrupted = interrupted
	res.RunPeakRSS = peakRSS()

	if runErr == nil && !interrupted {
		checked, err := judge(cleanupCtx, dir, s, wl, res, log)
		if err != nil {
			runErr = err
		} else {
			res = checked
		}
	}
	if runErr != nil || interrupted {
		if runErr != nil {
			res.Error = runErr.Error()
		}
		// Keep what was learnt; the history can be judged later with
		// zkchaos check.
		written, err := writeReports(cleanupCtx, dir, res)
		if err != nil {
			runErr = errors.Join(runErr, err)
		}
		res = written
	}
	out.Results = res
	if interrupted && runErr == nil {
		return out, ErrInterrupted
	}
	if interrupted {
		return out, fmt.Errorf("%w: %w", ErrInterrupted, runErr)
	}
	return out, runErr
}

// clusterSpec is what the backend is told about a run of the scenario.
func clusterSpec(s *scenarios.Scenario, log *slog.Logger) cluster.Spec {
	return cluster.Spec{
		Scenario: s.Name, Section: s.Cluster.Section, Nodes: s.Cluster.Nodes, StartTimeout: s.Cluster.StartTimeout,
		Needs: nemesis.Needs(s.Nemesis.Faults, s.Nemesis.Script), Distributions: nemesis.Distributions(s.Nemesis.Faults),
		Logger: log,
	}
}

// run holds the state of one execution.
type run struct {
	s   *scenarios.Scenario
	dir string
	log *slog.Logger
	res *reports.Results
	wl  workloads.Workload
	// backend starts the ensemble that spec describes.
	backend cluster.Backend
	spec    cluster.Spec
}

// execute starts the ensemble, runs workload and nemesis, heals, reads the
// final state and tears down. It writes facts into r.res as it learns them.
func (r *run) execute(ctx context.Context, opts Options) (err error) {
	s, log := r.s, r.log
	ctx, bugs := withPanicHandler(ctx, log)
	defer func() { err = errors.Join(err, bugs.end()) }()
	// A panic here (final reads, snapshots) still tears down below.
	defer guard.Recover("run", &err)
	cleanupCtx := context.WithoutCancel(ctx)
	g := guard.From(ctx)

	startCtx, cancelStart := context.WithTimeout(ctx, s.Cluster.StartTimeout)
	ens, err := r.backend.Start(startCtx, r.spec)
	cancelStart()
	if err != nil {
		return fmt.Errorf("start ensemble: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(cleanupCtx, time.Minute)
		defer cancel()
		if saver, ok := ens.(logSaver); ok {
			if _, serr := saver.SaveLogs(closeCtx, r.dir); serr != nil {
				log.Warn("server logs incomplete", "err", serr)
			}
		}
		// The servers' logs are in the run directory, where the checkers
		// read them: written there by local servers, copied there from pods.
		logs := nodeLogs(r.dir)
		for _, name := range slices.Sorted(maps.Keys(logs)) {
			if rel, rerr := filepath.Rel(r.dir, logs[name]); rerr == nil {
				r.res.Logs = append(r.res.Logs, rel)
			}
		}
		if cerr := ens.Close(closeCtx); cerr != nil {
			err = errors.Join(err, fmt.Errorf("tear down ensemble: %w", cerr))
		}
	}()
	r.res.HealthyAfter = time.Since(r.res.Started)
	for _, n := range ens.Nodes() {
		r.res.Nodes = append(r.res.Nodes, n.Name)
	}
	r.res.Builds = serverBuilds(ctx, ens.Nodes())
	log.Info("ensemble healthy", "nodes", len(ens.Nodes()), "after", r.res.HealthyAfter.Round(time.Millisecond))

	faults, err := nemesis.FromSpecs(s.Nemesis.Faults, ens)
	if err != nil {
		return fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	script := nemesis.Script{Steps: s.Nemesis.Script, Seed: s.Seed, Logger: log}
	if err := script.Available(ens); err != nil {
		return fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	env := workloadEnv(s, ens.Nodes(), log)
	if p, ok := ens.(cluster.Partitioner); ok && r.spec.Needs.Links() {
		env.Dialer = func(n cluster.Node) zk.Dialer { return p.ClientDialer(n) }
	}
	wl := r.wl
	setupCtx, cancelSetup := context.WithTimeout(ctx, 30*time.Second)
	err = wl.Setup(setupCtx, env)
	cancelSetup()
	if err != nil {
		return err
	}

	r.res.HistoryStarted = time.Now()
	w, err := history.Create(filepath.Join(r.dir, history.FileName), r.res.HistoryStarted)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := w.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	rec := &counting{w: w}

	workStart := time.Now()
	workCtx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	faultCtx, stopFaults := context.WithTimeout(ctx, s.TimeLimit)
	defer stopFaults()

	// Each goroutine's Done comes after its panic, if any, is recorded.
	var wg, nemesisWG sync.WaitGroup
	var workErr, nemesisErr error
	wg.Go(g.Func("workload", func() { workErr = wl.Run(workCtx, env, rec) }))
	monitorCtx, stopMonitor := context.WithCancel(cleanupCtx)
	defer stopMonitor()
	wg.Go(g.Func("role monitor", func() { monitorRoles(monitorCtx, ens, rec, log) }))
	nemesisWG.Go(g.Func("nemesis", func() {
		if len(script.Steps) == 0 {
			nemesisErr = schedule(s, faults, log).Run(faultCtx, ens, rec)
			return
		}
		// A script that stops early leaves a history worth judging: why
		// it stopped goes into the results, not into a run error.
		if stopped := script.Run(faultCtx, ens, rec); stopped != nil {
			r.res.ScriptStopped = stopped.Error()
		}
	}))
	progressCtx, stopProgress := context.WithCancel(ctx)
	if opts.Progress != nil {
		wg.Go(g.Func("progress", func() { reportProgress(progressCtx, opts.Progress, rec, workStart, s.TimeLimit) }))
	}

	nemesisWG.Wait()
	stopProgress()
	// Whatever ended the schedule (time limit, interrupt, error, panic),
	// every fault is undone before anything else happens.
	healCtx, cancelHeal := context.WithTimeout(cleanupCtx, 2*time.Minute)
	healErr := nemesis.HealAll(healCtx, ens, rec, log)
	cancelHeal()
	if ctx.Err() == nil {
		r.awaitRecovery(ctx, ens, rec)
		sleepCtx(ctx, s.Recovery)
	}
	stopWork()
	stopMonitor()
	wg.Wait()
	r.res.Duration = time.Since(workStart)

	if ctx.Err() == nil {
		readCtx, cancelReads := context.WithTimeout(ctx, time.Minute)
		ferr := wl.FinalReads(readCtx, env, rec, int(rec.maxProcess())+1000)
		cancelReads()
		if ferr != nil {
			log.Warn("final reads incomplete", "err", ferr)
		}
		snapCtx, cancelSnap := context.WithTimeout(ctx, time.Minute)
		serr := workloads.Snapshots(snapCtx, env, rec, zkadmin.FourLetter)
		cancelSnap()
		if serr != nil {
			log.Warn("snapshots incomplete", "err", serr)
		}
		for node, last := range serverBuilds(ctx, ens.Nodes()) {
			if first := r.res.Builds[node]; first != last {
				r.res.Builds[node] = cmp.Or(first, "?") + " -> " + last
			}
		}
	}
	return errors.Join(workErr, nemesisErr, healErr)
}

// serverBuilds asks each server that answers what it runs, by node.
func serverBuilds(ctx context.Context, nodes []cluster.Node) map[string]string {
	out := map[string]string{}
	for _, n := range nodes {
		if v, err := zkadmin.SrvrVersion(ctx, n.ClientAddr); err == nil {
			out[n.Name] = v
		}
	}
	return out
}

// logSaver is a cluster whose servers' logs live elsewhere and are copied
// into the run directory before the teardown.
type logSaver interface {
	SaveLogs(ctx context.Context, dir string) ([]string, error)
}

// schedule builds the nemesis schedule a scenario describes.
func schedule(s *scenarios.Scenario, faults []nemesis.Fault, log *slog.Logger) nemesis.Schedule {
	n := s.Nemesis
	sch := nemesis.Schedule{Faults: faults, Warmup: n.Warmup, Seed: s.Seed, Logger: log,
		MinQuiet: n.Interval, MaxQuiet: n.Interval, MinDuration: n.Duration, MaxDuration: n.Duration}
	if n.Schedule == scenarios.ScheduleRandom {
		sch.MaxQuiet, sch.MaxDuration = n.MaxInterval, n.MaxDuration
	}
	sch.InOrder = n.Schedule == scenarios.ScheduleSequence
	return sch
}

// awaitRecovery waits, bounded, for the ensemble to be healthy after the
// final heal and records the outcome: an ensemble that does not recover is a
// finding for the recovery checker, not a harness failure.
func (r *run) awaitRecovery(ctx context.Context, c cluster.Cluster, rec *counting) {
	took, err := c.WaitHealthy(ctx, r.s.Cluster.StartTimeout)
	op := history.Op{Type: history.Info, F: history.FHealthy, Process: history.NemesisProcess,
		Fault: &history.Fault{Name: "final heal"}, Roles: rolesOf(c.Roles(ctx))}
	if err != nil {
		op.Error = err.Error()
		r.log.Warn("ensemble did not recover after the final heal", "err", err)
	} else {
		op.Fault.Detail = took.String()
		r.res.RecoveredAfter = took
		r.log.Info("ensemble recovered after the final heal", "after", took.Round(time.Millisecond))
	}
	if _, err := rec.Append(op); err != nil {
		r.log.Error("record recovery", "err", err)
	}
}

// rolePoll is how often the role monitor asks every node for its role.
const rolePoll = 250 * time.Millisecond

// monitorRoles records every change of the nodes' roles until ctx ends, so
// that elections and recoveries can be timed from the history alone.
func monitorRoles(ctx context.Context, c cluster.Cluster, rec *counting, log *slog.Logger) {
	var last string
	t := time.NewTicker(rolePoll)
	defer t.Stop()
	for {
		roles := rolesOf(c.Roles(ctx))
		if ctx.Err() != nil {
			return
		}
		if key := fmt.Sprint(roles); key != last {
			last = key
			op := history.Op{Type: history.Info, F: history.FRoles, Process: history.NemesisProcess, Roles: roles}
			if _, err := rec.Append(op); err != nil {
				log.Error("record roles", "err", err)
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func rolesOf(m map[string]cluster.Role) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

func workloadEnv(s *scenarios.Scenario, nodes []cluster.Node, log *slog.Logger) workloads.Env {
	w := s.Workload
	return workloads.Env{
		Nodes: nodes, Workers: w.Workers, Rate: w.Rate,
		OpTimeout: w.OpTimeout, SessionTimeout: w.SessionTimeout,
		Seed: s.Seed, Logger: log,
	}
}

// workloadFor builds the workload a scenario names.
func workloadFor(s *scenarios.Scenario) (workloads.Workload, error) {
	w := s.Workload
	switch w.Name {
	case "register":
		return register.New(register.Config{
			Keys: w.Keys, ReadMode: w.ReadMode,
			ReadWeight: w.Mix.Read, WriteWeight: w.Mix.Write, CASWeight: w.Mix.CAS,
		}), nil
	case "set":
		return set.New(set.Config{}), nil
	case "queue":
		return queue.New(queue.Config{}), nil
	case "lock":
		return lock.New(lock.Config{Hold: w.Hold}), nil
	case "session":
		return session.New(session.Config{SessionTimeout: w.SessionTimeout}), nil
	case "watch":
		return watch.New(watch.Config{Keys: w.Keys}), nil
	case "multi":
		return multi.New(multi.Config{Keys: w.Keys}), nil
	}
	return nil, fmt.Errorf("scenario %s: unknown workload %q", s.Name, w.Name)
}

// counting records to the history and keeps the counts and the fault in
// force for the progress line.
type counting struct {
	w              *history.Writer
	ok, fail, info atomic.Int64
	maxProc        atomic.Int64
	mu             sync.Mutex
	fault          string
}

func (c *counting) Append(op history.Op) (history.Op, error) {
	op, err := c.w.Append(op)
	if err != nil {
		return op, err
	}
	if op.IsNemesis() {
		c.mu.Lock()
		// An upgrade step completes ok; every other nemesis action info.
		if (op.Type == history.Info || op.Type == history.OK) && op.Error == "" && op.Fault != nil {
			switch {
			case fault.IsHeal(op.F):
				c.fault = ""
			case len(op.Fault.Targets) == 0:
				c.fault = op.Fault.Name // a script's sleep or wait
			default:
				c.fault = fmt.Sprintf("%s %v", op.Fault.Name, op.Fault.Targets)
			}
		}
		c.mu.Unlock()
		return op, nil
	}
	for p := int64(op.Process); ; {
		m := c.maxProc.Load()
		if p <= m || c.maxProc.CompareAndSwap(m, p) {
			break
		}
	}
	switch op.Type {
	case history.OK:
		c.ok.Add(1)
	case history.Fail:
		c.fail.Add(1)
	case history.Info:
		c.info.Add(1)
	}
	return op, nil
}

func (c *counting) maxProcess() int64 { return c.maxProc.Load() }

func reportProgress(ctx context.Context, f func(Progress), c *counting, start time.Time, limit time.Duration) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.mu.Lock()
			fault := c.fault
			c.mu.Unlock()
			f(Progress{Elapsed: time.Since(start), Limit: limit, OK: c.ok.Load(), Fail: c.fail.Load(), Info: c.info.Load(), Fault: fault})
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// panics are the panics recovered from the goroutines of one run.
type panics struct {
	cancel context.CancelFunc
	mu     sync.Mutex
	errs   []error
}

// withPanicHandler returns a copy of ctx that the goroutines of the run
// started from it hand their panics to, and that a panic cancels: the run
// then heals, tears down and keeps its history as after an interrupt, but
// fails with the panics as its error.
func withPanicHandler(ctx context.Context, log *slog.Logger) (context.Context, *panics) {
	ctx, cancel := context.WithCancel(ctx)
	p := &panics{cancel: cancel}
	ctx = guard.WithHandler(ctx, func(err error) {
		log.Error("a goroutine of the harness panicked: ending the run", "err", err)
		p.mu.Lock()
		p.errs = append(p.errs, err)
		p.mu.Unlock()
		cancel()
	})
	return ctx, p
}

// end releases the run's context and returns the panics recovered, joined.
func (p *panics) end() error {
	p.cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	return errors.Join(p.errs...)
}
