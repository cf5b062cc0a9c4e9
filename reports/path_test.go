package reports

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zkchaos/zkchaos/history"
)

// pathStarted is the wall-clock start of the scripted run below; the
// ensemble was healthy 2 s later and the history began 300 ms after that,
// when the workload was set up.
var pathStarted = time.Date(2026, 12, 4, 17, 40, 0, 0, time.Local)

const (
	pathHealthy = 2 * time.Second
	pathSetup   = 300 * time.Millisecond
)

// historyZero is when the history's clock reads 0.
func historyZero() time.Time { return pathStarted.Add(pathHealthy + pathSetup) }

// zkLine is a server's log line at s seconds on the history's clock, as
// log4j writes it in zone.
func zkLine(zone *time.Location, s float64, myid int, level, source, msg string) string {
	at := historyZero().Add(time.Duration(math.Round(s * 1e9))).In(zone)
	return fmt.Sprintf("%s [myid:%d] - %-5s [QuorumPeer[myid=%d](plain=[0:0:0:0:0:0:0:0]:2181)(secure=disabled):%s] - %s",
		at.Format("2006-01-02 15:04:05,000"), myid, level, myid, source, msg)
}

// marker is the harness's line at the start of a node's process.
func marker(s float64) string {
	at := historyZero().Add(time.Duration(math.Round(s * 1e9))).UTC()
	return "=== zkchaos: node started " + at.Format(time.RFC3339Nano) + " ===\n" +
		"=== zkchaos: command: /usr/bin/java -cp zookeeper.jar org.apache.zookeeper.server.quorum.QuorumPeerMain ==="
}

