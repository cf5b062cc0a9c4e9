package reports

import (
	"bufio"
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/history"
)

// maxPathLogs caps the log entries of a Path; past it, the lines nearest in
// time to a script record are kept.
const maxPathLogs = 2000

// maxPathText caps the text of one log entry, in bytes.
const maxPathText = 1000

// Kinds of PathEntry.
const (
	// PathScript is a record the scenario's script wrote: a trigger, an
	// action's invoke or completion, a sleep, wait or binding.
	PathScript = "script"
	// PathMarker is the harness's "=== zkchaos: node started ... ===" line
	// at the start of each run of a node's process.
	PathMarker = "marker"
	// PathLog is a line a server logged.
	PathLog = "log"
)

// pathPatterns are what matters around leader election and synchronization
// in a ZooKeeper 3.8 server's log: a line whose message holds one of them
// is part of the path, and so are the harness's marker lines and WARN and
// ERROR lines that mention an exception.
var pathPatterns = []string{
	"LEADING", "FOLLOWING", "LOOKING", "Peer state changed",
	"Getting a diff from the leader", "Getting a snapshot from leader",
	"Getting a TRUNC", "Truncating",
	"Learner received NEWLEADER", "Learner received UPTODATE",
	"NEWLEADER proposal has Zxid of",
	"Sending DIFF", "Sending SNAP", "Sending TRUNC",
	"Synchronizing with Leader", "Synchronizing with Learner",
	"Snapshotting:", "Snapshot loaded", "highest zxid",
	"currentEpoch", "acceptedEpoch", "Have quorum of supporters",
}

// Path is the path to what a scripted run found: every record of the
// scenario's script and the relevant lines of every server's log, merged
// into one timeline on the history's clock.
type Path struct {
	// Entries are in time order; at equal times script records come first,
	// then log lines, node by node in name order, each in file order.
	Entries []PathEntry
	// Steps counts the script records among Entries.
	Steps int
	// Logs counts the log entries (lines and markers) among Entries.
	Logs int
	// LeftOut counts the relevant log lines left out because there were
	// more than 2000: the ones kept are the nearest in time to a script
	// record.
	LeftOut int
	// Placement says how log times were placed on the history's clock.
	Placement string
	// Notes are logs that could not be read, and why.
	Notes []string
}

// PathEntry is one event of a Path: a script record or a log line.
type PathEntry struct {
	// Kind is PathScript, PathMarker or PathLog.
	Kind string
	// Time is in ns since the history began, the clock of every record.
	// Log4j writes timestamps to the millisecond, so a log line's time is
	// no finer than that (and, with no fired log trigger to place the logs
	// by, only as good as the estimate Path.Placement names); a marker's time
	// has the harness's full resolution. Lines logged before the history
	// began have negative times.
	Time int64

	// Index is the script record's position in the history.
	Index int64
	// Step is the script step's 1-based number.
	Step int
	// Label is the step as the scenario reads, e.g. "step 3: kill A".
	Label string
	// Action is the record's f: trigger, step, or kill, start, pause,
	// resume, partition, heal.
	Action string
	// Type is the record's type: invoke, info or fail.
	Type history.Type
	// Targets are the nodes the step acted on, bound or watched.
	Targets []string
	// Trigger is what fired the step, the delay drawn and whether the
	// action landed in its window.
	Trigger *history.Trigger
	// Detail is the record's detail, e.g. "A = n1" or "leader after 1.2s".
	Detail string
	// Error says why the step failed.
	Error string

	// Node is the server that logged the line.
	Node string
	// Clock is the line's own timestamp, as written.
	Clock string
	// Level is the log level: INFO, WARN, ERROR.
	Level string
	// Source is the logging class and line, e.g. Learner@511.
	Source string
	// Text is the logged message, cut at 1000 bytes.
	Text string
	// Cause is the line that follows a WARN or ERROR entry in the log,
	// usually the exception it reports; empty when that is a stack frame.
	Cause string
}

// PathFact is a named detail of a script record.
type PathFact struct {
	Name, Value string
}

// Seconds returns Time in seconds.
func (e PathEntry) Seconds() float64 { return float64(e.Time) / 1e9 }

// Where names the node column: the node that logged a line, or the nodes
// a script record names.
func (e PathEntry) Where() string {
	if e.Kind != PathScript {
		return e.Node
	}
	if len(e.Targets) == 0 && e.Trigger != nil {
		return e.Trigger.Node
	}
	return strings.Join(e.Targets, ", ")
}

