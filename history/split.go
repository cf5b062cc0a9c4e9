package history

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/zkchaos/zkchaos/internal/proc"
)

// maxSpillFiles bounds the files a Spill keeps open: beyond it keys share
// files, and loading a key reads the records of the keys it shares with.
const maxSpillFiles = 256

// spillBuffer is the write buffer of each spill file: a Spill buffers at
// most 2 MiB whatever the number of keys, and writes in blocks of the
// page cache's size or more.
const spillBuffer = 8 << 10

// Spill keeps records by key in files, to be read back one key at a time.
type Spill struct {
	dir   string
	keys  map[string]*spillFile
	files []*spillFile
}

// spillFile holds the records of one or more keys.
type spillFile struct {
	path    string
	f       *os.File
	w       spillWriter
	records map[string]int // per key
}

// spillPrefix starts the name of a Spill's directory, followed by the
// process id of its owner and a dash.
const spillPrefix = "spill-"

// NewSpill makes an empty Spill in a new directory under tmp (os.TempDir
// when empty), named after this process. Close removes it.
func NewSpill(tmp string) (*Spill, error) {
	dir, err := os.MkdirTemp(tmp, fmt.Sprintf("%s%d-", spillPrefix, os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	return &Spill{dir: dir, keys: map[string]*spillFile{}}, nil
}

// RemoveStaleSpills removes the Spill directories under dir whose process
// is gone: a judgement killed before it could close them (out of memory,
// SIGKILL) leaves them behind. It returns the directories removed.
func RemoveStaleSpills(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("look for stale spills: %w", err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), spillPrefix)
		if !e.IsDir() || !ok {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || proc.Alive(pid) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if err := os.RemoveAll(path); err != nil {
			errs = append(errs, fmt.Errorf("remove stale spill: %w", err))
			continue
		}
		removed = append(removed, path)
	}
	return removed, errors.Join(errs...)
}

// Dir is the Spill's directory, removed with it by Close: a place for other
// files that must go when it goes.
func (s *Spill) Dir() string { return s.dir }

// Append files op under key.
func (s *Spill) Append(key string, op *Op) error {
	f, ok := s.keys[key]
	if !ok {
		var err error
		if f, err = s.newFile(key); err != nil {
			return err
		}
	}
	f.records[key]++
	return f.w.write(key, op)
}

// newFile returns the file for a new key.
func (s *Spill) newFile(key string) (*spillFile, error) {
	if len(s.files) == maxSpillFiles {
		f := s.files[len(s.keys)%maxSpillFiles]
		s.keys[key] = f
		return f, nil
	}
	path := filepath.Join(s.dir, fmt.Sprintf("%d.spill", len(s.files)))
	fh, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	f := &spillFile{path: path, f: fh, w: spillWriter{w: bufio.NewWriterSize(fh, spillBuffer)}, records: map[string]int{}}
	s.files = append(s.files, f)
	s.keys[key] = f
	return f, nil
}

// Flush writes what is buffered, for Load to see.
func (s *Spill) Flush() error {
	for _, f := range s.files {
		if err := f.w.w.Flush(); err != nil {
			return fmt.Errorf("spill: %w", err)
		}
	}
	return nil
}

// Keys returns the keys that have records, sorted.
func (s *Spill) Keys() []string {
	keys := make([]string, 0, len(s.keys))
	for k := range s.keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Load reads the records filed under key, in the order they were appended
// (and flushed).
func (s *Spill) Load(key string) ([]Op, error) {
	var ops []Op
	if f, ok := s.keys[key]; ok {
		ops = make([]Op, 0, f.records[key])
	}
	err := s.Each(key, func(op *Op) { ops = append(ops, *op) })
	return ops, err
}

// Each calls fn with each record filed under key, in the order they were
// appended (and flushed), one at a time: op is fn's until it returns.
func (s *Spill) Each(key string, fn func(op *Op)) error {
	f, ok := s.keys[key]
	if !ok {
		return nil
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("load key %s: %w", key, err)
	}
	sr := spillReader{data: data, intern: interner{}}
	var op Op // one record at a time: fn has it only until it returns
	for {
		op = Op{}
		filed, err := sr.read(&op)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("load key %s: %w", key, err)
		}
		if filed == key {
			fn(&op)
		}
	}
}

// Close removes the spill files.
func (s *Spill) Close() error {
	var errs []error
	for _, f := range s.files {
		errs = append(errs, f.f.Close())
	}
	errs = append(errs, os.RemoveAll(s.dir))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove spill: %w", err)
	}
	return nil
}

// Split is a history split by key on disk, for judging a history of any
// length in memory bounded by its largest key: each call's records are
// filed under the key its invocation addresses, and the records that belong
// to no call (the nemesis's) stay in memory. A key's records, loaded with
// Load, are a history of their own in which the calls pair as they do in
// the whole history.
type Split struct {
	*Spill
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

	open map[Process]string // the key of each process's open call
	last *Op
}

// SplitFile splits the history file at path into spill files in a new
// directory under tmp (os.TempDir when empty), calling fold, when not nil,
// with every record in order as it goes. Close removes the spill files.
func SplitFile(ctx context.Context, path, tmp string, fold func(op *Op)) (*Split, error) {
	s, err := NewSplit(tmp)
	if err != nil {
		return nil, err
	}
	torn, err := Scan(ctx, path, func(op *Op) error {
		if fold != nil {
			fold(op)
		}
		return s.Add(op)
	})
	s.TornTail = torn
	if err = cmp.Or(err, s.Done()); err != nil {
		return nil, errors.Join(fmt.Errorf("split history: %w", err), s.Close())
	}
	return s, nil
}

// NewSplit returns a Split of no records yet, in a new directory under tmp
// (os.TempDir when empty): Add files the history's records in order, Done
// ends it. Close removes the spill files.
func NewSplit(tmp string) (*Split, error) {
	spill, err := NewSpill(tmp)
	if err != nil {
		return nil, fmt.Errorf("split history: %w", err)
	}
	return &Split{Spill: spill, open: map[Process]string{}}, nil
}

// Add files the history's next record.
func (s *Split) Add(op *Op) error {
	s.Records++
	s.last = op
	if op.IsNemesis() {
		s.Others = append(s.Others, *op)
		return nil
	}
	if op.Type == Invoke {
		s.open[op.Process] = op.Key
		return s.Append(op.Key, op)
	}
	key, ok := s.open[op.Process]
	if !ok {
		return nil // a completion without invocation pairs with nothing
	}
	delete(s.open, op.Process)
	return s.Append(key, op)
}

// Done ends the history: its last record ends the fault windows still
// open, and every record is on disk for Load.
func (s *Split) Done() error {
	if s.last != nil {
		s.Last = s.last.Time
		if !s.last.IsNemesis() {
			s.Others = append(s.Others, *s.last)
		}
		s.last = nil
	}
	return s.Flush()
}
