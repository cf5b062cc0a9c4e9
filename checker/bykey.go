package checker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkchaos/zkchaos/history"
)

// ByKey is a Checker that can also judge a history one key at a time, in
// memory bounded by the largest key's share of the history rather than by
// its length, with the verdict Check would give.
type ByKey interface {
	Checker
	// StartByKey begins such a judgement.
	StartByKey(ctx context.Context) KeyJudgement
}

// KeyJudgement is a judgement of a history split by key. It sees every
// record of the history once, in order (Record); then the records of each
// key's calls (Key, once per key, perhaps from another goroutine, perhaps
// while another key is judged); then it gives its Result.
type KeyJudgement interface {
	// Record sees one record of the history. It may keep op, and leave
	// notes for a key's judgement (h.Note); h knows nothing else yet.
	Record(h *Keys, op *history.Op)
	// Key judges the records of one key's calls, in history order.
	Key(ctx context.Context, h *Keys, key string, ops []history.Op)
	// Result ends the judgement.
	Result(ctx context.Context, h *Keys) Result
}

// Keys is what a KeyJudgement knows of the whole history besides one key.
type Keys struct {
	// Others are the records of no call: the nemesis's, in order,
	// followed by the history's last record, whose time ends the fault
	// windows still open.
	Others []history.Op
	// Records is how many records the history holds.
	Records int64
	// Last is the time of the history's last record.
	Last int64

	split *history.Split
	notes *history.Spill
	mu    sync.Mutex
	temps []*os.File
}

// Load reads the records of one key's calls again, for evidence that
// another key's judgement names.
func (h *Keys) Load(key string) ([]history.Op, error) { return h.split.Load(key) }

// Note files a note for key's judgement, read back with Notes: something
// only the whole history in order could tell, such as the state of a
// session when one of key's calls began. Notes of all judgements share one
// file per key: a judgement tells its own by their F.
func (h *Keys) Note(key string, note *history.Op) error { return h.notes.Append(key, note) }

// Notes calls fn with each note filed for key, in the order they were
// filed, one at a time: fn keeps what it needs of note, which is fn's only
// until it returns.
func (h *Keys) Notes(key string, fn func(note *history.Op)) error { return h.notes.Each(key, fn) }

