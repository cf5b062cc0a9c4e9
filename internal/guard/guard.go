// Package guard starts the goroutines of a run so that a panic in one of them
// fails the run instead of the process: the panic is recovered, turned into
// an error that carries its value and stack, and handed to the handler the
// run put in its context, which records it and cancels the run. The run then
// heals its faults, stops its servers and keeps its history, as after any
// other failure.
package guard

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
)

// handlerKey is the context key of a run's panic handler.
type handlerKey struct{}

// WithHandler returns a copy of ctx whose goroutines, started with Go or
// Func, hand their panics to handle. handle may be called from several
// goroutines at once.
func WithHandler(ctx context.Context, handle func(error)) context.Context {
	return context.WithValue(ctx, handlerKey{}, Guard{handle: handle})
}

// Guard starts goroutines whose panics go to one handler.
type Guard struct{ handle func(error) }

// From returns the guard of ctx. Without a handler in ctx a panic is not
// recovered: it ends the process as it would have without a guard.
func From(ctx context.Context) Guard {
	g, _ := ctx.Value(handlerKey{}).(Guard)
	return g
}

// Go runs f in a new goroutine; what names it in the error of a panic.
func Go(ctx context.Context, what string, f func()) { From(ctx).Go(what, f) }

// Go runs f in a new goroutine; what names it in the error of a panic.
func (g Guard) Go(what string, f func()) { go g.Func(what, f)() }

// Func returns f made safe to run as a goroutine (sync.WaitGroup.Go): a panic
// in f is recovered and handed to the guard's handler, after f's own
// deferred calls have run.
func (g Guard) Func(what string, f func()) func() {
	if g.handle == nil {
		return f
	}
	return func() {
		defer func() {
			if p := recover(); p != nil {
				g.handle(asError(what, p))
			}
		}()
		f()
	}
}

// asError turns a recovered value into a PanicError; one re-raised by a
// Group is kept as it is, with the stack where it first panicked.
func asError(what string, p any) *PanicError {
	if pe, ok := p.(*PanicError); ok {
		return pe
	}
	return &PanicError{What: what, Value: p, Stack: debug.Stack()}
}

// Recover, deferred by a goroutine that is not started by a guard (the
// run's own), turns its panic into an error joined to *err; what names the
// goroutine. The goroutine's other deferred calls run before it.
func Recover(what string, err *error) {
	if p := recover(); p != nil {
		*err = errors.Join(*err, asError(what, p))
	}
}

// Group runs goroutines for a parent that waits for them all, as a
// sync.WaitGroup does, and re-raises the first panic among them in the
// parent, whose own guard (or caller) then deals with it. It suits short
// fan-outs (reads in parallel); a goroutine that lives as long as the run
// needs Go, whose handler ends the run at once. The zero Group is ready.
type Group struct {
	wg    sync.WaitGroup
	mu    sync.Mutex
	panic *PanicError
}

// Go runs f in a new goroutine; what names it in the error of a panic.
func (g *Group) Go(what string, f func()) {
	g.wg.Go(func() {
		defer func() {
			if p := recover(); p != nil {
				g.mu.Lock()
				if g.panic == nil {
					g.panic = asError(what, p)
				}
				g.mu.Unlock()
			}
		}()
		f()
	})
}

// Wait waits for every goroutine of the group, then panics with the first
// panic among them, if any.
func (g *Group) Wait() {
	g.wg.Wait()
	if g.panic != nil {
		panic(g.panic)
	}
}

// PanicError is a recovered panic.
type PanicError struct {
	// What names the goroutine that panicked.
	What string
	// Value is what was passed to panic.
	Value any
	// Stack is the goroutine's stack where it panicked.
	Stack []byte
}

// Error says what panicked with what, followed by the stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("%s panicked: %v\n%s", e.What, e.Value, e.Stack)
}
