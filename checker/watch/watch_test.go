package watch

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/checkertest"
)

// Builders of watch-workload histories. A watcher session s records as
// process s and session s; writers are processes 100 and up. Times in ms.

func record(p int, session int64, f, k string, call int64) history.Op {
	op := checkertest.Invoke(p, f, k, call)
	op.Session = session
	return op
}

// write is setData(k, v) that returned version.
func write(p int, k string, v int64, call, ret int64, version int32) []history.Op {
	return checkertest.WriteOK(p, k, v, call, ret, version)
}

// arm is a getData with watch that read v at version.
func arm(s int, k string, call, ret int64, v int64, version int32) []history.Op {
	inv := record(s, int64(s), F, k, call)
	c := checkertest.Complete(inv, history.OK, ret)
	c.Session = inv.Session
	c.Value, c.Version = history.Int64(v), history.Int32(version)
	return []history.Op{inv, c}
}

// read is a plain read on the watcher session; event, when set, says the
// watch event had been delivered when the reply came.
func read(s int, k string, call, ret int64, v int64, version int32, event string) []history.Op {
	inv := record(s, int64(s), history.Read, k, call)
	c := checkertest.Complete(inv, history.OK, ret)
	c.Session = inv.Session
	c.Value, c.Version, c.Event = history.Int64(v), history.Int32(version), event
	return []history.Op{inv, c}
}

// event is a delivered event recorded at `at`.
func event(s int, k string, at int64, typ string) []history.Op {
	inv := record(s, int64(s), FEvent, k, at)
	c := checkertest.Complete(inv, history.OK, at)
	c.Session, c.Event = inv.Session, typ
	return []history.Op{inv, c}
}

// lost is the end of session s's connection.
func lost(s int, at int64, reason string) []history.Op {
	inv := record(s, int64(s), FSession, "", at)
	c := checkertest.Complete(inv, history.OK, at)
	c.Session, c.Event = inv.Session, reason
	return []history.Op{inv, c}
}

func check(t *testing.T, ops []history.Op) (checker.Result, Details) {
	t.Helper()
	r := Checker{}.Check(context.Background(), ops)
	d, ok := r.Details.(Details)
	require.True(t, ok, "details are WatchDetails")
	require.NotEmpty(t, r.Message)
	return r, d
}

func rules(d Details) []string {
	var rules []string
	for _, v := range d.Violations {
		rules = append(rules, v.Rule)
	}
	return rules
}

// cycle is one clean watch cycle on k0 by session 1: watch at version 0,
// a read while armed, the write that makes version 1, its event, the
// re-arm at version 1 and a read after it.
func cycle() [][]history.Op {
	return [][]history.Op{
		arm(1, "k0", 1, 2, 0, 0),
		read(1, "k0", 5, 6, 0, 0, ""),
		write(100, "k0", 1, 10, 12, 1),
		event(1, "k0", 15, EventDataChanged),
		arm(1, "k0", 16, 17, 1, 1),
		read(1, "k0", 20, 21, 1, 1, ""),
	}
}

func TestWatchFiresOnceBeforeItsNewDataIsRead(t *testing.T) {
	r, d := check(t, checkertest.Hist(cycle()...))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, Checker{}.Name(), r.Checker)
	assert.Equal(t, 1, d.Sessions)
	assert.Equal(t, 2, d.Registrations)
	assert.Equal(t, 1, d.Events)
	assert.Equal(t, 1, d.EventsChecked)
	assert.Equal(t, 2, d.ReadsWhileArmed, "both reads happened while a watch was set")
	assert.Equal(t, 2, d.ReadsAfterEvent, "the re-arm and the read after it")
	assert.Equal(t, 1, d.Unresolved, "the re-armed watch is still pending at the end")
	assert.Zero(t, d.ViolationCount)
}

// A read that does not say what it saw might have seen the change before its
// event: the verdict cannot be valid.
func TestWatchReadWithoutVersionMakesTheVerdictUnknown(t *testing.T) {
	bare := read(1, "k0", 22, 23, 1, 1, "")
	bare[1].Version = nil
	r, d := check(t, checkertest.Hist(append(cycle(), bare)...))
	assert.Equal(t, checker.Unknown, r.Verdict, r.Message)
	assert.Equal(t, 1, d.Malformed)
	assert.Contains(t, r.Message, "1 ok registration or read had no value or version")
}

