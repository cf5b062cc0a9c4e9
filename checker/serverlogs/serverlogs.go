// Package serverlogs reads what the servers themselves reported in their
// logs: errors, signatures of known ZooKeeper bugs, and patterns that fail a
// run.
package serverlogs

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// Checker lists what the servers themselves reported: ERROR and FATAL
// lines, which faults make common and which are shown for information;
// signatures of known ZooKeeper bugs, named with their issue ids; and other
// bad patterns (a failed digest check, an unexplained NullPointerException, a
// data tree that would not load, an out-of-order commit), which fail the run.
type Checker struct {
	// Logs maps each node to its log file.
	Logs map[string]string
}

// Name returns "server-logs".
func (Checker) Name() string { return "server-logs" }

// badPatterns are log lines that mean ZooKeeper itself went wrong.
var badPatterns = []struct {
	name string
	re   *regexp.Regexp
}{
	{"digest mismatch", regexp.MustCompile(`(?i)digests? (are )?not matching|digest mismatch`)},
	{"NullPointerException", regexp.MustCompile(`NullPointerException`)},
	{"out of memory", regexp.MustCompile(`java.lang.OutOfMemoryError`)},
	{notLoaded, regexp.MustCompile(`(?i)unable to load database|failed to load database`)},
	{"commit out of order", regexp.MustCompile(`not first!`)},
}

// notLoaded names the bad pattern of data that would not load: explained,
// and not bad, in a run on data the harness damaged that the harness saw
// refused for an integrity error (history.LogMarkDamaged, LogMarkRefused).
const notLoaded = "database would not load"

// knownBugs are signatures of ZooKeeper bugs whose effect is known: most
// reported and fixed upstream, which the versions under test may still
// carry, and races in the server whose only effect is to drop one client
// connection. They are counted and named in the message, not judged again:
// the run's verdict is about guarantees, and a reader comparing versions sees
// which bugs each one hit. fixedIn is empty for a bug no release fixes.
var knownBugs = []struct {
	id, fixedIn, what string
	re                *regexp.Regexp
}{
	{"ZOOKEEPER-4394", "3.9.3", "NullPointerException in Learner.syncWithLeader (a COMMIT after NEWLEADER for a proposal before it); the follower drops out and syncs again",
		regexp.MustCompile(`"pif" is null`)},
	{"ZOOKEEPER-4541", "3.9.3", "NullPointerException in SendAckRequestProcessor after the learner closed its socket on leader loss; the follower's disk writer may not be stopped",
		regexp.MustCompile(`"this\.learner\.sock" is null`)},
	{"ZOOKEEPER-4685", "3.9.3", "a syncing follower ACKed a proposal before NEWLEADER and the leader took it for a NEWLEADER ACK of another epoch; without its quorum of NEWLEADER ACKs the leader shuts down and elections repeat",
		regexp.MustCompile(`NEWLEADER ACK from sid: \d+ is from a different epoch`)},
	// LearnerZooKeeperServer.revalidateSession asks the learner, which the
	// peer has already set to null when it stops following; the worker
	// thread logs "Unexpected exception" and closes that one connection
	// (WorkerService.ScheduledWorkRequest), so the client reconnects.
	{"revalidate-without-learner", "", "NullPointerException in LearnerZooKeeperServer.revalidateSession: a client reconnected its session to a follower as it stopped following; the server closed that connection and the client reconnected",
		regexp.MustCompile(`Learner\.validateSession\(.*"org\.apache\.zookeeper\.server\.quorum\.LearnerZooKeeperServer\.getLearner\(\)" is null`)},
}

var errorLine = regexp.MustCompile(`\b(ERROR|FATAL)\b`)

// maxBad bounds the bad lines kept per log.
const maxBad = 20

// Details is the evidence of the server-logs checker: what each node's log
// held, by node name.
type Details map[string]NodeLog

// NodeLog is what one node's log held.
type NodeLog struct {
	// Lines counts the lines read, the harness's own markers left out.
	Lines int `json:"lines"`
	// Errors counts ERROR and FATAL lines.
	Errors int `json:"errors"`
	// Examples are the first ERROR/FATAL lines (up to 5).
	Examples []string `json:"examples,omitempty"`
	// Bad lists lines matching a known bad pattern (up to maxBad), prefixed
	// with the pattern's name.
	Bad []string `json:"bad,omitempty"`
	// KnownBugs counts lines that are signatures of known ZooKeeper bugs,
	// by issue id.
	KnownBugs map[string]int `json:"known_bugs,omitempty"`
	// Refused lists the harness's notes of runs that refused data it had
	// damaged, as ZooKeeper must rather than serve it; their lines saying
	// the data would not load are not counted as bad.
	Refused []string `json:"refused,omitempty"`
	// Error is set when the log could not be read.
	Error string `json:"error,omitempty"`
}

// StartByKey reads the servers' logs at the end: it needs no record.
func (s Checker) StartByKey(context.Context) checker.KeyJudgement { return checker.Whole(s) }

