package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/internal/guard"
)

var _ cluster.LogFollower = (*Ensemble)(nil)

// Sizes of the buffers that carry output from a server to its followers.
const (
	// pipeChunk is how much one read from a server's output pipe takes, and
	// one read of a follower from the log file.
	pipeChunk = 64 << 10
	// maxPending is how much of a line without a line break the pipe reader
	// holds back before writing it anyway.
	maxPending = 256 << 10
	// maxLine is the longest line a follower sends whole; a longer one is
	// sent in pieces of this size.
	maxLine = 1 << 20
	// maxMarks is how many writes a log file remembers the time of (see
	// logFile.marks).
	maxMarks = 1 << 14
	// followBuffer is the capacity of a follower's channel.
	followBuffer = 16
)

// FollowLog implements cluster.LogFollower: it sends node's log lines, in
// file order and without gaps, from a goroutine of its own that reads
// zookeeper.log, until ctx ends (callers must cancel it: closing the
// ensemble does not end followers); then the channel is closed. With
// fromStart it begins at the first byte of the server's current run, its
// "=== zkchaos:" marker lines included, or, when the node is down, at the
// end of the file, where its next run begins; otherwise at the end of what
// was written so far. It keeps following across kills and restarts.
//
// LogLine.At is when the harness read the bytes that ended the line from
// the server's output pipe, as recorded when they were written to the file;
// for a line older than the last 16384 writes recorded, it is when the
// follower read the line from the file. The server's output is never held
// up by a follower: a follower that is not read from falls behind, reading
// the file later, and loses nothing. If the file cannot be read, the error
// is logged and the channel closed early. A line longer than 1 MiB is sent
// in pieces.
func (e *Ensemble) FollowLog(ctx context.Context, target cluster.Node, fromStart bool) (<-chan cluster.LogLine, error) {
	n, err := e.lookup(target)
	if err != nil {
		return nil, fmt.Errorf("follow log: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("follow log of %s: %w", n.Name, err)
	}
	lf := logFileFor(n.logPath)
	from := lf.followFrom(fromStart)
	ch := make(chan cluster.LogLine, followBuffer)
	guard.Go(ctx, "log follower of "+n.Name, func() {
		defer close(ch)
		if err := lf.follow(ctx, from, ch); err != nil {
			e.log.Error("following a node's log stopped", "node", n.Name, "log", n.logPath, "err", err)
		}
	})
	return ch, nil
}

// logFiles holds the logFile of every path that server output was appended
// to by this process, so that every run of a node, and every follower,
// shares one.
var logFiles struct {
	mu sync.Mutex
	m  map[string]*logFile
}

// logFileFor returns the logFile of path, creating it on first use.
func logFileFor(path string) *logFile {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	logFiles.mu.Lock()
	defer logFiles.mu.Unlock()
	if logFiles.m == nil {
		logFiles.m = make(map[string]*logFile)
	}
	lf := logFiles.m[path]
	if lf == nil {
		lf = &logFile{path: path, changed: make(chan struct{})}
		if st, err := os.Stat(path); err == nil {
			lf.size = st.Size()
			lf.marksFrom = lf.size
		}
		logFiles.m[path] = lf
	}
	return lf
}

// logFile is a node's log as this process appends server output to it: it
// knows how much of the file is written (the committed size), where the
// latest run's output begins and when each recent write happened, and tells
// followers when the file grows.
type logFile struct {
	path string
	// wmu serializes writes, so that each write and its publication go
	// together; followers never take it.
	wmu sync.Mutex

	// mu guards the fields below; it is only held briefly.
	mu sync.Mutex
	// size is the committed size: every byte before it is in the file.
	size int64
	// runStart is the offset of the latest run's first marker line.
	runStart int64
	// runs counts the runs whose output is still being written.
	runs int
	// changed is closed, and replaced, whenever the file grows.
	changed chan struct{}
	// marks records, in file order, the end offset of recent writes and
	// when their bytes arrived; at most maxMarks.
	marks []logMark
	// marksFrom is the offset where the oldest mark's write begins: the
	// times of earlier bytes are forgotten.
	marksFrom int64
}

// logMark is one write to a log file.
type logMark struct {
	end int64
	at  time.Time
}

// beginRun opens the file to append the output of a new run and makes that
// run the current one.
func (lf *logFile) beginRun() (*runOutput, error) { return lf.open(true) }

// note appends line, a line of the harness's own, outside any run: the
// current run stays where it begins.
func (lf *logFile) note(line string) error {
	o, err := lf.open(false)
	if err != nil {
		return err
	}
	werr := o.write([]byte(line+"\n"), time.Now())
	return errors.Join(werr, o.end())
}

// currentRun reads the latest run's output as committed so far, its marker
// lines included.
func (lf *logFile) currentRun() ([]byte, error) {
	lf.mu.Lock()
	from, to := lf.runStart, lf.size
	lf.mu.Unlock()
	f, err := os.Open(lf.path)
	if err != nil {
		return nil, fmt.Errorf("read log: %w", err)
	}
	defer f.Close()
	b := make([]byte, to-from)
	if _, err := f.ReadAt(b, from); err != nil {
		return nil, fmt.Errorf("read log: %w", err)
	}
	return b, nil
}

// open opens the file to append to it; a run's output (run) also becomes
// the current run.
func (lf *logFile) open(run bool) (*runOutput, error) {
	f, err := os.OpenFile(lf.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	lf.wmu.Lock()
	defer lf.wmu.Unlock()
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open log: %w", err)
	}
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if st.Size() != lf.size {
		// Written or truncated by someone else: start counting afresh.
		lf.size = st.Size()
		lf.marks = nil
		lf.marksFrom = lf.size
	}
	if run {
		lf.runStart = lf.size
		lf.runs++
	}
	return &runOutput{lf: lf, f: f, run: run}, nil
}

// publish records that n more bytes, received at at, are in the file, and
// wakes the followers; lf.wmu must be held.
func (lf *logFile) publish(n int64, at time.Time) {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	lf.size += n
	if len(lf.marks) >= maxMarks {
		drop := len(lf.marks) / 2
		lf.marksFrom = lf.marks[drop-1].end
		lf.marks = append(lf.marks[:0], lf.marks[drop:]...)
	}
	lf.marks = append(lf.marks, logMark{end: lf.size, at: at})
	close(lf.changed)
	lf.changed = make(chan struct{})
}

// followFrom returns the offset a new follower begins at: see FollowLog.
func (lf *logFile) followFrom(fromStart bool) int64 {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if fromStart && lf.runs > 0 {
		return lf.runStart
	}
	return lf.size
}

// committed returns the committed size and a channel closed when it grows.
func (lf *logFile) committed() (int64, <-chan struct{}) {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	return lf.size, lf.changed
}

// timeAt returns when the write that brought the file to at least end bytes
// arrived, or the zero time when that is forgotten.
func (lf *logFile) timeAt(end int64) time.Time {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if end <= lf.marksFrom {
		return time.Time{}
	}
	i := sort.Search(len(lf.marks), func(i int) bool { return lf.marks[i].end >= end })
	if i == len(lf.marks) {
		return time.Time{}
	}
	return lf.marks[i].at
}

// follow sends the lines of the file from offset from on ch, reading up to
// the committed size and waiting for more, until ctx ends. It returns an
// error when the file cannot be read.
func (lf *logFile) follow(ctx context.Context, from int64, ch chan<- cluster.LogLine) error {
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	buf := make([]byte, pipeChunk)
	var line []byte // the start of a line whose end is not read yet
	off := from     // the next byte to read
	for {
		size, changed := lf.committed()
		for off < size {
			if f == nil {
				var err error
				if f, err = os.Open(lf.path); err != nil {
					return fmt.Errorf("read log: %w", err)
				}
			}
			want := min(size-off, int64(len(buf)))
			n, err := f.ReadAt(buf[:want], off)
			if int64(n) < want {
				if err == nil || errors.Is(err, io.EOF) {
					err = fmt.Errorf("%d bytes at offset %d: file shorter than the %d bytes written", want, off, size)
				}
				return fmt.Errorf("read log: %w", err)
			}
			chunk := buf[:n]
			for len(chunk) > 0 {
				i := bytes.IndexByte(chunk, '\n')
				if i < 0 {
					line = append(line, chunk...)
					off += int64(len(chunk))
					if len(line) >= maxLine {
						if !send(ctx, ch, lf.logLine(line, off)) {
							return nil
						}
						line = line[:0]
					}
					break
				}
				line = append(line, chunk[:i]...)
				off += int64(i + 1)
				chunk = chunk[i+1:]
				if !send(ctx, ch, lf.logLine(line, off)) {
					return nil
				}
				line = line[:0]
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil
		}
	}
}

// logLine makes the LogLine of text, whose bytes end at offset end.
func (lf *logFile) logLine(text []byte, end int64) cluster.LogLine {
	at := lf.timeAt(end)
	if at.IsZero() {
		at = time.Now()
	}
	return cluster.LogLine{Text: string(text), At: at}
}

// send sends l on ch unless ctx ends first, and reports whether it did.
func send(ctx context.Context, ch chan<- cluster.LogLine, l cluster.LogLine) bool {
	select {
	case ch <- l:
		return true
	case <-ctx.Done():
		return false
	}
}

// runOutput appends one run's output, or one note, to its log file.
type runOutput struct {
	lf *logFile
	f  *os.File
	// run is set for a run's output, unset for a note.
	run bool
	// err is the first write error.
	err error
}

// write appends b, received at at, to the file and publishes it.
func (o *runOutput) write(b []byte, at time.Time) error {
	o.lf.wmu.Lock()
	defer o.lf.wmu.Unlock()
	n, err := o.f.Write(b)
	if n > 0 {
		o.lf.publish(int64(n), at)
	}
	if err != nil {
		err = fmt.Errorf("write log: %w", err)
		if o.err == nil {
			o.err = err
		}
	}
	return err
}

// copyFrom appends what r delivers to the file until r ends, whole lines at
// a time where it can: the part of a read after its last line break waits
// for the rest of its line, unless it grows beyond maxPending. At the end,
// a last line without a line break is written with one, so that the next
// run's marker lines start a line. It keeps reading after a write error, so
// that the server never blocks on its output.
func (o *runOutput) copyFrom(r io.Reader) {
	buf := make([]byte, pipeChunk)
	var pending []byte
	open := false // the last byte written is not a line break
	for {
		n, err := r.Read(buf)
		if n > 0 {
			at := time.Now()
			pending = append(pending, buf[:n]...)
			if i := bytes.LastIndexByte(pending, '\n'); i >= 0 {
				_ = o.write(pending[:i+1], at) // errors are kept in o.err
				pending = pending[:copy(pending, pending[i+1:])]
				open = false
			} else if len(pending) >= maxPending {
				_ = o.write(pending, at)
				pending = pending[:0]
				open = true
			}
		}
		if err != nil {
			break
		}
	}
	if len(pending) > 0 || open {
		_ = o.write(append(pending, '\n'), time.Now())
	}
}

// end closes the file and ends the run, if it is one; it returns the first write or
// close error.
func (o *runOutput) end() error {
	err := o.f.Close()
	if err != nil && o.err == nil {
		o.err = fmt.Errorf("close log: %w", err)
	}
	if o.run {
		o.lf.mu.Lock()
		o.lf.runs--
		o.lf.mu.Unlock()
	}
	return o.err
}