func TestWatchEventMarkedOnTheReadThatSawItCounts(t *testing.T) {
	// The event was in the channel when the reply with the new data came:
	// exactly what ZooKeeper promises.
	r, d := check(t, checkertest.Hist(
		arm(1, "k0", 1, 2, 0, 0),
		write(100, "k0", 1, 3, 4, 1),
		read(1, "k0", 5, 6, 1, 1, EventDataChanged),
		arm(1, "k0", 7, 8, 1, 1),
		read(1, "k0", 9, 10, 1, 1, ""),
	))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, 1, d.EventsChecked)
	assert.Equal(t, 1, d.ReadsWhileArmed)
}

func TestWatchMarkedReadMayStillShowOldData(t *testing.T) {
	// The event may reach the channel between the reply and the look at
	// the channel: an old value with the mark is no evidence of disorder.
	r, _ := check(t, checkertest.Hist(
		arm(1, "k0", 1, 2, 0, 0),
		read(1, "k0", 3, 4, 0, 0, ""),
		write(100, "k0", 1, 3, 6, 1),
		read(1, "k0", 5, 7, 0, 0, EventDataChanged),
	))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
}

func TestWatchNewDataReadBeforeTheEventIsInvalid(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		arm(1, "k0", 1, 2, 0, 0),
		write(100, "k0", 1, 3, 4, 1),
		read(1, "k0", 5, 6, 1, 1, ""), // version 1 seen, no event yet
		event(1, "k0", 8, EventDataChanged),
	))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Equal(t, []string{"event-before-data"}, rules(d))
	assert.Equal(t, int64(1), d.Violations[0].Session)
	assert.Len(t, d.Violations[0].Ops, 4, "the registration and the read")
}

func TestWatchMissedEventIsInvalid(t *testing.T) {
	// The change was made and read, and no event ever came.
	r, d := check(t, checkertest.Hist(
		arm(1, "k0", 1, 2, 0, 0),
		write(100, "k0", 1, 3, 4, 1),
		read(1, "k0", 50, 51, 1, 1, ""),
	))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Equal(t, []string{"event-before-data"}, rules(d))
}

func TestWatchReadAfterEventMustShowTheAnnouncedChange(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		arm(1, "k0", 1, 2, 0, 0),
		read(1, "k0", 3, 4, 0, 0, ""),
		write(100, "k0", 1, 5, 6, 1),
		event(1, "k0", 8, EventDataChanged),
		arm(1, "k0", 9, 10, 0, 0), // re-armed at the old version
	))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Equal(t, []string{"data-after-event"}, rules(d))
}

func TestWatchEventWithoutAnyChangeIsInvalid(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		write(100, "k0", 1, 1, 2, 1),
		arm(1, "k0", 3, 4, 1, 1),
		read(1, "k0", 5, 6, 1, 1, ""),
		event(1, "k0", 8, EventDataChanged), // nothing made version 2
		write(101, "k0", 2, 9, 10, 2),       // invoked after the event
	))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Equal(t, []string{"event-without-change"}, rules(d))
}

func TestWatchEventMayComeFromAnIndeterminateWrite(t *testing.T) {
	r, _ := check(t, checkertest.Hist(
		arm(1, "k0", 1, 2, 0, 0),
		read(1, "k0", 3, 4, 0, 0, ""),
		checkertest.WriteInfo(100, "k0", 7, 5, 6),
		event(1, "k0", 8, EventDataChanged),
	))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
}

func TestWatchFailedWriteCannotExplainAnEvent(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		arm(1, "k0", 1, 2, 0, 0),
		read(1, "k0", 3, 4, 0, 0, ""),
		checkertest.WriteFail(100, "k0", 7, 5, 6),
		event(1, "k0", 8, EventDataChanged),
	))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Equal(t, []string{"event-without-change"}, rules(d))
}

func TestWatchOneShotFiringTwiceIsInvalid(t *testing.T) {
	ops := checkertest.Hist(append(cycle()[:4], event(1, "k0", 16, EventDataChanged))...)
	r, d := check(t, ops)
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Equal(t, []string{"event-without-watch"}, rules(d))
}

