package local

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/guard"
)

// process is one run of a server's JVM.
type process struct {
	pid     int
	started time.Time
	// done is closed once the process has exited and been reaped, and its
	// output is in its log file.
	done chan struct{}
	// err is the exit error of cmd.Wait, valid once done is closed.
	err error
	// killed is set before this package signals the process, so that its
	// exit is not taken for a crash.
	killed atomic.Bool
	// outputCut is set, before done is closed, when the process's output
	// pipe was still open outputGrace after it exited (a child of the
	// process held it) and the rest of the output was dropped.
	outputCut bool
	// outputErr is the first error writing the process's output to its
	// log, valid once done is closed.
	outputErr error
}

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL to the process's group (the JVM leads its own group).
func (p *process) kill() error {
	p.killed.Store(true)
	if p.exited() {
		return nil
	}
	if err := syscall.Kill(-p.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("SIGKILL process group %d: %w", p.pid, err)
	}
	return nil
}

// spawner runs every fork on one OS thread that lives as long as the harness.
// Pdeathsig is sent when the *thread* that forked the child ends, not the
// process; Go may end a thread (a goroutine exiting while locked to it), so
// without this a server could be killed in the middle of a run.
var spawner struct {
	once sync.Once
	reqs chan spawnReq
}

// spawnReq asks the spawner thread to start a command.
type spawnReq struct {
	cmd  *exec.Cmd
	errc chan error
}

// startCmd starts cmd from the spawner thread.
func startCmd(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread never ends
			for r := range spawner.reqs {
				r.errc <- r.cmd.Start()
			}
		}()
	})
	errc := make(chan error, 1)
	spawner.reqs <- spawnReq{cmd: cmd, errc: errc}
	return <-errc
}

// outputGrace bounds how long a process's exit waits for the rest of its
// output: a child the server started may still hold the pipe's write end.
const outputGrace = 2 * time.Second

// startProcess runs argv in dir with extra environment variables, appending
// its stdout and stderr to logPath after two marker lines. The output goes
// through a pipe that a goroutine copies into the file (see logFile), so
// that FollowLog can see every line as it arrives. The process leads its own
// process group (so Kill reaches everything it runs, and a terminal's Ctrl-C
// does not reach it) and is killed if the harness dies. A goroutine waits
// for it, so its state is always known; its done channel is closed once it
// has exited and its output is in the file. g guards the goroutines.
func startProcess(g guard.Guard, argv []string, dir string, env []string, logPath string, onExit func(*process)) (*process, error) {
	lf := logFileFor(logPath)
	out, err := lf.beginRun()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	marker := fmt.Sprintf("%s %s ===\n%scommand: %s ===\n",
		history.LogMarkStarted, now.Format(time.RFC3339Nano), history.LogMarkPrefix, strings.Join(argv, " "))
	if err := out.write([]byte(marker), now); err != nil {
		_ = out.end() // err says it
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		_ = out.end() // nothing else is written
		return nil, fmt.Errorf("create output pipe: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	// An *os.File is handed to the child as is: os/exec adds no copying
	// goroutine of its own.
	cmd.Stdout = w
	cmd.Stderr = w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = startCmd(cmd)
	w.Close() // the child has its own copy; EOF comes once every copy is gone
	if err != nil {
		r.Close()
		_ = out.end() // nothing else is written
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	p := &process{pid: cmd.Process.Pid, started: now, done: make(chan struct{})}
	copied := make(chan struct{})
	g.Go(fmt.Sprintf("output of process %d", p.pid), func() {
		defer close(copied)
		out.copyFrom(r)
	})
	g.Go(fmt.Sprintf("wait for process %d", p.pid), func() {
		p.err = cmd.Wait()
		select {
		case <-copied:
			r.Close()
		case <-time.After(outputGrace):
			// Something else holds the write end: stop reading (closing
			// ends the pending read), so that the log is final once done
			// is closed.
			p.outputCut = true
			r.Close()
			<-copied
		}
		p.outputErr = out.end()
		close(p.done)
		if onExit != nil {
			onExit(p)
		}
	})
	return p, nil
}

// tailLines returns the last n lines of the file at path (read from at most
// its last 64 KiB), or a note saying why it could not be read.
func tailLines(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	const window = 64 << 10
	st, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	off := max(st.Size()-window, 0)
	buf, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	buf = bytes.TrimRight(buf, "\n")
	lines := bytes.Split(buf, []byte("\n"))
	if off > 0 && len(lines) > 1 {
		lines = lines[1:] // the first line is probably cut
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 1 && len(lines[0]) == 0 {
		return "(empty log)"
	}
	return string(bytes.Join(lines, []byte("\n")))
}