// scriptedRun writes a run directory with two node logs, logged in zone,
// and returns it with a history in which a script binds A to n2, kills it
// 30 ms after it logs that it gets a diff, starts it again and waits for a
// leader.
func scriptedRun(t *testing.T) (string, Page) {
	zone := time.Local
	t.Helper()
	line := func(s float64, myid int, level, source, msg string) string {
		return zkLine(zone, s, myid, level, source, msg)
	}
	saw := line(5, 2, "INFO", "Learner@511", "Getting a diff from the leader 0x100000005")
	logs := map[string][]string{
		"n1": {
			marker(-1.6),
			line(-1.2, 1, "INFO", "Leader@1400", "LEADING - LEADER ELECTION TOOK - 200 MS"),
			line(-1.1, 1, "INFO", "NIOServerCnxn@312", "Processing srvr command from /127.0.0.1:45678"),
			line(-0.7, 1, "INFO", "QuorumPeer@1427", "LOOKING <script>alert(1)</script>"),
			line(5.010, 1, "INFO", "LearnerHandler@800", "Sending DIFF zxid=0x100000005 for peer sid: 2"),
			line(5.012, 1, "INFO", "SessionTrackerImpl@90", "Committing global session 0x1000000aa"),
			line(8.6, 1, "INFO", "LearnerHandler@498", "Synchronizing with Learner sid: 2 maxCommittedLog=0x100000005"),
		},
		"n2": {
			marker(-1.5),
			line(-1.0, 2, "INFO", "QuorumPeer@1427", "LOOKING"),
			line(-0.9, 2, "INFO", "NIOServerCnxn@312", "Processing srvr command from /127.0.0.1:45679"),
			line(-0.4, 2, "INFO", "QuorumPeer@916", "Peer state changed: following - synchronization"),
			saw,
			line(5.020, 2, "INFO", "Learner@714", "Learner received NEWLEADER message"),
			line(5.040, 2, "WARN", "Follower@133", "Exception when following the leader"),
			"java.io.EOFException",
			"\tat java.base/java.io.DataInputStream.readInt(DataInputStream.java:386)",
			"\tat org.apache.zookeeper.server.quorum.Learner.readPacket(Learner.java:194)",
			line(5.045, 2, "WARN", "Learner@250", "Unexpected close of the socket"),
			"\tat org.apache.zookeeper.server.quorum.Learner.syncWithLeader(Learner.java:612)",
			line(5.046, 2, "ERROR", "QuorumPeer@1552", "Unexpected error, shutting down"),
			"java.lang.NullPointerException: Cannot read field \"hdr\"",
			marker(8.1),
			line(8.5, 2, "INFO", "FileTxnSnapLog@372", "Snapshot loaded in 12 ms, highest zxid is 0x100000005, digest is 1"),
		},
	}
	dir := t.TempDir()
	for node, lines := range logs {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "nodes", node), 0o755))
		text := strings.Join(lines, "\n") + "\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, "nodes", node, "zookeeper.log"), []byte(text), 0o644))
	}

	step := func(n int, label string) *history.Fault {
		return &history.Fault{Name: fmt.Sprintf("step %d: %s", n, label), Step: n}
	}
	kill := "kill A when A logs /Getting a diff/ +30ms..30ms"
	trig := &history.Trigger{Node: "n2", Saw: saw, DelayNS: int64(30 * time.Millisecond)}
	landed := *trig
	landed.Window = history.WindowLanded
	var ops []history.Op
	add := func(typ history.Type, f string, at float64, fault *history.Fault, mod ...func(*history.Op)) {
		op := history.Op{Index: int64(len(ops)), Type: typ, F: f, Process: history.NemesisProcess, Time: sec(at), Fault: fault}
		for _, m := range mod {
			m(&op)
		}
		ops = append(ops, op)
	}
	with := func(targets []string, detail string, tr *history.Trigger) func(*history.Op) {
		return func(op *history.Op) { op.Fault.Targets, op.Fault.Detail, op.Fault.Trigger = targets, detail, tr }
	}
	add(history.Info, history.FRoles, 0, nil, func(op *history.Op) { op.Roles = map[string]string{"n1": "leader", "n2": "follower"} })
	add(history.Info, history.FStep, 1, step(1, "bind A to follower"), with([]string{"n2"}, "A = n2", nil))
	for i := range 20 {
		add(history.Invoke, history.Write, 2+float64(i)*0.3, nil, func(op *history.Op) { op.Process, op.Key = 1, "r1" })
		add(history.OK, history.Write, 2.1+float64(i)*0.3, nil, func(op *history.Op) { op.Process, op.Key = 1, "r1" })
	}
	add(history.Info, history.FTrigger, 5, step(2, kill), with([]string{"n2"}, "", &history.Trigger{Node: "n2", Saw: saw}))
	add(history.Invoke, "kill", 5.030, step(2, kill), with([]string{"n2"}, "", trig))
	add(history.Info, "kill", 5.050, step(2, kill), with([]string{"n2"}, "", &landed))
	add(history.Invoke, "start", 8, step(3, "start A"), with([]string{"n2"}, "", nil))
	add(history.Info, "start", 8.2, step(3, "start A"), with([]string{"n2"}, "", nil))
	add(history.Info, history.FStep, 9, step(4, "wait for a leader"), with([]string{"n1"}, "leader after 1s", nil))

	r := sampleResults()
	r.Started, r.HealthyAfter, r.HistoryStarted = pathStarted, pathHealthy, historyZero()
	r.Nodes = []string{"n1", "n2", "n3"} // n3 left no log
	r.Logs = []string{"nodes/n1/zookeeper.log", "nodes/n2/zookeeper.log"}
	r.Counts = CountOps(ops)
	return dir, Page{Results: r, Ops: ops, ScenarioYAML: "name: kill-during-diff\n"}
}

// rows renders each entry as "seconds node step what".
func rows(p *Path) []string {
	var out []string
	for _, e := range p.Entries {
		what := e.Text
		if e.Kind == PathScript {
			what = strings.TrimSpace(e.Action + " " + e.Phase())
		}
		step := "-"
		if e.Step > 0 {
			step = fmt.Sprint(e.Step)
		}
		out = append(out, fmt.Sprintf("%s %s %s %s", formatSeconds(e.Seconds()), e.Where(), step, what))
	}
	return out
}