func TestWatchDataWatchReportingADeleteIsInvalid(t *testing.T) {
	r, d := check(t, checkertest.Hist(
		arm(1, "k0", 1, 2, 0, 0),
		read(1, "k0", 3, 4, 0, 0, ""),
		write(100, "k0", 1, 5, 6, 1),
		event(1, "k0", 8, "EventNodeDeleted"),
	))
	assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
	assert.Equal(t, []string{"unexpected-event"}, rules(d))
}

func TestWatchPhantomValuesAreInvalid(t *testing.T) {
	for name, ops := range map[string][]history.Op{
		"never written": checkertest.Hist(append(cycle(), read(2, "k0", 30, 31, 42, 1, ""))...),
		"wrong version": checkertest.Hist(append(cycle(), read(2, "k0", 30, 31, 1, 3, ""))...),
		"failed write": checkertest.Hist(append(cycle(), checkertest.WriteFail(101, "k0", 9, 22, 23),
			read(2, "k0", 30, 31, 9, 2, ""))...),
		"initial at a later version": checkertest.Hist(append(cycle(), read(2, "k0", 30, 31, 0, 1, ""))...),
	} {
		t.Run(name, func(t *testing.T) {
			r, d := check(t, ops)
			assert.Equal(t, checker.Invalid, r.Verdict, r.Message)
			assert.Equal(t, []string{"phantom-value"}, rules(d))
		})
	}
}

func TestWatchNothingAfterALostConnectionIsEvidence(t *testing.T) {
	// After a reconnection go-zookeeper restores watches in the background,
	// racing the next requests: new data before the event is then possible
	// on the client, and so are events for changes already read.
	r, d := check(t, checkertest.Hist(append(cycle(),
		arm(3, "k1", 30, 31, 0, 0),
		write(101, "k1", 5, 32, 33, 1),
		lost(3, 40, "reconnected"),
		read(3, "k1", 41, 42, 5, 1, ""),
		event(3, "k1", 43, EventDataChanged),
		event(3, "k1", 44, EventDataChanged),
	)...))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, 1, d.LostSessions)
}

func TestWatchTheOperationBeforeTheEndOfTheConnectionIsNoEvidence(t *testing.T) {
	// The read may have straddled the reconnection.
	r, d := check(t, checkertest.Hist(append(cycle(),
		arm(3, "k1", 30, 31, 0, 0),
		write(101, "k1", 5, 32, 33, 1),
		read(3, "k1", 34, 35, 5, 1, ""),
		lost(3, 36, "reconnected"),
	)...))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, 2, d.ReadsWhileArmed, "only the clean session's reads")
}

func TestWatchDroppedByTheLibraryIsUnresolvedNotMissed(t *testing.T) {
	r, d := check(t, checkertest.Hist(append(cycle(),
		arm(3, "k1", 30, 31, 0, 0),
		write(101, "k1", 5, 32, 33, 1),
		event(3, "k1", 34, EventNotWatching),
		read(3, "k1", 35, 36, 5, 1, ""),
	)...))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, 2, d.Unresolved, "the dropped watch and the last re-arm")
}

func TestWatchReadsOfOtherSessionsAreNotOrderedByItsWatch(t *testing.T) {
	r, _ := check(t, checkertest.Hist(append(cycle(),
		arm(3, "k1", 30, 31, 0, 0),
		write(101, "k1", 5, 32, 33, 1),
		read(4, "k1", 34, 35, 5, 1, ""), // another session: no watch of its own
	)...))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
}

func TestWatchTwoPendingRegistrationsAreAmbiguous(t *testing.T) {
	r, d := check(t, checkertest.Hist(append(cycle(),
		arm(3, "k1", 30, 31, 0, 0),
		arm(3, "k1", 32, 33, 0, 0),
		write(101, "k1", 5, 34, 35, 1),
		read(3, "k1", 36, 37, 5, 1, ""),
		event(3, "k1", 38, EventDataChanged),
		event(3, "k1", 39, EventDataChanged),
	)...))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	assert.Equal(t, 1, d.EventsChecked, "only the unambiguous event of the first session")
}

