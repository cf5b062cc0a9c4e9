package reports

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/history"
)

// maxBuckets bounds the timeline's resolution, so a long history draws as
// a small SVG whatever its number of operations.
const maxBuckets = 600

// Geometry of the timeline, in SVG user units (the SVG scales to the page).
const (
	svgWidth     = 960
	svgPlotH     = 200
	svgLeft      = 56
	svgRight     = 16
	svgBottom    = 32
	svgLabelRow  = 12 // height of one row of fault labels above the plot
	svgLabelRows = 3
	svgCharW     = 6.2 // rough width of a label character at 10px
)

// niceSeconds are bucket widths and tick steps that read well on an axis.
var niceSeconds = []int64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400}

// timeline is the throughput plot with fault windows, ready for the template.
type timeline struct {
	Width, Height  int
	PlotX, PlotY   string
	PlotW, PlotH   string
	PlotRight      string
	PlotBottom     string
	TickEnd        string // bottom of the x-axis tick marks
	BucketSeconds  int64
	Buckets        int
	Peak           string // highest ok rate, for the caption
	OKArea         string // polygon points
	FailLine       string // polyline points
	InfoLine       string // polyline points
	Windows        []svgWindow
	XTicks, YTicks []svgTick
	Empty          bool
}

type svgWindow struct {
	X, W           string
	LabelX, LabelY string
	Label          string // empty when there is no room; Title still tells
	Title          string
	Class          string
}

type svgTick struct {
	Pos   string
	Label string
}

// num formats an SVG coordinate compactly.
func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// bucketSeconds picks the narrowest nice width that keeps the bucket count within maxBuckets.
func bucketSeconds(end time.Duration) int64 {
	secs := int64(math.Ceil(end.Seconds()))
	for _, w := range niceSeconds {
		if secs <= w*maxBuckets {
			return w
		}
	}
	w := niceSeconds[len(niceSeconds)-1]
	return (secs + w*maxBuckets - 1) / (w * maxBuckets) * w
}

// tickStep picks a nice step giving at most max ticks over span.
func tickStep(span float64, max int) float64 {
	for _, s := range niceSeconds {
		if span/float64(s) <= float64(max) {
			return float64(s)
		}
	}
	return math.Ceil(span / float64(max))
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// buildTimeline buckets client completions by time and lays out fault windows.
func buildTimeline(ops []history.Op, windows []faultWindow) timeline {
	var end int64
	for _, op := range ops {
		if op.Time > end {
			end = op.Time
		}
	}
	for _, w := range windows {
		if w.End > end {
			end = w.End
		}
	}
	bw := bucketSeconds(time.Duration(end))
	n := int(time.Duration(end).Seconds()/float64(bw)) + 1
	ok := make([]int, n)
	fail := make([]int, n)
	info := make([]int, n)
	completions := 0
	for _, op := range ops {
		if op.IsNemesis() || op.Type == history.Invoke {
			continue
		}
		b := int(op.Time / (bw * int64(time.Second)))
		if b >= n {
			b = n - 1
		}
		switch op.Type {
		case history.OK:
			ok[b]++
		case history.Fail:
			fail[b]++
		case history.Info:
			info[b]++
		}
		completions++
	}
	peak := 0
	for b := range n {
		peak = max(peak, ok[b], fail[b], info[b])
	}
	rate := func(c int) float64 { return float64(c) / float64(bw) }
	yMax := niceCeil(rate(peak))

	span := float64(n) * float64(bw) // seconds covered by the plot
	top := float64(svgLabelRow*svgLabelRows + 8)
	plotW := float64(svgWidth - svgLeft - svgRight)
	x := func(sec float64) float64 { return svgLeft + sec/span*plotW }
	y := func(r float64) float64 { return top + svgPlotH - r/yMax*svgPlotH }

	t := timeline{
		Width: svgWidth, Height: int(top) + svgPlotH + svgBottom,
		PlotX: num(svgLeft), PlotY: num(top), PlotW: num(plotW), PlotH: num(svgPlotH),
		PlotRight: num(svgLeft + plotW), PlotBottom: num(top + svgPlotH), TickEnd: num(top + svgPlotH + 4),
		BucketSeconds: bw, Buckets: n, Peak: strconv.FormatFloat(rate(peak), 'f', -1, 64),
		Empty: completions == 0 && len(windows) == 0,
	}
	// Steps, not a line through bucket centres: a bucket's rate holds over its
	// whole width. A point is drawn only where the rate changes, so flat
	// stretches (no failures, steady load) cost nothing.
	steps := func(counts []int) []string {
		xAt := func(b int) string { return num(x(float64(b) * float64(bw))) }
		pts := []string{xAt(0) + "," + num(y(rate(counts[0])))}
		for b := 1; b < n; b++ {
			if counts[b] != counts[b-1] {
				pts = append(pts, xAt(b)+","+num(y(rate(counts[b-1]))), xAt(b)+","+num(y(rate(counts[b]))))
			}
		}
		return append(pts, xAt(n)+","+num(y(rate(counts[n-1]))))
	}
	base := num(y(0))
	t.OKArea = num(x(0)) + "," + base + " " + strings.Join(steps(ok), " ") + " " + num(x(span)) + "," + base
	t.FailLine = strings.Join(steps(fail), " ")
	t.InfoLine = strings.Join(steps(info), " ")

	step := tickStep(span, 10)
	for s := 0.0; s <= span+1e-9; s += step {
		t.XTicks = append(t.XTicks, svgTick{Pos: num(x(s)), Label: formatSeconds(s)})
	}
	for i := 0; i <= 4; i++ {
		r := yMax * float64(i) / 4
		t.YTicks = append(t.YTicks, svgTick{Pos: num(y(r)), Label: strconv.FormatFloat(r, 'f', -1, 64)})
	}

	rowEnd := make([]float64, svgLabelRows) // right edge of the last label in each row
	for i := range rowEnd {
		rowEnd[i] = math.Inf(-1)
	}
	for _, w := range windows {
		if !w.Applied() {
			continue
		}
		x0, x1 := x(float64(w.Start)/1e9), x(float64(w.End)/1e9)
		sw := svgWindow{
			X: num(x0), W: num(math.Max(x1-x0, 1)),
			Title: fmt.Sprintf("%s %s: %s to %s s", w.label(), strings.Join(w.Targets, ","),
				formatSeconds(float64(w.Start)/1e9), formatSeconds(float64(w.End)/1e9)),
			Class: "fw fw-" + faultClass(w.F),
		}
		label := w.label()
		width := float64(len(label)) * svgCharW
		for row := range rowEnd {
			if x0 >= rowEnd[row]+4 && x0+width <= svgWidth {
				rowEnd[row] = x0 + width
				sw.Label = label
				sw.LabelX = num(x0 + 1)
				sw.LabelY = num(top - 4 - float64(row*svgLabelRow))
				break
			}
		}
		t.Windows = append(t.Windows, sw)
	}
	return t
}

// label is the fault's name as the scenario spells it, or its action.
func (w faultWindow) label() string {
	if w.Name != "" {
		return w.Name
	}
	return w.F
}

// faultClass picks the colour of a fault's shading.
func faultClass(f string) string {
	switch k := actionKind(f); k {
	case "kill", "stop", "crash":
		return "kill"
	case "pause", "partition":
		return k
	default:
		return "other"
	}
}

// formatSeconds renders seconds with at most millisecond precision.
func formatSeconds(s float64) string {
	return strconv.FormatFloat(math.Round(s*1000)/1000, 'f', -1, 64)
}