// wantRows are the entries of scriptedRun, on the history's clock.
var wantRows = []string{
	"-1.6 n1 - node started (harness)",
	"-1.5 n2 - node started (harness)",
	"-1.2 n1 - LEADING - LEADER ELECTION TOOK - 200 MS",
	"-1 n2 - LOOKING",
	"-0.7 n1 - LOOKING <script>alert(1)</script>",
	"-0.4 n2 - Peer state changed: following - synchronization",
	"1 n2 1 step",
	"5 n2 2 trigger fired",
	"5 n2 - Getting a diff from the leader 0x100000005",
	"5.01 n1 - Sending DIFF zxid=0x100000005 for peer sid: 2",
	"5.02 n2 - Learner received NEWLEADER message",
	"5.03 n2 2 kill invoked",
	"5.04 n2 - Exception when following the leader",
	"5.046 n2 - Unexpected error, shutting down",
	"5.05 n2 2 kill done",
	"8 n2 3 start invoked",
	"8.1 n2 - node started (harness)",
	"8.2 n2 3 start done",
	"8.5 n2 - Snapshot loaded in 12 ms, highest zxid is 0x100000005, digest is 1",
	"8.6 n1 - Synchronizing with Learner sid: 2 maxCommittedLog=0x100000005",
	"9 n1 4 step",
}

func TestBuildPathMergesScriptAndLogsInTimeOrder(t *testing.T) {
	dir, page := scriptedRun(t)
	p := BuildPath(dir, page.Results, page.Ops)
	require.NotNil(t, p)
	assert.Equal(t, wantRows, rows(p), "in time order; irrelevant lines, stack traces and the command line are not entries")
	assert.Equal(t, 7, p.Steps)
	assert.Equal(t, 14, p.Logs, "11 lines and 3 markers")
	assert.Zero(t, p.LeftOut)
	assert.Contains(t, p.Placement, "on the history's clock")
	assert.Equal(t, []string{"The log of n3 (nodes/n3/zookeeper.log) could not be read: no such file or directory."}, p.Notes)

	byText := map[string]PathEntry{}
	for _, e := range p.Entries {
		byText[e.Text] = e
	}
	diff := byText["Getting a diff from the leader 0x100000005"]
	assert.Equal(t, PathLog, diff.Kind)
	assert.Equal(t, "INFO", diff.Level)
	assert.Equal(t, "Learner@511", diff.Source)
	assert.Equal(t, "2026-12-04 17:40:07,300", diff.Clock, "the line's own timestamp")
	assert.Equal(t, sec(5), diff.Time)
	warn := byText["Exception when following the leader"]
	assert.True(t, warn.Warn())
	assert.Equal(t, "java.io.EOFException", warn.Cause, "the exception that follows the line")
	assert.NotContains(t, byText, "Unexpected close of the socket", "a WARN line with no exception, followed by a stack frame")
	assert.Equal(t, "java.lang.NullPointerException: Cannot read field \"hdr\"", byText["Unexpected error, shutting down"].Cause,
		"an ERROR line is relevant when the exception is on the next line")
	assert.Equal(t, PathMarker, byText["node started (harness)"].Kind)

	// The script's records, with what fired them and how the action went.
	var script []PathEntry
	for _, e := range p.Entries {
		if e.Kind == PathScript {
			script = append(script, e)
		}
	}
	require.Len(t, script, 7)
	assert.Equal(t, []PathFact{{"detail", "A = n2"}}, script[0].Facts())
	assert.Equal(t, "step 2: kill A when A logs /Getting a diff/ +30ms..30ms", script[1].Label)
	assert.Equal(t, []PathFact{{"saw", diffLine(page)}}, script[1].Facts())
	assert.Equal(t, []PathFact{{"delay drawn", "30ms"}}, script[2].Facts())
	assert.Equal(t, []PathFact{{"window", "landed"}}, script[3].Facts())
	assert.Equal(t, []PathFact{{"detail", "leader after 1s"}}, script[6].Facts())
}

// diffLine is the line the trigger of step 2 saw.
func diffLine(p Page) string {
	for _, op := range p.Ops {
		if op.F == history.FTrigger {
			return op.Fault.Trigger.Saw
		}
	}
	return ""
}

func TestBuildPathWithoutTheHistoryStartCountsFromTheRunStart(t *testing.T) {
	dir, page := scriptedRun(t)
	page.Results.HistoryStarted = time.Time{} // a run recorded before results held it
	p := BuildPath(dir, page.Results, page.Ops)
	require.NotNil(t, p)
	assert.Contains(t, p.Placement, "do not say when the history began")
	byText := map[string]PathEntry{}
	for _, e := range p.Entries {
		byText[e.Text] = e
	}
	assert.Equal(t, sec(5)+int64(pathSetup), byText["Getting a diff from the leader 0x100000005"].Time,
		"measured from Results.Started plus HealthyAfter: late by the setup time")

	page.Results.Started = time.Time{}
	p = BuildPath(dir, page.Results, page.Ops)
	require.NotNil(t, p)
	assert.Equal(t, 7, len(p.Entries), "with no start time, only the script's records")
	assert.Zero(t, p.Logs)
	assert.Contains(t, p.Placement, "cannot be placed")
}

