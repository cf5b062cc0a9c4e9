package compare

import (
	"fmt"
	"strings"
	"time"
)

// Thresholds are the limits beyond which B's availability or latency counts
// as a regression; a nil limit leaves that aspect out of the decision.
type Thresholds struct {
	// Availability is how many percent more unavailable time per run, or
	// slower median client-visible recovery from a fault kind, B may show
	// before it is worse.
	Availability *float64 `json:"availability_pct,omitempty"`
	// Latency is how many percent higher B's p99 latency of an operation
	// may be before it is worse.
	Latency *float64 `json:"latency_pct,omitempty"`
}

// Aspect is what a finding is about.
type Aspect string

// The aspects of a comparison.
const (
	// Correctness is about checker verdicts.
	Correctness Aspect = "correctness"
	// Availability is about unavailable time over whole runs.
	Availability Aspect = "availability"
	// Recovery is about the service after each kind of fault.
	Recovery Aspect = "recovery"
	// Latency is about p99 latency per operation.
	Latency Aspect = "latency"
)

// Finding is one difference between A and B that the decision rests on.
type Finding struct {
	// Aspect is what the finding is about.
	Aspect Aspect `json:"aspect"`
	// Scenario names the scenario compared.
	Scenario string `json:"scenario"`
	// Subject is the checker path, fault kind or operation; empty for the
	// availability of the whole run.
	Subject string `json:"subject,omitempty"`
	// Worse is true when B is worse than A (a regression), false when it
	// is better.
	Worse bool `json:"worse"`
	// Text says it in words.
	Text string `json:"text"`
}

// Decide compares each scenario's A and B and returns the findings:
//
//   - correctness, always: B is worse on a checker when it was invalid in B
//     and either never invalid in A or invalid in a larger share of runs
//     (with equal run counts: in more runs); better in the mirror case.
//     Unknown verdicts are not invalid and decide nothing.
//   - availability, with a limit: B's mean unavailable time per run exceeds
//     A's by more than the limit (any B outage when A had none); and per
//     fault kind run on both sides, a larger share of faults after which no
//     operation succeeded again, or a median client-visible recovery that
//     exceeds A's by more than the limit.
//   - latency, with a limit: per operation with ok completions on both
//     sides, B's p99 (median over runs) exceeds A's by more than the limit.
//
// A composite checker's correctness finding is left out when one of the
// checkers below it has a finding in the same direction: the most specific
// checker is the one to name.
func Decide(cs []Comparison, t Thresholds) []Finding {
	var out []Finding
	for _, c := range cs {
		var correctness []Finding
		for _, row := range c.Checkers {
			switch {
			case moreInvalid(row.A, row.B):
				correctness = append(correctness, Finding{Aspect: Correctness, Scenario: c.Scenario, Subject: row.Path, Worse: true,
					Text: fmt.Sprintf("B is worse on correctness in %s: %s invalid in %s runs vs %s.",
						c.Scenario, pathLabel(row.Path), ratio(row.B.Invalid, row.B.Runs), ratio(row.A.Invalid, row.A.Runs))})
			case row.B.Runs > 0 && moreInvalid(row.B, row.A):
				correctness = append(correctness, Finding{Aspect: Correctness, Scenario: c.Scenario, Subject: row.Path,
					Text: fmt.Sprintf("B is better on correctness in %s: %s invalid in %s runs vs %s.",
						c.Scenario, pathLabel(row.Path), ratio(row.B.Invalid, row.B.Runs), ratio(row.A.Invalid, row.A.Runs))})
			}
		}
		out = append(out, mostSpecific(correctness)...)
		if t.Availability != nil && c.A.Runs > 0 && c.B.Runs > 0 {
			out = append(out, availabilityFindings(c, *t.Availability)...)
		}
		if t.Latency != nil {
			out = append(out, latencyFindings(c, *t.Latency)...)
		}
	}
	return out
}

// moreInvalid reports whether b has invalid runs where a had none, or a
// larger share of invalid runs than a.
func moreInvalid(a, b VerdictCounts) bool {
	if b.Invalid == 0 {
		return false
	}
	if a.Invalid == 0 {
		return true
	}
	return b.Invalid*a.Runs > a.Invalid*b.Runs
}

// exceeds reports whether b is more than pct percent above a; when a is 0,
// any positive b is.
func exceeds(a, b time.Duration, pct float64) bool {
	if a <= 0 {
		return b > 0
	}
	return float64(b)*100 > float64(a)*(100+pct)
}

// availabilityFindings applies the availability limit to one scenario.
func availabilityFindings(c Comparison, pct float64) []Finding {
	var out []Finding
	if exceeds(c.A.UnavailablePerRun, c.B.UnavailablePerRun, pct) {
		out = append(out, Finding{Aspect: Availability, Scenario: c.Scenario, Worse: true,
			Text: fmt.Sprintf("B is worse on availability in %s: %s unavailable per run vs %s (%s, limit %s).",
				c.Scenario, fmtDuration(c.B.UnavailablePerRun), fmtDuration(c.A.UnavailablePerRun),
				change(c.A.UnavailablePerRun, c.B.UnavailablePerRun), fmtPct(pct))})
	}
	for _, f := range c.Faults {
		a, b := f.A, f.B
		if a.Windows == 0 || b.Windows == 0 {
			continue
		}
		finding := Finding{Aspect: Recovery, Scenario: c.Scenario, Subject: string(f.Kind), Worse: true}
		switch {
		case b.NotRecovered > 0 && b.NotRecovered*a.Windows > a.NotRecovered*b.Windows:
			finding.Text = fmt.Sprintf("B is worse on recovery from %s in %s: no operation succeeded after the heal of %s faults vs %s.",
				f.Kind, c.Scenario, ratio(b.NotRecovered, b.Windows), ratio(a.NotRecovered, a.Windows))
		case a.NotRecovered < a.Windows && b.NotRecovered < b.Windows && exceeds(a.RecoveredMedian, b.RecoveredMedian, pct):
			finding.Text = fmt.Sprintf("B is worse on recovery from %s in %s: clients were served again %s after the heal (median) vs %s (%s, limit %s).",
				f.Kind, c.Scenario, fmtDuration(b.RecoveredMedian), fmtDuration(a.RecoveredMedian),
				change(a.RecoveredMedian, b.RecoveredMedian), fmtPct(pct))
		default:
			continue
		}
		out = append(out, finding)
	}
	return out
}

