// Package checker judges a history: pure functions from the operations of a
// run to a Result that is valid, invalid or unknown.
//
// Checkers read nothing but the history, so a run directory can be judged
// again offline, long after the cluster is gone. A timeout, or too little
// evidence to judge, is unknown and never valid: a checker that did not look
// must not say that all is well.
//
// This package holds the contract every checker keeps, and Compose, which
// runs several as one; the checkers themselves live in its sub-packages, one
// per guarantee (linearizable, sequential, set, queue, lock, session, watch,
// transactions, convergence, serverlogs, recovery, stats).
package checker

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/zkchaos/zkchaos/history"
)

// Verdict is the outcome of a check.
type Verdict string

const (
	// Valid means the history satisfies the property checked.
	Valid Verdict = "valid"
	// Invalid means the history violates the property checked.
	Invalid Verdict = "invalid"
	// Unknown means the checker could not decide: it ran out of time or the
	// history holds too little evidence.
	Unknown Verdict = "unknown"
)

// rank orders verdicts from best to worst; anything unrecognised ranks as
// unknown, so a corrupt verdict can never read as valid.
func (v Verdict) rank() int {
	switch v {
	case Valid:
		return 0
	case Invalid:
		return 2
	default:
		return 1
	}
}

// Worst returns the worst of vs (invalid > unknown > valid); no verdicts at
// all is unknown, because nothing was checked.
func Worst(vs ...Verdict) Verdict {
	if len(vs) == 0 {
		return Unknown
	}
	worst := Valid
	for _, v := range vs {
		if v.rank() > worst.rank() {
			worst = v
		}
	}
	if worst.rank() == 1 {
		return Unknown
	}
	return worst
}

// Result is what a checker found.
type Result struct {
	// Checker is the name of the checker that produced the result.
	Checker string `json:"checker"`
	// Verdict is valid, invalid or unknown.
	Verdict Verdict `json:"verdict"`
	// Message is one or two sentences for a person.
	Message string `json:"message"`
	// Details is checker-specific evidence; it must be JSON-serialisable.
	Details any `json:"details,omitempty"`
	// Anomalies are what the checker found wrong or could not decide, from
	// Details when it is an Evidencer; run fills them in.
	Anomalies []Anomaly `json:"anomalies,omitempty"`
	// Children are the results of composed checkers, in their given order.
	Children []Result `json:"children,omitempty"`
	// Visualizations are HTML pages to embed in the report.
	Visualizations []Visualization `json:"-"`
	// Duration is how long the check took.
	Duration time.Duration `json:"duration_ns"`
}

// AllVisualizations returns the visualizations of r and of all its
// descendants, depth first, in order.
func (r Result) AllVisualizations() []Visualization {
	vs := append([]Visualization(nil), r.Visualizations...)
	for _, c := range r.Children {
		vs = append(vs, c.AllVisualizations()...)
	}
	return vs
}

// Visualization is a self-contained HTML page that illustrates a result.
type Visualization struct {
	// Title names the page, e.g. the key it shows.
	Title string
	// HTML is the whole page.
	HTML []byte
}

// Checker judges a history. Check must not modify ops: composed checkers
// share one slice and run in parallel.
type Checker interface {
	// Name identifies the checker in results and reports.
	Name() string
	// Check judges ops and reports what it found.
	Check(ctx context.Context, ops []history.Op) Result
}

// Compose returns a checker named name that runs cs in parallel on the same
// history; its verdict is the worst of theirs and their results are its
// Children, in the order given.
func Compose(name string, cs ...Checker) Checker {
	return composed{name: name, cs: append([]Checker(nil), cs...)}
}

type composed struct {
	name string
	cs   []Checker
}

func (c composed) Name() string { return c.name }

func (c composed) Check(ctx context.Context, ops []history.Op) Result {
	start := time.Now()
	children := make([]Result, len(c.cs))
	var wg sync.WaitGroup
	for i, ch := range c.cs {
		wg.Go(func() { children[i] = run(ctx, ch, ops) })
	}
	wg.Wait()
	return composeResults(c.name, children, start)
}

// composeResults is the result of a composed checker named name whose
// checkers gave children.
func composeResults(name string, children []Result, start time.Time) Result {
	verdicts := make([]Verdict, len(children))
	parts := make([]string, len(children))
	for i, r := range children {
		verdicts[i] = r.Verdict
		parts[i] = fmt.Sprintf("%s %s", r.Checker, r.Verdict)
	}
	msg := "no checkers: nothing was checked."
	if len(children) > 0 {
		msg = fmt.Sprintf("%d checks: %s.", len(children), strings.Join(parts, ", "))
	}
	return Result{
		Checker:  name,
		Verdict:  Worst(verdicts...),
		Message:  msg,
		Children: children,
		Duration: time.Since(start),
	}
}

// run calls c.Check, turning a panic into an unknown result: one broken
// checker must not take the verdicts of the others down with it, and its
// failure must still be visible. It fills in the result's anomalies from
// its details.
func run(ctx context.Context, c Checker, ops []history.Op) (r Result) {
	start := time.Now()
	defer recoverResult(c, start, &r)
	return finish(c, c.Check(ctx, ops))
}

// recoverResult turns a panic of c into an unknown result in r; deferred.
func recoverResult(c Checker, start time.Time, r *Result) {
	if p := recover(); p != nil {
		*r = Result{
			Checker:  c.Name(),
			Verdict:  Unknown,
			Message:  fmt.Sprintf("checker %s panicked: %v", c.Name(), p),
			Duration: time.Since(start),
		}
	}
}

// finish names r after c when it is unnamed, and fills in its anomalies
// from its details.
func finish(c Checker, r Result) Result {
	if r.Checker == "" {
		r.Checker = c.Name()
	}
	if e, ok := r.Details.(Evidencer); ok && r.Anomalies == nil {
		r.Anomalies = e.Evidence()
	}
	return r
}

// Find returns the first result, r itself or a descendant, depth first,
// that the named checker produced.
func (r Result) Find(name string) (Result, bool) {
	if r.Checker == name {
		return r, true
	}
	for _, c := range r.Children {
		if f, ok := c.Find(name); ok {
			return f, true
		}
	}
	return Result{}, false
}

// Messages lists the verdict and message of r and of every descendant, one
// per line, depth first: for a failure to explain itself.
func (r Result) Messages() string {
	out := r.Checker + " " + string(r.Verdict) + ": " + r.Message + "\n"
	for _, c := range r.Children {
		out += c.Messages()
	}
	return out
}

// Child returns the direct child of r that the named checker produced.
func (r Result) Child(name string) (Result, bool) {
	for _, c := range r.Children {
		if c.Checker == name {
			return c, true
		}
	}
	return Result{}, false
}