// Warn reports whether the entry is a WARN or ERROR line.
func (e PathEntry) Warn() bool { return e.Level == "WARN" || e.Level == "ERROR" }

// Phase says which record of a step this is: fired or never fired for a
// trigger, invoked, done or failed for an action.
func (e PathEntry) Phase() string {
	switch {
	case e.Action == history.FTrigger && e.Error != "":
		return "never fired"
	case e.Action == history.FTrigger:
		return "fired"
	case e.Type == history.Invoke:
		return "invoked"
	case e.Type == history.Fail || e.Error != "":
		return "failed"
	case e.Action == history.FStep:
		return ""
	default:
		return "done"
	}
}

// Facts lists the details of a script record a reader needs: the line or
// state a trigger saw, the delay drawn before the action, whether the
// action landed in its window and the line that closed it, the step's
// detail.
func (e PathEntry) Facts() []PathFact {
	var out []PathFact
	if t := e.Trigger; t != nil {
		switch {
		case e.Action == history.FTrigger:
			if t.Saw != "" {
				name := "saw"
				if e.Error != "" {
					name = "last seen"
				}
				out = append(out, PathFact{name, t.Saw})
			}
		case e.Type == history.Invoke:
			if t.DelayNS > 0 {
				out = append(out, PathFact{"delay drawn", formatDuration(time.Duration(t.DelayNS))})
			}
		default:
			if t.Window != "" {
				out = append(out, PathFact{"window", t.Window})
			}
			if t.Closed != "" {
				out = append(out, PathFact{"closed by", t.Closed})
			}
		}
	}
	if e.Detail != "" {
		out = append(out, PathFact{"detail", e.Detail})
	}
	return out
}

// BuildPath builds the Path of a run from its history and its directory,
// where each server's log is nodes/NAME/zookeeper.log. It returns nil when
// the history holds no script record (no Fault.Step). A log that cannot be
// read is named in Path.Notes. Log lines are placed on the history's clock
// with Results.HistoryStarted (see pathOrigin).
func BuildPath(dir string, r Results, ops []history.Op) *Path {
	var script []history.Op
	for _, op := range ops {
		if op.IsNemesis() && op.Fault != nil && op.Fault.Step > 0 {
			script = append(script, op)
		}
	}
	if len(script) == 0 {
		return nil
	}
	p := &Path{Steps: len(script)}
	entries := make([]PathEntry, 0, len(script))
	times := make([]int64, 0, len(script))
	for _, op := range script {
		f := op.Fault
		entries = append(entries, PathEntry{Kind: PathScript, Time: op.Time, Index: op.Index, Step: f.Step,
			Label: f.Name, Action: op.F, Type: op.Type, Targets: f.Targets, Trigger: f.Trigger,
			Detail: f.Detail, Error: op.Error})
		times = append(times, op.Time)
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Time < entries[j].Time })
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })

	origin, placement := pathOrigin(r)
	p.Placement = placement
	if !origin.IsZero() {
		pick := &logPicker{scripts: times, limit: maxPathLogs}
		for _, node := range logNodes(dir, r.Nodes) {
			rel := filepath.Join("nodes", node, "zookeeper.log")
			if err := readNodeLog(filepath.Join(dir, rel), node, origin, pick.add); err != nil {
				p.Notes = append(p.Notes, fmt.Sprintf("The log of %s (%s) could not be read: %v.", node, rel, plainErr(err)))
			}
		}
		logs := pick.entries()
		p.Logs = len(logs)
		p.LeftOut = pick.seen - len(logs)
		entries = append(entries, logs...)
		// Script records come before log lines, each in order, so a stable
		// sort keeps them first at equal times.
		sort.SliceStable(entries, func(i, j int) bool { return entries[i].Time < entries[j].Time })
	}
	p.Entries = entries
	return p
}

// pathOrigin is where the history's clock reads 0, and how the log lines
// are placed on it; the zero time when they cannot be. Log4j timestamps
// name no time zone: they are read in the local one, the servers'.
func pathOrigin(r Results) (time.Time, string) {
	switch {
	case !r.HistoryStarted.IsZero():
		return r.HistoryStarted, "Log times are the servers' own timestamps (milliseconds) on the history's clock."
	case !r.Started.IsZero():
		// A run recorded before results held the history's start: it
		// began after the ensemble was healthy, when the workload was set up.
		return r.Started.Add(r.HealthyAfter), fmt.Sprintf("The results do not say when the history began: log times are "+
			"measured from the run's start plus the %s the ensemble took to become healthy, and may be late by the "+
			"workload's setup time.", formatDuration(r.HealthyAfter))
	default:
		return time.Time{}, "The results hold no start time, so the servers' log lines cannot be placed on the history's clock; only the script's records are shown."
	}
}