// Check reads every log; the history is not needed.
func (s Checker) Check(ctx context.Context, _ []history.Op) checker.Result {
	start := time.Now()
	details := Details{}
	var bad, errs, empty int
	var firstBad string
	var unread []string // nodes whose log could not be read whole
	nodes := make([]string, 0, len(s.Logs))
	for n := range s.Logs {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		nl := scanLog(ctx, s.Logs[n])
		details[n] = nl
		errs += nl.Errors
		bad += len(nl.Bad)
		if nl.Lines == 0 && nl.Error == "" {
			empty++
		}
		if nl.Error != "" {
			unread = append(unread, n+" ("+nl.Error+")")
		}
		if firstBad == "" && len(nl.Bad) > 0 {
			firstBad = n + ": " + nl.Bad[0]
		}
	}
	r := checker.Result{Checker: "server-logs", Details: details}
	switch {
	case bad > 0:
		r.Verdict = checker.Invalid
		r.Message = fmt.Sprintf("%d log lines show ZooKeeper itself going wrong, e.g. %s", bad, clipText(firstBad, 300)) + knownBugSummary(details) + refusalSummary(details)
		if len(unread) > 0 {
			r.Message += fmt.Sprintf("; %s not read whole: %s", checker.Plural(len(unread), "log was", "logs were"), strings.Join(unread, ", "))
		}
	case len(s.Logs) == 0:
		r.Verdict, r.Message = checker.Unknown, "no server logs to read"
	case len(unread) > 0:
		r.Verdict = checker.Unknown
		r.Message = fmt.Sprintf("%s of %d could not be read whole, so what they hold was not judged: %s; nothing bad in the rest",
			checker.Plural(len(unread), "server log", "server logs"), len(s.Logs), clipText(strings.Join(unread, ", "), 600))
	case empty == len(s.Logs):
		r.Verdict, r.Message = checker.Unknown, fmt.Sprintf("all %d server logs are empty: nothing to judge", empty)
	default:
		r.Verdict = checker.Valid
		r.Message = fmt.Sprintf("no unexplained bad pattern in %d server logs; %d ERROR/FATAL lines (expected when faults cut connections; see details)", len(s.Logs), errs) +
			knownBugSummary(details) + refusalSummary(details)
	}
	r.Duration = time.Since(start)
	return r
}

func scanLog(ctx context.Context, path string) NodeLog {
	var nl NodeLog
	f, err := os.Open(path)
	if err != nil {
		nl.Error = err.Error()
		return nl
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	cancelled := false
	// damaged is set in the runs after the harness damaged the data, until
	// a run refuses it; refusals holds the lines of the current such run
	// saying the data would not load, bad unless the run ends refused.
	damaged := false
	var refusals []string
	keepBad := func(lines ...string) {
		nl.Bad = append(nl.Bad, lines[:min(len(lines), maxBad-len(nl.Bad))]...)
	}
	for sc.Scan() {
		if ctx.Err() != nil {
			cancelled = true
			break
		}
		line := sc.Text()
		if strings.HasPrefix(line, history.LogMarkPrefix) { // the harness's own, e.g. the command line
			switch {
			case strings.HasPrefix(line, history.LogMarkDamaged):
				damaged = true
			case strings.HasPrefix(line, history.LogMarkRefused) && damaged:
				nl.Refused = append(nl.Refused, clipText(line, 300))
				damaged, refusals = false, nil
			case strings.HasPrefix(line, history.LogMarkStarted):
				keepBad(refusals...)
				refusals = nil
			}
			continue
		}
		nl.Lines++
		if errorLine.MatchString(line) {
			nl.Errors++
			if len(nl.Examples) < 5 {
				nl.Examples = append(nl.Examples, clipText(line, 300))
			}
		}
		if id := knownBug(line); id != "" {
			if nl.KnownBugs == nil {
				nl.KnownBugs = map[string]int{}
			}
			nl.KnownBugs[id]++
			continue
		}
		for _, p := range badPatterns {
			if !p.re.MatchString(line) {
				continue
			}
			bad := p.name + ": " + clipText(strings.TrimSpace(line), 300)
			if damaged && p.name == notLoaded {
				refusals = append(refusals, bad)
			} else {
				keepBad(bad)
			}
		}
	}
	keepBad(refusals...)
	switch {
	case sc.Err() != nil:
		nl.Error = sc.Err().Error()
	case cancelled:
		nl.Error = "the scan was cancelled after " + checker.Plural(nl.Lines, "line", "lines") + ": " + ctx.Err().Error()
	}
	return nl
}

func knownBug(line string) string {
	for _, b := range knownBugs {
		if b.re.MatchString(line) {
			return b.id
		}
	}
	return ""
}

// knownBugSummary names the known bugs seen, with counts and fixes.
func knownBugSummary(details map[string]NodeLog) string {
	counts := map[string]int{}
	for _, nl := range details {
		for id, n := range nl.KnownBugs {
			counts[id] += n
		}
	}
	var parts []string
	for _, b := range knownBugs {
		if n := counts[b.id]; n > 0 {
			fix := "fixed in " + b.fixedIn
			if b.fixedIn == "" {
				fix = "no release fixes it"
			}
			parts = append(parts, fmt.Sprintf("%s ×%d (%s; %s)", b.id, n, b.what, fix))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "; known ZooKeeper bugs seen: " + strings.Join(parts, "; ")
}

// refusalSummary says which nodes refused data the harness had damaged.
func refusalSummary(details map[string]NodeLog) string {
	var parts []string
	for _, n := range slices.Sorted(maps.Keys(details)) {
		if k := len(details[n].Refused); k > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", n, checker.Plural(k, "time", "times")))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "; damaged data refused at start, as it must be (the data was then wiped): " + strings.Join(parts, ", ")
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
