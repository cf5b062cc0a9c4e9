package history

import (
	"context"
	"fmt"
	"os"
)

// Scan reads the history file at path one record at a time, in file order,
// and calls fn with each complete record, which fn may keep: the history is
// never held in memory as a whole. A last line torn by a crash is dropped
// and reported as torn. Scan stops at the first error of fn, or when ctx
// ends.
func Scan(ctx context.Context, path string, fn func(op *Op) error) (torn bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("open history: %w", err)
	}
	defer f.Close()
	var op *Op
	n := 0
	torn, err = scan(f, func() *Op {
		op = new(Op)
		return op
	}, func(decoded bool) error {
		if n++; n%4096 == 0 && ctx.Err() != nil {
			return fmt.Errorf("read history: %w", context.Cause(ctx))
		}
		if !decoded {
			return nil
		}
		return fn(op)
	})
	if err != nil {
		return torn, fmt.Errorf("%s: %w", path, err)
	}
	return torn, nil
}