func TestWatchIndeterminateRegistrationIsNoWatch(t *testing.T) {
	inv := record(3, 3, F, "k1", 30)
	c := checkertest.Complete(inv, history.Info, 31)
	c.Error = "zk: connection closed"
	r, _ := check(t, checkertest.Hist(append(cycle(),
		[]history.Op{inv, c},
		write(101, "k1", 5, 32, 33, 1),
		read(3, "k1", 34, 35, 5, 1, ""),
	)...))
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
}

func TestWatchWithoutEventsOrArmedReadsIsUnknown(t *testing.T) {
	for name, ops := range map[string][]history.Op{
		"empty":       nil,
		"writes only": checkertest.Hist(write(100, "k0", 1, 1, 2, 1)),
		"no event": checkertest.Hist(
			arm(1, "k0", 1, 2, 0, 0),
			read(1, "k0", 3, 4, 0, 0, ""),
		),
		"only lost sessions": checkertest.Hist(
			arm(1, "k0", 1, 2, 0, 0),
			write(100, "k0", 1, 3, 4, 1),
			lost(1, 5, "expired"),
			event(1, "k0", 6, EventDataChanged),
		),
	} {
		t.Run(name, func(t *testing.T) {
			r, _ := check(t, ops)
			assert.Equal(t, checker.Unknown, r.Verdict, r.Message)
		})
	}
}

func TestWatchOutOfTimeIsUnknown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := Checker{}.Check(ctx, checkertest.Hist(cycle()...))
	assert.Equal(t, checker.Unknown, r.Verdict, r.Message)
}

func TestWatchViolationsAreCapped(t *testing.T) {
	var groups [][]history.Op
	for i := int64(0); i < 50; i++ {
		groups = append(groups, read(2, "k0", 100+2*i, 101+2*i, 1000+i, 1, ""))
	}
	r, d := check(t, checkertest.Hist(append(cycle(), groups...)...))
	assert.Equal(t, checker.Invalid, r.Verdict)
	assert.Equal(t, 50, d.ViolationCount)
	assert.Len(t, d.Violations, violationLimit)
}

// fuzzHistory decodes bytes into a watch-like history: every 6 bytes one
// record, with every oddity a damaged file may hold.
func fuzzHistory(data []byte) []history.Op {
	types := []history.Type{history.Invoke, history.OK, history.Fail, history.Info, "bogus"}
	fs := []string{F, history.Read, FEvent, FSession, history.Write, "other"}
	events := []string{"", EventDataChanged, EventNotWatching, "EventNodeDeleted", "junk"}
	var ops []history.Op
	var t int64
	for i := 0; i+6 <= len(data) && len(ops) < 500; i += 6 {
		b := data[i : i+6]
		op := history.Op{
			Index:   int64(len(ops)),
			Type:    types[int(b[0])%len(types)],
			F:       fs[int(b[1])%len(fs)],
			Process: history.Process(int(b[2]%6) - 1),
			Key:     []string{"k0", "k1", ""}[b[3]%3],
			Session: int64(b[2] % 4),
			Event:   events[int(b[5])%len(events)],
		}
		t += int64(int8(b[4]))
		op.Time = t
		if b[3]&0x80 == 0 {
			op.Value = history.Int64(int64(b[3]%5) - 1)
		}
		if b[5]&0x80 == 0 {
			op.Version = history.Int32(int32(b[5]%4) - 1)
		}
		ops = append(ops, op)
	}
	return ops
}

func FuzzWatches(f *testing.F) {
	f.Add([]byte{})
	var seed []byte
	for _, op := range checkertest.Hist(cycle()...) {
		seed = append(seed, 0, 0, byte(op.Process), 0, 5, 1)
	}
	f.Add(seed)
	f.Add([]byte{0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 4, 2, 0, 1, 1, 1, 4, 2, 0, 1, 1, 0, 2, 1, 0, 1, 1, 1, 2, 1, 0, 1, 1})
	f.Add([]byte("events arrive in order and fire once, or so they say; let us see"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := Checker{}.Check(context.Background(), fuzzHistory(data))
		if r.Verdict != checker.Valid && r.Verdict != checker.Invalid && r.Verdict != checker.Unknown {
			t.Fatalf("verdict %q", r.Verdict)
		}
		if r.Message == "" {
			t.Fatal("no message")
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatal(err)
		}
	})
}
