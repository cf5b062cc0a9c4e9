package history

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// maxSpillFiles bounds the files a Split keeps open: beyond it keys share
// files, and loading a key reads the records of the keys it shares with.
const maxSpillFiles = 256

// Split is a history split by key on disk, for judging a history of any
// length in memory bounded by its largest key: each call's records go to a
// spill file of the key its invocation addresses, and the records that
// belong to no call (the nemesis's) stay in memory. A key's records, loaded
// with Load, are a history of their own in which the calls pair as they do
// in the whole history.
type Split struct {
	dir   string
	keys  map[string]*spillFile
	files []*spillFile
	// Others are the nemesis's records in order, followed by the history's
	// last record when that is a client's: its time ends the fault windows
	// still open.
	Others []Op
	// Records is how many records the history holds.
	Records int64
	// Last is the time of the history's last record.
	Last int64
	// TornTail is true when the history's last line was torn by a crash and
	// was left out.
	TornTail bool
}

// spillFile holds the records of one or more keys.
type spillFile struct {
	path    string
	f       *os.File
	w       spillWriter
	records map[string]int // per key
}

// SplitFile splits the history file at path into spill files in a new
// directory under tmp (os.TempDir when empty), calling fold, when not nil,
// with every record in order as it goes. Close removes the spill files.
func SplitFile(ctx context.Context, path, tmp string, fold func(op *Op)) (*Split, error) {
	dir, err := os.MkdirTemp(tmp, "split-")
	if err != nil {
		return nil, fmt.Errorf("split history: %w", err)
	}
	s := &Split{dir: dir, keys: map[string]*spillFile{}}
	open := map[Process]string{} // the key of each process's open call
	var last *Op
	torn, err := Scan(ctx, path, func(op *Op) error {
		if fold != nil {
			fold(op)
		}
		s.Records++
		last = op
		if op.IsNemesis() {
			s.Others = append(s.Others, *op)
			return nil
		}
		if op.Type == Invoke {
			open[op.Process] = op.Key
			return s.add(op.Key, op)
		}
		key, ok := open[op.Process]
		if !ok {
			return nil // a completion without invocation pairs with nothing
		}
		delete(open, op.Process)
		return s.add(key, op)
	})
	s.TornTail = torn
	if last != nil {
		s.Last = last.Time
		if !last.IsNemesis() {
			s.Others = append(s.Others, *last)
		}
	}
	for _, f := range s.files {
		if ferr := f.w.w.Flush(); ferr != nil && err == nil {
			err = fmt.Errorf("split history: %w", ferr)
		}
	}
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// file returns the spill file of key, creating it.
func (s *Split) file(key string) (*spillFile, error) {
	if f, ok := s.keys[key]; ok {
		return f, nil
	}
	if len(s.files) == maxSpillFiles {
		f := s.files[len(s.keys)%maxSpillFiles]
		s.keys[key] = f
		return f, nil
	}
	path := filepath.Join(s.dir, fmt.Sprintf("%d.spill", len(s.files)))
	fh, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("split history: %w", err)
	}
	f := &spillFile{path: path, f: fh, w: spillWriter{w: bufio.NewWriterSize(fh, 64<<10)}, records: map[string]int{}}
	s.files = append(s.files, f)
	s.keys[key] = f
	return f, nil
}

// add appends op, a record of a call on key, to key's spill file.
func (s *Split) add(key string, op *Op) error {
	f, err := s.file(key)
	if err != nil {
		return err
	}
	f.records[key]++
	return f.w.write(op)
}

// Keys returns the keys the history's calls address, sorted.
func (s *Split) Keys() []string {
	keys := make([]string, 0, len(s.keys))
	for k := range s.keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Len returns how many records key has.
func (s *Split) Len(key string) int {
	if f, ok := s.keys[key]; ok {
		return f.records[key]
	}
	return 0
}

// Load reads the records of key's calls, in history order. A completion
// keeps the key of its record, which may differ from its invocation's
// (or be empty): it is the invocation's key that files a call.
func (s *Split) Load(key string) ([]Op, error) {
	f, ok := s.keys[key]
	if !ok {
		return nil, nil
	}
	r, err := os.Open(f.path)
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", key, err)
	}
	defer r.Close()
	sr := spillReader{r: bufio.NewReaderSize(r, 64<<10), intern: map[string]string{}}
	ops := make([]Op, 0, f.records[key])
	open := map[Process]bool{} // processes whose open call is key's
	for {
		var op Op
		if err := sr.read(&op); errors.Is(err, io.EOF) {
			return ops, nil
		} else if err != nil {
			return nil, fmt.Errorf("load key %s: %w", key, err)
		}
		if op.Type == Invoke {
			open[op.Process] = op.Key == key
		}
		if op.Key == key || (op.Type != Invoke && open[op.Process]) {
			ops = append(ops, op)
		}
		if op.Type != Invoke {
			delete(open, op.Process)
		}
	}
}

// Close removes the spill files.
func (s *Split) Close() error {
	var errs []error
	for _, f := range s.files {
		errs = append(errs, f.f.Close())
	}
	errs = append(errs, os.RemoveAll(s.dir))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove split history: %w", err)
	}
	return nil
}
