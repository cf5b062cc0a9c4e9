package compare

import (
	"slices"

	"github.com/zkchaos/zkchaos/checker"
)

// CheckerRow counts one checker's verdicts on each side.
type CheckerRow struct {
	// Path is the checker below the run, e.g. "register/linearizable", or
	// RootPath for the run's verdict.
	Path string `json:"path"`
	// A and B count the checker's verdicts on each side.
	A VerdictCounts `json:"a"`
	B VerdictCounts `json:"b"`
}

// VerdictCounts counts the runs in which a checker was valid, invalid or unknown.
type VerdictCounts struct {
	// Runs counts the runs in which the checker ran; Valid, Invalid and
	// Unknown split them by verdict.
	Runs    int `json:"runs"`
	Valid   int `json:"valid"`
	Invalid int `json:"invalid"`
	Unknown int `json:"unknown"`
	// AnomalyRate is Invalid / Runs, 0 when there were no runs.
	AnomalyRate float64 `json:"anomaly_rate"`
	// Example is the first invalid result (or, with none, the first
	// unknown one), so a reader can see what went wrong and where.
	Example *Example `json:"example,omitempty"`
}

// Example points at one run's result for a checker.
type Example struct {
	// Dir and Seed name the run.
	Dir  string `json:"dir"`
	Seed int64  `json:"seed"`
	// Verdict and Message are the checker's.
	Verdict checker.Verdict `json:"verdict"`
	Message string          `json:"message"`
}

// checkerRows counts verdicts per checker path on both sides, in the order
// the paths first appear (A's runs, then B's).
func checkerRows(a, b []Run) []CheckerRow {
	var order []string
	rows := map[string]*CheckerRow{}
	count := func(runs []Run, side func(*CheckerRow) *VerdictCounts) {
		for _, r := range runs {
			for path, res := range verdicts(r.Results.Check) {
				row := rows[path]
				if row == nil {
					row = &CheckerRow{Path: path}
					rows[path] = row
				}
				side(row).add(r, res)
			}
			for _, p := range paths(r.Results.Check) {
				if !slices.Contains(order, p) {
					order = append(order, p)
				}
			}
		}
	}
	count(a, func(r *CheckerRow) *VerdictCounts { return &r.A })
	count(b, func(r *CheckerRow) *VerdictCounts { return &r.B })
	out := make([]CheckerRow, 0, len(order))
	for _, p := range order {
		out = append(out, *rows[p])
	}
	return out
}

// add counts one run's result for a checker.
func (v *VerdictCounts) add(r Run, res checker.Result) {
	v.Runs++
	switch res.Verdict {
	case checker.Valid:
		v.Valid++
	case checker.Invalid:
		v.Invalid++
	default:
		v.Unknown++
	}
	v.AnomalyRate = float64(v.Invalid) / float64(v.Runs)
	ex := &Example{Dir: r.Dir, Seed: r.Results.Seed, Verdict: res.Verdict, Message: res.Message}
	switch {
	case res.Verdict == checker.Invalid && (v.Example == nil || v.Example.Verdict != checker.Invalid):
		v.Example = ex
	case res.Verdict != checker.Valid && res.Verdict != checker.Invalid && v.Example == nil:
		ex.Verdict = checker.Unknown
		v.Example = ex
	}
}

// paths lists the checker paths of a result tree, depth first: RootPath for
// the root, then "register", "register/linearizable"…
func paths(root checker.Result) []string {
	var out []string
	walk(root, func(path string, _ checker.Result) { out = append(out, path) })
	return out
}

// verdicts maps each checker path of a result tree to its result; when a
// path occurs twice, the worse result wins.
func verdicts(root checker.Result) map[string]checker.Result {
	out := map[string]checker.Result{}
	walk(root, func(path string, r checker.Result) {
		if prev, ok := out[path]; ok && checker.Worst(prev.Verdict, r.Verdict) == prev.Verdict {
			return
		}
		out[path] = r
	})
	return out
}

// walk calls f for every node of a result tree with its path. A run that
// was never judged (no checker at the root) has none.
func walk(root checker.Result, f func(string, checker.Result)) {
	if root.Checker == "" && root.Verdict == "" {
		return
	}
	f(RootPath, root)
	var rec func(r checker.Result, prefix string)
	rec = func(r checker.Result, prefix string) {
		for _, c := range r.Children {
			p := c.Checker
			if prefix != "" {
				p = prefix + "/" + p
			}
			f(p, c)
			rec(c, p)
		}
	}
	rec(root, "")
}
