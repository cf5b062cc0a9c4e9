// Package znodes holds what the set and queue checkers share: the final
// reads of a parent's children, the names ZooKeeper gives sequential znodes
// and the check that they are unique and grow with real time, and samples of
// elements for messages.
package znodes

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// SequencedElement is an element with the sequential znode that held it.
type SequencedElement struct {
	// Element is the value.
	Element int64 `json:"element"`
	// Path is the znode.
	Path string `json:"path"`
	// Seq is the sequence number of the znode's name.
	Seq int64 `json:"seq"`
	// Invoke and Complete are the times of the operation that created
	// (sequence checks) or dequeued (order checks) it.
	Invoke   int64 `json:"invoke_ns"`
	Complete int64 `json:"complete_ns"`
	// Index is the index of the invocation record of that operation.
	Index int64 `json:"index"`
}

// SequenceInversion is a pair of acknowledged sequential creates whose
// numbers contradict real time: Earlier completed before Later began, yet
// Later's number is not higher.
type SequenceInversion struct {
	// Earlier is the create that completed first.
	Earlier SequencedElement `json:"earlier"`
	// Later is the create that began after it.
	Later SequencedElement `json:"later"`
}

// SequenceCheck is what the names of the acknowledged sequential creates
// showed.
type SequenceCheck struct {
	// Creates is the number of acknowledged creates with a sequential name.
	Creates int `json:"creates"`
	// SameName lists names that two acknowledged creates both returned.
	SameName []string `json:"same_name,omitempty"`
	// Inversions is the number of creates whose number is not above that of
	// a create that completed before they began.
	Inversions int `json:"inversions"`
	// Examples are up to 20 of those inversions.
	Examples []SequenceInversion `json:"examples,omitempty"`
	// creates are the invocation records of the creates of each name in
	// SameName.
	creates map[string][]int64
}

// Problem says in words what the names showed wrong, or "" when nothing.
func (s SequenceCheck) Problem() string {
	var parts []string
	if len(s.SameName) > 0 {
		parts = append(parts, fmt.Sprintf("%s returned by two acknowledged creates (first %s)",
			checker.Plural(len(s.SameName), "sequential name was", "sequential names were"), s.SameName[0]))
	}
	if s.Inversions > 0 {
		e := s.Examples[0]
		parts = append(parts, fmt.Sprintf("%s against real time (e.g. %s completed before %s began)",
			checker.Plural(s.Inversions, "sequential create numbered", "sequential creates numbered"),
			e.Earlier.Path, e.Later.Path))
	}
	return strings.Join(parts, "; ")
}

// Create is an acknowledged sequential create.
type Create struct {
	// Element is the value the create stored.
	Element int64
	// Path is the name ZooKeeper gave the znode.
	Path string
	// Seq is the sequence number of that name.
	Seq int64
	// Invoke and Complete are the times of the create.
	Invoke, Complete int64
	// Index is the index of the create's invocation record.
	Index int64
	index int
}

// sequenced returns the create as evidence for details.
func (c Create) sequenced() SequencedElement {
	return SequencedElement{Element: c.Element, Path: c.Path, Seq: c.Seq, Invoke: c.Invoke, Complete: c.Complete, Index: c.Index}
}

// SequentialName returns the name and number a sequential create got: the
// path it returned, when that is the path it asked for (if recorded) with
// ten digits appended, as ZooKeeper names sequential znodes.
func SequentialName(c history.Call) (string, int64, bool) {
	p := c.Complete.Path
	if p == "" {
		return "", 0, false
	}
	if asked := c.Invoke.Path; asked != "" && (!strings.HasPrefix(p, asked) || len(p)-len(asked) != 10) {
		return "", 0, false
	}
	n, ok := SequenceOf(p)
	return p, n, ok
}

// SequenceOf returns the sequence number of a sequential znode's path: the
// last ten characters of its name, as ZooKeeper formats them (%010d).
func SequenceOf(path string) (int64, bool) {
	name := path[strings.LastIndexByte(path, '/')+1:]
	if len(name) < 10 {
		return 0, false
	}
	n, err := strconv.ParseInt(name[len(name)-10:], 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// CheckSequence holds acknowledged sequential creates to unique names and to
// numbers that grow with real time.
func CheckSequence(cs []Create) SequenceCheck {
	out := SequenceCheck{Creates: len(cs)}
	byPath := map[string][]int64{}
	for i := range cs {
		cs[i].index = i
		byPath[cs[i].Path] = append(byPath[cs[i].Path], cs[i].Index)
	}
	for p, idx := range byPath {
		if len(idx) > 1 {
			out.SameName = append(out.SameName, p)
			if out.creates == nil {
				out.creates = map[string][]int64{}
			}
			out.creates[p] = idx
		}
	}
	sort.Strings(out.SameName)

	byInvoke := append([]Create(nil), cs...)
	sort.SliceStable(byInvoke, func(i, j int) bool { return byInvoke[i].Invoke < byInvoke[j].Invoke })
	byComplete := append([]Create(nil), cs...)
	sort.SliceStable(byComplete, func(i, j int) bool { return byComplete[i].Complete < byComplete[j].Complete })
	best := -1 // index into byComplete of the highest number completed so far
	next := 0
	for _, b := range byInvoke {
		for next < len(byComplete) && byComplete[next].Complete < b.Invoke {
			if best < 0 || byComplete[next].Seq > byComplete[best].Seq {
				best = next
			}
			next++
		}
		if best < 0 || byComplete[best].index == b.index || byComplete[best].Seq < b.Seq {
			continue
		}
		out.Inversions++
		if len(out.Examples) < ExamplesLimit {
			out.Examples = append(out.Examples, SequenceInversion{Earlier: byComplete[best].sequenced(), Later: b.sequenced()})
		}
	}
	return out
}

// ExamplesLimit bounds the examples of order violations kept in details.
const ExamplesLimit = 20
