package queue

import (
	"sort"

	"github.com/zkchaos/zkchaos/checker/znodes"
)

// dequeueOrder answers "what is the highest number among the ok dequeues
// that completed before t" in O(log n).
type dequeueOrder struct {
	byComplete []okDequeue
	best       []int // best[i] is the index in byComplete of the highest seq among byComplete[:i+1]
}

func newDequeueOrder(deqs []okDequeue) *dequeueOrder {
	o := &dequeueOrder{byComplete: append([]okDequeue(nil), deqs...)}
	sort.SliceStable(o.byComplete, func(i, j int) bool { return o.byComplete[i].Complete < o.byComplete[j].Complete })
	o.best = make([]int, len(o.byComplete))
	for i := range o.byComplete {
		o.best[i] = i
		if i > 0 && o.byComplete[o.best[i-1]].Seq >= o.byComplete[i].Seq {
			o.best[i] = o.best[i-1]
		}
	}
	return o
}

// highestBefore returns the ok dequeue with the highest number among those
// that completed strictly before t.
func (o *dequeueOrder) highestBefore(t int64) (okDequeue, bool) {
	n := sort.Search(len(o.byComplete), func(i int) bool { return o.byComplete[i].Complete >= t })
	if n == 0 {
		return okDequeue{}, false
	}
	return o.byComplete[o.best[n-1]], true
}

// skippedAndOvertaken finds ok dequeues of an element older than one whose
// dequeue had completed before they began (violations), and counts those
// merely overtaken by an overlapping dequeue of a newer element.
func (o *dequeueOrder) skippedAndOvertaken() (skipped, overtaken int, examples []Skip) {
	for _, a := range o.byComplete {
		if b, ok := o.highestBefore(a.Invoke); ok && b.index != a.index && b.Seq > a.Seq {
			skipped++
			if len(examples) < znodes.ExamplesLimit {
				examples = append(examples, Skip{Older: a.SequencedElement, Newer: b.SequencedElement, How: "dequeued later"})
			}
			continue
		}
		if b, ok := o.highestBefore(a.Complete); ok && b.index != a.index && b.Seq > a.Seq {
			overtaken++
		}
	}
	return skipped, overtaken, examples
}

// sightings are, per element, when the ok reads that listed it were: the
// earliest completion and the latest invocation.
type sightings struct {
	first, last map[int64]int64
}

func sightingsOf(reads []znodes.Read) sightings {
	s := sightings{first: map[int64]int64{}, last: map[int64]int64{}}
	for _, r := range reads {
		for _, e := range r.Call.Complete.Values {
			if t, ok := s.first[e]; !ok || r.Call.Complete.Time < t {
				s.first[e] = r.Call.Complete.Time
			}
			if t, ok := s.last[e]; !ok || r.Call.Invoke.Time > t {
				s.last[e] = r.Call.Invoke.Time
			}
		}
	}
	return s
}

// before reports whether a read that completed before t listed e.
func (s sightings) before(e, t int64) bool {
	f, ok := s.first[e]
	return ok && f < t
}

// after reports whether a read begun after t listed e.
func (s sightings) after(e, t int64) bool {
	l, ok := s.last[e]
	return ok && l > t
}