// logNodes lists the nodes whose logs to read: those the results name and
// those with a log in the run directory, sorted.
func logNodes(dir string, named []string) []string {
	set := map[string]bool{}
	for _, n := range named {
		if n != "" && n != "." && n != ".." && !strings.ContainsAny(n, `/\`) {
			set[n] = true
		}
	}
	found, _ := filepath.Glob(filepath.Join(dir, "nodes", "*", "zookeeper.log")) // the pattern is well-formed
	for _, f := range found {
		set[filepath.Base(filepath.Dir(f))] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// plainErr drops the path from a file error, which the note names already.
func plainErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// log4jLayout is log4j's ISO8601 date layout, in the servers' local time.
const log4jLayout = "2006-01-02 15:04:05,000"

// markerPrefix and markerSuffix frame the line the harness writes to a
// node's log each time it starts the node's process.
const (
	markerPrefix = "=== zkchaos: node started "
	markerSuffix = " ==="
)

// hasLog4jStamp reports whether line begins with a log4j ISO8601 timestamp
// ("2026-12-04 17:40:01,123"), without parsing it.
func hasLog4jStamp(line string) bool {
	if len(line) < len(log4jLayout) {
		return false
	}
	for i := range len(log4jLayout) {
		c := line[i]
		switch i {
		case 4, 7:
			if c != '-' {
				return false
			}
		case 10:
			if c != ' ' {
				return false
			}
		case 13, 16:
			if c != ':' {
				return false
			}
		case 19:
			if c != ',' && c != '.' {
				return false
			}
		default:
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}

// log4jStamp parses the timestamp that begins a server's log line, in the
// local time zone.
func log4jStamp(line string) (time.Time, bool) {
	if !hasLog4jStamp(line) {
		return time.Time{}, false
	}
	stamp := line[:len(log4jLayout)]
	if stamp[19] == '.' {
		stamp = stamp[:19] + "," + stamp[20:]
	}
	t, err := time.ParseInLocation(log4jLayout, stamp, time.Local)
	return t, err == nil
}

// logLine is a log4j line taken apart: "%d{ISO8601} [myid:%X{myid}] -
// %-5p [%t:%c{1}] - %m".
type logLine struct {
	level, source, text string
}

// splitLog4j takes apart what follows the timestamp of a log line; a line
// of another shape is all text.
func splitLog4j(rest string) logLine {
	rest = strings.TrimLeft(rest, " ")
	if strings.HasPrefix(rest, "[myid:") {
		if i := strings.Index(rest, "] - "); i >= 0 {
			rest = rest[i+len("] - "):]
		}
	}
	level, after, ok := strings.Cut(rest, " ")
	if !ok || !isLevel(level) {
		return logLine{text: strings.TrimSpace(rest)}
	}
	after = strings.TrimLeft(after, " ")
	if !strings.HasPrefix(after, "[") {
		return logLine{level: level, text: after}
	}
	where, msg, ok := strings.Cut(after[1:], "] - ")
	if !ok {
		return logLine{level: level, text: after}
	}
	if i := strings.LastIndexByte(where, ':'); i >= 0 {
		where = where[i+1:]
	}
	return logLine{level: level, source: where, text: msg}
}

func isLevel(s string) bool {
	switch s {
	case "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL":
		return true
	}
	return false
}

// relevantText reports whether a message holds one of pathPatterns.
func relevantText(msg string) bool {
	for _, p := range pathPatterns {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// mentionsException reports whether s names an exception, in any case.
func mentionsException(s string) bool {
	return strings.Contains(strings.ToLower(s), "exception")
}

// clipBytes cuts s at n bytes, on a rune boundary, marking the cut.
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// readNodeLog reads a node's log and hands each relevant entry, its time
// on the history's clock, to keep. Lines without a timestamp (stack traces,
// the harness's command line) belong to the line before: they are not
// entries, but the first one after a WARN or ERROR line, unless it is a
// stack frame, is its Cause, and makes it relevant when it names an
// exception.
func readNodeLog(path, node string, origin time.Time, keep func(PathEntry)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open log of %s: %w", node, err)
	}
	defer f.Close()

	var cur PathEntry
	var pending, relevant, candidate bool
	conts := 0
	flush := func() {
		if pending && (relevant || candidate && (mentionsException(cur.Text) || mentionsException(cur.Cause))) {
			keep(cur)
		}
		pending, relevant, candidate, conts = false, false, false, 0
	}
	err = eachLine(f, func(line string) {
		if strings.HasPrefix(line, markerPrefix) && strings.HasSuffix(line, markerSuffix) {
			stamp := strings.TrimSuffix(strings.TrimPrefix(line, markerPrefix), markerSuffix)
			if at, err := time.Parse(time.RFC3339Nano, stamp); err == nil {
				flush()
				cur = PathEntry{Kind: PathMarker, Node: node, Time: int64(at.Sub(origin)), Clock: stamp,
					Text: "node started (harness)"}
				pending, relevant = true, true
				return
			}
		}
		if !hasLog4jStamp(line) {
			if cont := strings.TrimSpace(line); pending && conts == 0 && cur.Warn() && !strings.HasPrefix(cont, "at ") {
				cur.Cause = clipBytes(cont, maxPathText)
			}
			conts++
			return
		}
		flush()
		at, ok := log4jStamp(line)
		if !ok {
			return
		}
		l := splitLog4j(line[len(log4jLayout):])
		cur = PathEntry{Kind: PathLog, Node: node, Time: int64(at.Sub(origin)), Clock: line[:len(log4jLayout)],
			Level: l.level, Source: l.source, Text: clipBytes(l.text, maxPathText)}
		pending = true
		relevant = relevantText(l.text)
		candidate = cur.Warn()
	})
	flush()
	if err != nil {
		return fmt.Errorf("read log of %s: %w", node, err)
	}
	return nil
}

// eachLine calls fn with every line of r, without its line break; a line
// longer than the reader's buffer is cut to it.
func eachLine(r io.Reader, fn func(string)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		b, err := br.ReadSlice('\n')
		line := string(bytes.TrimRight(b, "\r\n"))
		for errors.Is(err, bufio.ErrBufferFull) { // skip the rest of a long line
			_, err = br.ReadSlice('\n')
		}
		if len(b) > 0 {
			fn(line)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// logPicker keeps at most limit log entries, the nearest in time to a
// script record, and counts every entry offered.
type logPicker struct {
	scripts []int64 // times of the script records, sorted
	limit   int
	seen    int
	kept    pickHeap
}

// picked is a kept entry with its distance to the nearest script record
// and its arrival order.
type picked struct {
	e    PathEntry
	dist int64
	seq  int
}

func (p *logPicker) add(e PathEntry) {
	c := picked{e: e, dist: p.distance(e.Time), seq: p.seen}
	p.seen++
	switch {
	case len(p.kept) < p.limit:
		heap.Push(&p.kept, c)
	case p.limit > 0 && farther(p.kept[0], c):
		p.kept[0] = c
		heap.Fix(&p.kept, 0)
	}
}

// distance is how far t is from the nearest script record.
func (p *logPicker) distance(t int64) int64 {
	i := sort.Search(len(p.scripts), func(i int) bool { return p.scripts[i] >= t })
	d := int64(1<<63 - 1)
	if i < len(p.scripts) {
		d = p.scripts[i] - t
	}
	if i > 0 {
		d = min(d, t-p.scripts[i-1])
	}
	return d
}

// entries returns the kept entries in arrival order: each node's in file
// order, the nodes one after another.
func (p *logPicker) entries() []PathEntry {
	kept := append([]picked(nil), p.kept...)
	sort.Slice(kept, func(i, j int) bool { return kept[i].seq < kept[j].seq })
	out := make([]PathEntry, len(kept))
	for i, k := range kept {
		out[i] = k.e
	}
	return out
}

// farther reports whether a is a worse pick than b: farther from a script
// record, or as far and offered later.
func farther(a, b picked) bool {
	if a.dist != b.dist {
		return a.dist > b.dist
	}
	return a.seq > b.seq
}

// pickHeap holds the kept entries with the worst pick on top.
type pickHeap []picked

func (h pickHeap) Len() int           { return len(h) }
func (h pickHeap) Less(i, j int) bool { return farther(h[i], h[j]) }
func (h pickHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *pickHeap) Push(x any)        { *h = append(*h, x.(picked)) }
func (h *pickHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
