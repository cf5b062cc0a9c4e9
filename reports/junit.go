package reports

import (
	"encoding/xml"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/checker"
)

// JUnit XML, as CI systems read it: one test suite per run, one test case
// per checker. An invalid checker is a failure; an unknown one is an error,
// so that a run that proved nothing never shows green; a run the harness
// could not finish is an error of a "harness" test case.

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Time      float64     `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Class   string        `xml:"classname,attr"`
	Name    string        `xml:"name,attr"`
	Time    float64       `xml:"time,attr"`
	Failure *junitProblem `xml:"failure,omitempty"`
	Error   *junitProblem `xml:"error,omitempty"`
	Output  string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnitRun is one run to report: its results and its directory.
type JUnitRun struct {
	// Dir is the run directory, shown in every test case's output.
	Dir string
	// Results are the run's results.
	Results Results
}

// WriteJUnit writes the runs as JUnit XML at path.
func WriteJUnit(path string, runs []JUnitRun) error {
	doc := junitSuites{}
	for _, run := range runs {
		doc.Suites = append(doc.Suites, junitSuiteOf(run))
	}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode JUnit XML: %w", err)
	}
	b = append([]byte(xml.Header), append(b, '\n')...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write JUnit XML %s: %w", path, err)
	}
	return nil
}

func junitSuiteOf(run JUnitRun) junitSuite {
	r := run.Results
	s := junitSuite{
		Name: fmt.Sprintf("%s seed %d", r.Scenario, r.Seed),
		Time: r.Duration.Seconds(),
	}
	if !r.Started.IsZero() {
		s.Timestamp = r.Started.UTC().Format(time.RFC3339)
	}
	class := "zkchaos." + r.Scenario
	out := "run directory: " + run.Dir
	if r.Error != "" || r.Interrupted {
		msg := r.Error
		if msg == "" {
			msg = "the run was interrupted"
		}
		s.Cases = append(s.Cases, junitCase{Class: class, Name: "harness", Output: out,
			Error: &junitProblem{Message: clip(msg), Type: "harness", Text: msg}})
	}
	walkLeaves(r.Check, "", func(path string, c checker.Result) {
		jc := junitCase{Class: class, Name: path, Time: c.Duration.Seconds(), Output: out}
		switch c.Verdict {
		case checker.Invalid:
			jc.Failure = &junitProblem{Message: clip(c.Message), Type: "invalid", Text: c.Message}
		case checker.Valid:
		default:
			jc.Error = &junitProblem{Message: clip(c.Message), Type: "unknown", Text: c.Message}
		}
		s.Cases = append(s.Cases, jc)
	})
	for _, c := range s.Cases {
		s.Tests++
		if c.Failure != nil {
			s.Failures++
		}
		if c.Error != nil {
			s.Errors++
		}
	}
	return s
}

// walkLeaves calls f for every checker without children, named by its path
// below the top ("register/linearizable"); a top without children is its
// own leaf, and an empty result (a run that was never judged) has none.
func walkLeaves(r checker.Result, prefix string, f func(string, checker.Result)) {
	if len(r.Children) == 0 {
		if r.Checker != "" {
			f(r.Checker, r)
		}
		return
	}
	for _, c := range r.Children {
		name := c.Checker
		if prefix != "" {
			name = prefix + "/" + name
		}
		if len(c.Children) == 0 {
			f(name, c)
			continue
		}
		walkLeaves(c, name, f)
	}
}

func clip(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 500 {
		return s[:500] + "…"
	}
	return s
}