// indexOfStep is the index of step n's first entry.
func indexOfStep(p *Path, n int) int {
	for i, e := range p.Entries {
		if e.Step == n {
			return i
		}
	}
	return -1
}

func TestBuildPathWithoutScriptRecordsIsNil(t *testing.T) {
	dir, _ := scriptedRun(t)
	p := smallRun()
	assert.Nil(t, BuildPath(dir, p.Results, p.Ops), "kill-leader records carry no step")
	page := writeReport(t, p)
	assert.NotContains(t, page, `id="path"`)
	assert.NotContains(t, page, `href="#path"`)
	assert.NotContains(t, page, `class="path`)
}

func TestBuildPathKeepsTheLogLinesNearestToTheScript(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "nodes", "n1"), 0o755))
	var b strings.Builder
	for i := range 2100 { // one every 10 ms from 0 to 20.99 s
		b.WriteString(zkLine(time.Local, float64(i)/100, 1, "INFO", "QuorumPeer@1427", fmt.Sprintf("LOOKING %d", i)) + "\n")
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "nodes", "n1", "zookeeper.log"), []byte(b.String()), 0o644))
	ops := []history.Op{
		{Type: history.Info, F: history.FStep, Process: history.NemesisProcess, Time: 0, Fault: &history.Fault{Name: "step 1: sleep 30s", Step: 1}},
		{Index: 1, Type: history.Info, F: history.FStep, Process: history.NemesisProcess, Time: sec(30), Fault: &history.Fault{Name: "step 2: wait for a leader", Step: 2}},
	}
	r := Results{Started: pathStarted, HealthyAfter: pathHealthy + pathSetup, Nodes: []string{"n1"}}
	p := BuildPath(dir, r, ops)
	require.NotNil(t, p)
	assert.Equal(t, 2000, p.Logs)
	assert.Equal(t, 100, p.LeftOut)
	require.Len(t, p.Entries, 2002)
	// The lines farthest from both records, around 15 s, are left out;
	// of the two 14.5 s away, the later one.
	kept := map[string]bool{}
	for i, e := range p.Entries {
		kept[e.Text] = true
		if i > 0 {
			assert.LessOrEqual(t, p.Entries[i-1].Time, e.Time, "in time order")
		}
	}
	for i := range 2100 {
		out := i > 1450 && i <= 1550
		assert.Equal(t, !out, kept[fmt.Sprintf("LOOKING %d", i)], "line %d", i)
	}
}

func TestBuildPathNotesAnUnreadableLog(t *testing.T) {
	dir, page := scriptedRun(t)
	require.NoError(t, os.Remove(filepath.Join(dir, "nodes", "n1", "zookeeper.log")))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "nodes", "n1", "zookeeper.log"), 0o755))
	p := BuildPath(dir, page.Results, page.Ops)
	require.NotNil(t, p)
	require.Len(t, p.Notes, 2)
	assert.Equal(t, "The log of n1 (nodes/n1/zookeeper.log) could not be read: is a directory.", p.Notes[0])
	for _, e := range p.Entries {
		assert.NotEqual(t, "n1", e.Node)
	}
	assert.Contains(t, rows(p), "5 n2 - Getting a diff from the leader 0x100000005")
}

func TestEachLineCutsLongLines(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	var got []string
	require.NoError(t, eachLine(strings.NewReader("a\r\n"+long+"\nb"), func(s string) { got = append(got, s) }))
	require.Len(t, got, 3)
	assert.Equal(t, "a", got[0])
	assert.Equal(t, 64<<10, len(got[1]))
	assert.Equal(t, "b", got[2])
}

