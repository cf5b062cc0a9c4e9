package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"
)

// FileName is the name of the history inside a run directory.
const FileName = "history.jsonl"

// syncInterval bounds how long a record may sit in the page cache before it
// is forced to disk. Every record reaches the kernel as soon as it is
// appended, so a crash of the harness loses nothing; the interval only matters
// if the whole machine fails.
const syncInterval = 200 * time.Millisecond

// Writer appends operations to a JSONL file, one write call per record, so
// that a harness killed at any moment leaves every completed record on disk.
// It is safe for concurrent use.
type Writer struct {
	mu       sync.Mutex
	f        *os.File
	start    time.Time
	next     int64
	buf      bytes.Buffer
	lastSync time.Time
	err      error
}

// Create creates (or truncates) the history file at path. Times of appended
// records are measured from start on the monotonic clock.
func Create(path string, start time.Time) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create history %s: %w", path, err)
	}
	return &Writer{f: f, start: start, lastSync: time.Now()}, nil
}

// Append stamps op with the next index and the current time and writes it.
// Index and time are assigned under one lock, so file order, index order and
// time order agree. The stamped operation is returned.
func (w *Writer) Append(op Op) (Op, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return op, w.err
	}
	op.Index = w.next
	op.Time = time.Since(w.start).Nanoseconds()
	w.buf.Reset()
	enc := json.NewEncoder(&w.buf)
	if err := enc.Encode(op); err != nil {
		return op, fmt.Errorf("encode history record: %w", err)
	}
	if _, err := w.f.Write(w.buf.Bytes()); err != nil {
		w.err = fmt.Errorf("write history %s: %w", w.f.Name(), err)
		return op, w.err
	}
	w.next++
	if now := time.Now(); now.Sub(w.lastSync) >= syncInterval {
		w.lastSync = now
		if err := w.f.Sync(); err != nil {
			w.err = fmt.Errorf("sync history %s: %w", w.f.Name(), err)
			return op, w.err
		}
	}
	return op, nil
}

// Len returns how many records have been written.
func (w *Writer) Len() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.next
}

// Close flushes the file to disk and closes it. Appends after Close fail.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	syncErr := w.f.Sync()
	closeErr := w.f.Close()
	w.f = nil
	if w.err == nil {
		w.err = errors.New("history writer is closed")
	}
	if err := errors.Join(syncErr, closeErr); err != nil {
		return fmt.Errorf("close history: %w", err)
	}
	return nil
}

// ReadResult is what Decode found in a history file.
type ReadResult struct {
	// Ops are the complete records in file order.
	Ops []Op
	// TornTail is true when the last line was cut short (a crash during a
	// write) and was dropped.
	TornTail bool
}

// ReadFile reads a history file; see Decode. Its errors match
// ErrUnreadable.
func ReadFile(path string) (ReadResult, error) {
	res, err := readFile(path)
	if err != nil {
		return res, unreadableError{err}
	}
	return res, nil
}

func readFile(path string) (ReadResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return ReadResult{}, fmt.Errorf("open history: %w", err)
	}
	defer f.Close()
	// Counting the lines first sizes the records once: growing a slice of
	// millions of records by appending copies it over and over, and holds
	// the old and the new array at once.
	lines, err := countLines(f)
	if err != nil {
		return ReadResult{}, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return ReadResult{}, fmt.Errorf("%s: %w", path, err)
	}
	res, err := decode(f, lines+1)
	if err != nil {
		return res, fmt.Errorf("%s: %w", path, err)
	}
	return res, nil
}

// ReadFS reads the history file name in fsys, such as an os.Root's; see
// Decode. Unlike ReadFile it does not count the lines first.
func ReadFS(fsys fs.FS, name string) (ReadResult, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return ReadResult{}, fmt.Errorf("open history: %w", err)
	}
	defer f.Close()
	res, err := Decode(f)
	if err != nil {
		return res, fmt.Errorf("%s: %w", name, err)
	}
	return res, nil
}

// countLines counts the newlines r holds.
func countLines(r io.Reader) (int, error) {
	buf := make([]byte, 1<<20)
	n := 0
	for {
		k, err := r.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("count history lines: %w", err)
		}
	}
}

// Decode reads JSONL records. A last line without its newline that does not
// decode is a write torn by a crash: it is dropped and reported in TornTail.
// Any other undecodable line is an error naming its line number.
func Decode(r io.Reader) (ReadResult, error) { return decode(r, 0) }

// decode is Decode with room for capacity records made at once.
func decode(r io.Reader, capacity int) (ReadResult, error) {
	res := ReadResult{Ops: make([]Op, 0, capacity)}
	torn, err := scan(r, func() *Op {
		// Decoded in place: a record decoded elsewhere and copied in
		// would be allocated twice.
		res.Ops = append(res.Ops, Op{})
		return &res.Ops[len(res.Ops)-1]
	}, func(ok bool) error {
		if !ok {
			res.Ops = res.Ops[:len(res.Ops)-1]
		}
		return nil
	})
	res.TornTail = torn
	return res, err
}

// scan decodes JSONL records one by one: each into the record next returns,
// then calls done with whether it decoded. A last line without its newline
// that does not decode is a torn write: scan stops there and reports it.
// Any other undecodable line is an error naming its line number.
func scan(r io.Reader, next func() *Op, done func(decoded bool) error) (torn bool, err error) {
	br := bufio.NewReaderSize(r, 1<<20)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return false, fmt.Errorf("line %d: %w", line, err)
		}
		complete := len(b) > 0 && b[len(b)-1] == '\n'
		if trimmed := bytes.TrimSpace(b); len(trimmed) > 0 {
			uerr := json.Unmarshal(trimmed, next())
			if derr := done(uerr == nil); derr != nil {
				return false, fmt.Errorf("line %d: %w", line, derr)
			}
			if uerr != nil {
				if !complete {
					return true, nil
				}
				return false, fmt.Errorf("line %d: %w", line, uerr)
			}
		}
		if err != nil { // io.EOF
			return false, nil
		}
	}
}
