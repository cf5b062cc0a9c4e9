package checker

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

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
}

func (s SequenceCheck) problem() string {
	var parts []string
	if len(s.SameName) > 0 {
		parts = append(parts, fmt.Sprintf("%s returned by two acknowledged creates (first %s)",
			plural(len(s.SameName), "sequential name was", "sequential names were"), s.SameName[0]))
	}
	if s.Inversions > 0 {
		e := s.Examples[0]
		parts = append(parts, fmt.Sprintf("%s against real time (e.g. %s completed before %s began)",
			plural(s.Inversions, "sequential create numbered", "sequential creates numbered"),
			e.Earlier.Path, e.Later.Path))
	}
	return strings.Join(parts, "; ")
}

// seqCreate is an acknowledged sequential create.
type seqCreate struct {
	element          int64
	path             string
	seq              int64
	invoke, complete int64
	index            int
}

func (c seqCreate) sequenced() SequencedElement {
	return SequencedElement{Element: c.element, Path: c.path, Seq: c.seq, Invoke: c.invoke, Complete: c.complete}
}

// createdSequence returns the name and number a sequential create got: the
// path it returned, when that is the path it asked for (if recorded) with
// ten digits appended, as ZooKeeper names sequential znodes.
func createdSequence(c history.Call) (string, int64, bool) {
	p := c.Complete.Path
	if p == "" {
		return "", 0, false
	}
	if asked := c.Invoke.Path; asked != "" && (!strings.HasPrefix(p, asked) || len(p)-len(asked) != 10) {
		return "", 0, false
	}
	n, ok := sequenceOf(p)
	return p, n, ok
}

// sequenceOf returns the sequence number of a sequential znode's path: the
// last ten characters of its name, as ZooKeeper formats them (%010d).
func sequenceOf(path string) (int64, bool) {
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

// checkSequence holds acknowledged sequential creates to unique names and to
// numbers that grow with real time.
func checkSequence(cs []seqCreate) SequenceCheck {
	out := SequenceCheck{Creates: len(cs)}
	byPath := map[string]int{}
	for i := range cs {
		cs[i].index = i
		byPath[cs[i].path]++
	}
	for p, n := range byPath {
		if n > 1 {
			out.SameName = append(out.SameName, p)
		}
	}
	sort.Strings(out.SameName)

	byInvoke := append([]seqCreate(nil), cs...)
	sort.SliceStable(byInvoke, func(i, j int) bool { return byInvoke[i].invoke < byInvoke[j].invoke })
	byComplete := append([]seqCreate(nil), cs...)
	sort.SliceStable(byComplete, func(i, j int) bool { return byComplete[i].complete < byComplete[j].complete })
	best := -1 // index into byComplete of the highest number completed so far
	next := 0
	for _, b := range byInvoke {
		for next < len(byComplete) && byComplete[next].complete < b.invoke {
			if best < 0 || byComplete[next].seq > byComplete[best].seq {
				best = next
			}
			next++
		}
		if best < 0 || byComplete[best].index == b.index || byComplete[best].seq < b.seq {
			continue
		}
		out.Inversions++
		if len(out.Examples) < examplesLimit {
			out.Examples = append(out.Examples, SequenceInversion{Earlier: byComplete[best].sequenced(), Later: b.sequenced()})
		}
	}
	return out
}

// examplesLimit bounds the examples of order violations kept in details.
const examplesLimit = 20
