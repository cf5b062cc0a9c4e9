package oracle

import (
	"fmt"

	"github.com/zkchaos/zkchaos/history"
)

// Record names and event types of the watch workload.
const (
	wtFWatch        = "watch"
	wtFEvent        = "event"
	wtFSession      = "session"
	wtDataChanged   = "EventNodeDataChanged"
	wtNotWatching   = "EventNotWatching"
	wtNoSuchVersion = -1
)

// wtRegistration is a watch a session set, at the version it read.
type wtRegistration struct {
	version int32
	clean   bool
}

// wtKeyView is what one watcher session knows of one key while the oracle
// replays its records: the watches set and not yet answered, oldest first.
type wtKeyView struct {
	pending []wtRegistration
	// crowded: two watches were pending at once since the key last had
	// none, so which one an event answers is not known.
	crowded bool
	// floor is the lowest version a read may return after the events seen
	// (wtNoSuchVersion before any).
	floor int32
}

// Watches decides the claim of the watches checker for the watch workload
// (writers "write"; watcher sessions that set data watches "watch", read
// "read", record delivered events "event" and the end of their connection
// "session"). Replaying each watcher session's records in order, per key,
// from ZooKeeper's promises that a data watch is one-shot, fires on the
// next change of its znode and reaches the client before any reply that
// shows that change:
//
//   - while exactly one clean watch set at version v is pending, a clean
//     read on the session that did not find the event delivered returns a
//     version no higher than v;
//   - an event with no watch pending on a clean record is a watch firing
//     twice; an event answering a clean watch is NodeDataChanged (the
//     znodes are never deleted) and, when that watch was alone, some write
//     invoked before the event could have made version v+1 (an ok write
//     that returned a version above v, or one that did not certainly
//     fail); "EventNotWatching" ends a watch with no answer;
//   - after such an event, every clean read or watch returns at least v+1;
//   - every value read was written at the version read (0 only at 0).
//
// A record is clean until the one before the session's first "session"
// record: later, and the call just before it, the connection may have been
// replaced. Reads without value or version make the answer unknown when no
// violation is found, and so does a history with no checked event or no
// read while one watch was pending.
//
// The claim leaves out what the checker cannot see: the order of events
// on different keys, the exact write an event announces (a write invoked
// before the event that made a later version is taken as the one), and
// sessions after their connection broke.
func Watches(ops []history.Op) Answer {
	calls := settleCalls(ops)
	var writes []settledCall
	for _, c := range calls {
		if c.inv.F == history.Write {
			writes = append(writes, c)
		}
	}
	unusable := 0
	for _, c := range calls {
		if (c.inv.F != wtFWatch && c.inv.F != history.Read) || c.done.Type != history.OK {
			continue
		}
		if c.done.Value == nil || c.done.Version == nil {
			unusable++
			continue
		}
		if why := wtUnwritten(writes, c.inv.Key, *c.done.Value, *c.done.Version); why != "" {
			return violated(why)
		}
	}

	var order []int64
	bySession := map[int64][]settledCall{}
	for _, c := range calls {
		switch c.inv.F {
		case wtFWatch, history.Read, wtFEvent, wtFSession:
		default:
			continue
		}
		if c.inv.Session == 0 {
			continue
		}
		if bySession[c.inv.Session] == nil {
			order = append(order, c.inv.Session)
		}
		bySession[c.inv.Session] = append(bySession[c.inv.Session], c)
	}
	checkedEvents, armedReads := 0, 0
	for _, id := range order {
		recs := bySession[id]
		end := len(recs)
		for i, c := range recs {
			if c.inv.F == wtFSession {
				end = i
				break
			}
		}
		views := map[string]*wtKeyView{}
		for i, c := range recs {
			clean := i < end-1 || end == len(recs)
			v := views[c.inv.Key]
			if v == nil {
				v = &wtKeyView{floor: wtNoSuchVersion}
				views[c.inv.Key] = v
			}
			if c.done.Type != history.OK {
				continue
			}
			what := fmt.Sprintf("session %#x, %s", id, c.inv.Key)
			switch c.inv.F {
			case wtFWatch, history.Read:
				if c.done.Version == nil {
					continue
				}
				got := *c.done.Version
				if clean && got < v.floor {
					return violated(fmt.Sprintf("%s: read version %d after an event announced version %d", what, got, v.floor))
				}
				if c.inv.F == wtFWatch {
					v.crowded = v.crowded || len(v.pending) > 0
					v.pending = append(v.pending, wtRegistration{version: got, clean: clean})
					continue
				}
				if c.done.Event != "" {
					// Delivered when the reply came, or just after.
					if why := v.event(writes, c.inv.Key, c.done.Event, c.done.Time, clean, &checkedEvents); why != "" {
						return violated(what + ": " + why)
					}
					continue
				}
				if len(v.pending) == 1 && !v.crowded && clean && v.pending[0].clean {
					armedReads++
					if set := v.pending[0].version; got > set {
						return violated(fmt.Sprintf("%s: read version %d while its watch set at %d had not fired", what, got, set))
					}
				}
			case wtFEvent:
				if why := v.event(writes, c.inv.Key, c.done.Event, c.inv.Time, clean, &checkedEvents); why != "" {
					return violated(what + ": " + why)
				}
			}
		}
	}
	switch {
	case unusable > 0:
		return cannotJudge(fmt.Sprintf("%d reads without value or version", unusable))
	case checkedEvents == 0 || armedReads == 0:
		return cannotJudge("no checked event, or no read while one watch was pending")
	}
	return holds()
}

// event applies an event of type typ delivered by time t, and says what
// it violates, if anything.
func (v *wtKeyView) event(writes []settledCall, key, typ string, t int64, clean bool, checked *int) string {
	if len(v.pending) == 0 {
		if typ != wtNotWatching && clean {
			return typ + " with no watch pending"
		}
		return ""
	}
	alone := !v.crowded
	r := v.pending[0]
	v.pending = v.pending[1:]
	if len(v.pending) == 0 {
		v.crowded = false
	}
	if typ == wtNotWatching || !clean || !r.clean {
		return ""
	}
	if typ != wtDataChanged {
		return typ + " on a data watch of a znode never deleted"
	}
	if !alone {
		return ""
	}
	*checked++
	could := false
	for _, w := range writes {
		ok := w.done.Type == history.OK && w.done.Version != nil
		if w.inv.Key == key && w.inv.Time < t && w.done.Type != history.Fail && (!ok || *w.done.Version > r.version) {
			could = true
		}
	}
	if !could {
		return fmt.Sprintf("%s for the watch set at version %d, and no write invoked before could have made version %d", typ, r.version, r.version+1)
	}
	v.floor = max(v.floor, r.version+1)
	return ""
}

// wtUnwritten says why value at version cannot have been read at key, or
// "" when some write that did not certainly fail wrote it there.
func wtUnwritten(writes []settledCall, key string, value int64, version int32) string {
	if value == 0 {
		if version != 0 {
			return fmt.Sprintf("%s read the initial 0 at version %d", key, version)
		}
		return ""
	}
	for _, w := range writes {
		if w.inv.Key != key || w.inv.Value == nil || *w.inv.Value != value || w.done.Type == history.Fail {
			continue
		}
		if w.done.Type != history.OK || w.done.Version == nil || *w.done.Version == version {
			return ""
		}
	}
	return fmt.Sprintf("%s read %d at version %d, which no write made", key, value, version)
}