func TestSplitLog4j(t *testing.T) {
	assert.Equal(t, logLine{level: "INFO", source: "Learner@511", text: "Getting a diff from the leader 0x5"},
		splitLog4j(" [myid:1] - INFO  [QuorumPeer[myid=1](plain=[0:0:0:0:0:0:0:0]:2181)(secure=disabled):Learner@511] - Getting a diff from the leader 0x5"))
	assert.Equal(t, logLine{level: "WARN", source: "NIOServerCnxn@380", text: "Close of session 0x0 - a] - b"},
		splitLog4j(" [myid:] - WARN  [NIOWorkerThread-1:NIOServerCnxn@380] - Close of session 0x0 - a] - b"))
	assert.Equal(t, logLine{text: "something else"}, splitLog4j(" something else"))
}

func TestWriteHTMLShowsThePath(t *testing.T) {
	dir, p := scriptedRun(t)
	p.Results.ScriptStopped = "script step 5 (kill <A>): no node is follower now"
	require.NoError(t, WriteHTML(dir, p))
	b, err := os.ReadFile(filepath.Join(dir, ReportFile))
	require.NoError(t, err)
	page := string(b)

	require.NoError(t, tagsBalance(withoutScripts(page)))
	assert.Contains(t, page, `<a href="#faults">Faults</a><a href="#path">Path</a>`)
	at := strings.Index(page, `<h2 id="path">Path</h2>`)
	require.Positive(t, at)
	assert.Less(t, strings.Index(page, `<h2 id="faults">`), at, "right after the faults")
	assert.Less(t, at, strings.Index(page, `<h2 id="operations">`))
	section := page[at:strings.Index(page, `<h2 id="operations">`)]

	assert.Contains(t, section, "Seed <b>42</b>")
	assert.Contains(t, section, `<strong>The script stopped before its last step:</strong> script step 5 (kill &lt;A&gt;): no node is follower now`)
	assert.Contains(t, section, "The log of n3 (nodes/n3/zookeeper.log) could not be read")
	assert.Equal(t, 7, strings.Count(section, `<tr class="path-script`))
	assert.Equal(t, 3, strings.Count(section, `<tr class="path-marker"`))
	assert.Equal(t, 11, strings.Count(section, `<tr class="path-log`))
	assert.Equal(t, 2, strings.Count(section, `<tr class="path-log path-warn"`))

	saw := diffLine(p)
	assert.Contains(t, section, `<tr class="path-script"><td class="n"><a class="opref" href="#timeline" data-t0="5" data-t1="5">5</a></td><td>n2</td><td class="n">2</td>`+
		`<td><code>trigger</code> <b>fired</b> step 2: kill A when A logs /Getting a diff/ &#43;30ms..30ms`+"\n"+
		`<div class="facts"><span>saw: <b>`+saw+`</b></span></div></td></tr>`)
	assert.Contains(t, section, `<b>invoked</b> step 2: kill A when A logs /Getting a diff/ &#43;30ms..30ms`+"\n"+`<div class="facts"><span>delay drawn: <b>30ms</b></span></div>`)
	assert.Contains(t, section, `<span>window: <b>landed</b></span>`)
	assert.Contains(t, section, `<td>step 1: bind A to follower`+"\n"+`<div class="facts"><span>detail: <b>A = n2</b></span></div>`)
	assert.Contains(t, section, `<tr class="path-log" title="2026-12-04 17:40:07,300"><td class="n">5</td><td>n2</td><td></td>`+
		`<td class="path-line"><span class="lvl">INFO</span> <span class="muted">Learner@511</span> Getting a diff from the leader 0x100000005</td></tr>`)
	assert.Contains(t, section, `<tr class="path-log path-warn" title="2026-12-04 17:40:07,340"><td class="n">5.04</td><td>n2</td><td></td>`+
		`<td class="path-line"><span class="lvl">WARN</span> <span class="muted">Follower@133</span> Exception when following the leader<div class="muted">java.io.EOFException</div></td></tr>`)
	assert.Contains(t, section, `<td class="n">-0.7</td><td>n1</td><td></td><td class="path-line"><span class="lvl">INFO</span> <span class="muted">QuorumPeer@1427</span> LOOKING &lt;script&gt;alert(1)&lt;/script&gt;</td>`,
		"log text is escaped")
	assert.Contains(t, section, `<td class="path-line">node started (harness)</td>`)
	assert.NotContains(t, section, "Processing srvr command")
	assert.NotContains(t, section, "DataInputStream")
	assert.Contains(t, section, "7 script records, 14 log lines.")
	assert.Less(t, strings.Index(section, "Sending DIFF"), strings.Index(section, "Learner received NEWLEADER"))
}