// latencyFindings applies the latency limit to one scenario.
func latencyFindings(c Comparison, pct float64) []Finding {
	var out []Finding
	for _, l := range c.Latency {
		if l.A.Runs == 0 || l.B.Runs == 0 || l.A.P99 <= 0 {
			continue
		}
		if exceeds(l.A.P99, l.B.P99, pct) {
			out = append(out, Finding{Aspect: Latency, Scenario: c.Scenario, Subject: l.Op, Worse: true,
				Text: fmt.Sprintf("B is worse on latency in %s: %s p99 %s vs %s (%s, limit %s).",
					c.Scenario, l.Op, fmtDuration(l.B.P99), fmtDuration(l.A.P99), change(l.A.P99, l.B.P99), fmtPct(pct))})
		}
	}
	return out
}

// unknownNotes says where B had a larger share of unknown verdicts than A:
// worth knowing, but unknown is not invalid.
func unknownNotes(cs []Comparison) []string {
	var notes []string
	for _, c := range cs {
		var fs []Finding
		for _, row := range c.Checkers {
			a, b := row.A, row.B
			if b.Unknown > 0 && (a.Unknown == 0 || b.Unknown*a.Runs > a.Unknown*b.Runs) {
				fs = append(fs, Finding{Aspect: Correctness, Scenario: c.Scenario, Subject: row.Path, Worse: true,
					Text: fmt.Sprintf("B had more unknown verdicts in %s: %s unknown in %s runs vs %s (unknown is not invalid and decides nothing).",
						c.Scenario, pathLabel(row.Path), ratio(b.Unknown, b.Runs), ratio(a.Unknown, a.Runs))})
			}
		}
		for _, f := range mostSpecific(fs) {
			notes = append(notes, f.Text)
		}
	}
	return notes
}

// mostSpecific drops findings about a composite checker when a checker
// below it has a finding in the same direction.
func mostSpecific(fs []Finding) []Finding {
	var out []Finding
	for _, f := range fs {
		covered := false
		for _, g := range fs {
			if g.Worse == f.Worse && below(f.Subject, g.Subject) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, f)
		}
	}
	return out
}

// below reports whether checker path q lies below path p.
func below(p, q string) bool {
	if p == RootPath {
		return q != RootPath
	}
	return strings.HasPrefix(q, p+"/")
}

// summarize puts the decision into words: a headline, then the findings,
// regressions first.
func summarize(rep Report) []string {
	var worse, better []string
	for _, f := range rep.Findings {
		if f.Worse {
			worse = append(worse, f.Text)
		} else {
			better = append(better, f.Text)
		}
	}
	var head string
	if len(worse) > 0 {
		head = fmt.Sprintf("B is worse than A: %d regression(s), over %d run(s) of A and %d of B.", len(worse), rep.A.Runs, rep.B.Runs)
	} else {
		aspects := []string{"correctness"}
		if t := rep.Thresholds.Availability; t != nil {
			aspects = append(aspects, fmt.Sprintf("availability and recovery (limit %s)", fmtPct(*t)))
		}
		if t := rep.Thresholds.Latency; t != nil {
			aspects = append(aspects, fmt.Sprintf("p99 latency (limit %s)", fmtPct(*t)))
		}
		head = fmt.Sprintf("No regression: B is not worse than A on %s, over %d run(s) of A and %d of B.",
			joinWords(aspects), rep.A.Runs, rep.B.Runs)
	}
	return append(append([]string{head}, worse...), better...)
}

// joinWords joins "a", "a or b", "a, b or c".
func joinWords(ws []string) string {
	if len(ws) <= 1 {
		return strings.Join(ws, "")
	}
	return strings.Join(ws[:len(ws)-1], ", ") + " or " + ws[len(ws)-1]
}

// pathLabel names a checker path for a reader.
func pathLabel(p string) string {
	if p == RootPath {
		return "the run verdict"
	}
	return p
}

// ratio renders n of total as "n/total".
func ratio(n, total int) string { return fmt.Sprintf("%d/%d", n, total) }

// change renders b relative to a: "+42%", or that a had none.
func change(a, b time.Duration) string {
	switch {
	case a <= 0 && b <= 0:
		return "none on either side"
	case a <= 0:
		return "A had none"
	}
	return fmt.Sprintf("%+.1f%%", 100*(float64(b)-float64(a))/float64(a))
}

// fmtPct renders a percentage limit.
func fmtPct(p float64) string { return fmt.Sprintf("%g%%", p) }

// fmtDuration renders a duration for a reader: to the millisecond from a
// second up, to ten microseconds below.
func fmtDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d >= time.Second || d <= -time.Second:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(10 * time.Microsecond).String()
	}
}