// CreateTemp makes a new file for a judgement's own use, as os.CreateTemp
// does with pattern; it is closed and removed when the judgement ends.
func (h *Keys) CreateTemp(pattern string) (*os.File, error) {
	f, err := os.CreateTemp(h.notes.Dir(), pattern)
	if err != nil {
		return nil, fmt.Errorf("judgement file: %w", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.temps = append(h.temps, f)
	return f, nil
}

// closeTemps closes the files CreateTemp made; removing the notes removes
// them.
func (h *Keys) closeTemps() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for _, f := range h.temps {
		errs = append(errs, f.Close())
	}
	h.temps = nil
	return errors.Join(errs...)
}

// StartByKey begins a judgement of c one key at a time, when c and every
// checker it composes can judge that way.
func StartByKey(ctx context.Context, c Checker) (KeyJudgement, bool) {
	switch c := c.(type) {
	case composed:
		js := make([]KeyJudgement, len(c.cs))
		for i, ch := range c.cs {
			j, ok := StartByKey(ctx, ch)
			if !ok {
				return nil, false
			}
			js[i] = guarded{c: ch, j: j, start: time.Now(), panicked: new(atomic.Pointer[string])}
		}
		return composedJudgement{name: c.name, js: js, start: time.Now()}, true
	case ByKey:
		return c.StartByKey(ctx), true
	}
	return nil, false
}

// composedJudgement is the judgement of a composed checker.
type composedJudgement struct {
	name  string
	js    []KeyJudgement
	start time.Time
}

func (c composedJudgement) Record(h *Keys, op *history.Op) {
	for _, j := range c.js {
		j.Record(h, op)
	}
}

// Key judges the key with every checker at once, as Check runs them.
func (c composedJudgement) Key(ctx context.Context, h *Keys, key string, ops []history.Op) {
	var wg sync.WaitGroup
	for _, j := range c.js {
		wg.Go(func() { j.Key(ctx, h, key, ops) })
	}
	wg.Wait()
}

func (c composedJudgement) Result(ctx context.Context, h *Keys) Result {
	children := make([]Result, len(c.js))
	var wg sync.WaitGroup
	for i, j := range c.js {
		wg.Go(func() { children[i] = j.Result(ctx, h) })
	}
	wg.Wait()
	return composeResults(c.name, children, c.start)
}

// guarded is one composed checker's judgement: a panic in it makes its
// result unknown, as run does for Check, and leaves the others alone.
type guarded struct {
	c        Checker
	j        KeyJudgement
	start    time.Time
	panicked *atomic.Pointer[string]
}

func (g guarded) Record(h *Keys, op *history.Op) {
	defer g.recover()
	g.j.Record(h, op)
}

func (g guarded) Key(ctx context.Context, h *Keys, key string, ops []history.Op) {
	defer g.recover()
	g.j.Key(ctx, h, key, ops)
}

func (g guarded) recover() {
	if p := recover(); p != nil {
		msg := fmt.Sprint(p)
		g.panicked.CompareAndSwap(nil, &msg)
	}
}

func (g guarded) Result(ctx context.Context, h *Keys) (r Result) {
	defer recoverResult(g.c, g.start, &r)
	if p := g.panicked.Load(); p != nil {
		panic(*p)
	}
	return finish(g.c, g.j.Result(ctx, h))
}

// Whole is the judgement of a checker that reads only the records of no
// call (the nemesis's): it checks them alone at the end.
func Whole(c Checker) KeyJudgement { return whole{c} }

type whole struct{ c Checker }

func (whole) Record(*Keys, *history.Op)                        {}
func (whole) Key(context.Context, *Keys, string, []history.Op) {}
func (w whole) Result(ctx context.Context, h *Keys) Result     { return w.c.Check(ctx, h.Others) }

// Progress is how far JudgeFile has come.
type Progress struct {
	// Records is how many records were read.
	Records int64
	// Keys is how many keys there are, once the history is read.
	Keys int
	// KeysDone is how many keys were judged.
	KeysDone int
}

// Judged is what JudgeFile found.
type Judged struct {
	// Result is the judgement's result.
	Result Result
	// TornTail is true when the history's last line was torn by a crash
	// and was left out.
	TornTail bool
	// Ordered is true when the records' times never go back: judgements
	// that follow the history in order need it.
	Ordered bool
	// Evidence are the nemesis's records, the history's last record and
	// the records of the calls that the result's anomalies name on their
	// keys (the first citedAnomalies of each result), in history order:
	// what a report shows of the history.
	Evidence []history.Op
}

// citedAnomalies is how many anomalies of each result Evidence covers, as
// many as a report lists.
const citedAnomalies = 20

// JudgeFile judges the history file at path with j one key at a time: it
// splits the history by key into spill files under tmp (os.TempDir when
// empty), removed before it returns, then loads and judges the keys one
// after another, each with all its checkers at once. fold, when not nil,
// also sees every record in order; progress, when not nil, is told how far
// the judgement has come every few hundred thousand records and after
// every key.
func JudgeFile(ctx context.Context, j KeyJudgement, path, tmp string, fold func(*history.Op), progress func(Progress)) (judged Judged, err error) {
	notes, err := history.NewSpill(tmp)
	if err != nil {
		return Judged{}, err
	}
	h := &Keys{notes: notes}
	defer func() { err = errors.Join(err, h.closeTemps(), notes.Close()) }()
	var p Progress
	ordered, last := true, int64(math.MinInt64)
	s, err := history.SplitFile(ctx, path, tmp, func(op *history.Op) {
		j.Record(h, op)
		if fold != nil {
			fold(op)
		}
		ordered = ordered && op.Time >= last
		last = max(last, op.Time)
		if p.Records++; progress != nil && p.Records%(1<<18) == 0 {
			progress(p)
		}
	})
	if err != nil {
		return Judged{}, err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	judged.TornTail, judged.Ordered = s.TornTail, ordered
	if err := notes.Flush(); err != nil {
		return judged, err
	}
	h.Others, h.Records, h.Last, h.split = s.Others, s.Records, s.Last, s
	keys := s.Keys()
	p.Keys = len(keys)
	if progress != nil {
		progress(p)
	}
	// One key at a time, its checkers at once: memory holds the records
	// and the work of one key.
	for _, key := range keys {
		ops, err := s.Load(key)
		if err != nil {
			return judged, err
		}
		j.Key(ctx, h, key, ops)
		if p.KeysDone++; progress != nil {
			progress(p)
		}
	}
	judged.Result = j.Result(ctx, h)
	judged.Evidence, err = h.evidence(judged.Result)
	return judged, err
}

// evidence returns the records of no call and those of the calls r's
// anomalies name, in history order.
func (h *Keys) evidence(r Result) ([]history.Op, error) {
	want := map[string]map[int64]bool{} // key -> record indexes
	var cite func(r Result)
	cite = func(r Result) {
		for _, a := range r.Anomalies[:min(len(r.Anomalies), citedAnomalies)] {
			for _, ref := range a.Ops {
				if a.Key == "" || ref.Index == NoIndex {
					continue
				}
				if want[a.Key] == nil {
					want[a.Key] = map[int64]bool{}
				}
				want[a.Key][ref.Index] = true
			}
		}
		for _, c := range r.Children {
			cite(c)
		}
	}
	cite(r)
	out := slices.Clone(h.Others)
	for key, indexes := range want {
		ops, err := h.Load(key)
		if err != nil {
			return nil, err
		}
		for _, c := range history.Calls(ops) {
			if !slices.ContainsFunc(c.Records(), func(i int64) bool { return indexes[i] }) {
				continue
			}
			out = append(out, *c.Invoke)
			if c.Complete.Index >= 0 {
				out = append(out, *c.Complete)
			}
		}
	}
	slices.SortFunc(out, func(a, b history.Op) int { return cmp.Compare(a.Index, b.Index) })
	return slices.CompactFunc(out, func(a, b history.Op) bool { return a.Index == b.Index }), nil
}
