package history

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
)

// ErrUnreadable marks an error of Scan in reading the history file itself:
// it cannot be opened or holds a line that is not a record.
var ErrUnreadable = errors.New("history unreadable")

// unreadableError is an error matching ErrUnreadable with the message of
// the error it wraps.
type unreadableError struct{ err error }

func (e unreadableError) Error() string        { return e.err.Error() }
func (e unreadableError) Unwrap() error        { return e.err }
func (e unreadableError) Is(target error) bool { return target == ErrUnreadable }

// scanChunk is how much of the file Scan decodes at once, in whole lines.
const scanChunk = 1 << 20

// chunk is whole lines of the file, numbered from first.
type chunk struct {
	data  []byte
	first int
	// tail is true when the chunk ends the file without a newline.
	tail bool
}

// decoded is a chunk's records, and why decoding stopped early, if it did.
type decoded struct {
	ops  []*Op
	err  error
	torn bool
}

// Scan reads the history file at path one record at a time, in file order,
// and calls fn with each complete record, which fn may keep: the history is
// never held in memory as a whole. The lines are decoded on all cores while
// fn sees the records one by one. A last line torn by a crash is dropped and
// reported as torn. Scan stops at the first error of fn, or when ctx ends;
// an error in reading the file matches ErrUnreadable.
func Scan(ctx context.Context, path string, fn func(op *Op) error) (torn bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, unreadableError{fmt.Errorf("open history: %w", err)}
	}
	defer f.Close()

	stop := make(chan struct{})
	work := make(chan func(), runtime.GOMAXPROCS(0))
	order := make(chan chan decoded, 2*runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for w := range work {
				w()
			}
		})
	}
	var readErr error
	go func() {
		defer close(order)
		defer close(work)
		readErr = readChunks(f, func(c chunk) bool {
			out := make(chan decoded, 1)
			select {
			case order <- out:
			case <-stop:
				return false
			}
			work <- func() { out <- decodeChunk(c) }
			return true
		})
	}()
	defer func() {
		close(stop)
		for range order { // let the reader end
		}
		wg.Wait()
	}()

	for out := range order {
		if err := ctx.Err(); err != nil {
			return false, fmt.Errorf("%s: read history: %w", path, context.Cause(ctx))
		}
		d := <-out
		for _, op := range d.ops {
			if err := fn(op); err != nil {
				return false, fmt.Errorf("%s: %w", path, err)
			}
		}
		if d.err != nil || d.torn {
			if d.err != nil {
				return false, unreadableError{fmt.Errorf("%s: %w", path, d.err)}
			}
			return true, nil
		}
	}
	if readErr != nil {
		return false, unreadableError{fmt.Errorf("%s: %w", path, readErr)}
	}
	return false, nil
}

// readChunks reads r in chunks of whole lines and hands each to emit until
// it returns false.
func readChunks(r io.Reader, emit func(chunk) bool) error {
	var carry []byte
	line := 1
	for {
		buf := make([]byte, len(carry), len(carry)+scanChunk)
		copy(buf, carry)
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			return fmt.Errorf("line %d: %w", line, err)
		}
		end := bytes.LastIndexByte(buf, '\n') + 1
		if eof {
			end = len(buf)
		}
		carry = buf[end:]
		if end > 0 {
			c := chunk{data: buf[:end], first: line, tail: eof && buf[end-1] != '\n'}
			line += bytes.Count(c.data, []byte{'\n'})
			if !emit(c) {
				return nil
			}
		}
		if eof {
			return nil
		}
	}
}

// decodeChunk decodes the lines of c, up to the first that does not decode.
func decodeChunk(c chunk) decoded {
	var d decoded
	dec := decoder{intern: interner{}}
	data := c.data
	for line := c.first; len(data) > 0; line++ {
		b := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			b, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		trimmed := bytes.TrimSpace(b)
		if len(trimmed) == 0 {
			continue
		}
		op := new(Op)
		if dec.decode(trimmed, op) {
			d.ops = append(d.ops, op)
			continue
		}
		*op = Op{}
		if err := json.Unmarshal(trimmed, op); err != nil {
			if c.tail && len(data) == 0 {
				d.torn = true
			} else {
				d.err = fmt.Errorf("line %d: %w", line, err)
			}
			return d
		}
		d.ops = append(d.ops, op)
	}
	return d
}
