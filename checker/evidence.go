package checker

// Anomaly is one thing a checker found wrong, or could not decide, in
// words, with the facts behind the words and the operations involved.
type Anomaly struct {
	// Kind is the rule broken or the kind of anomaly, e.g. "lost write".
	Kind string `json:"kind"`
	// Key is the key, znode, node or fault the anomaly is about, if any.
	Key string `json:"key,omitempty"`
	// Text explains the anomaly for a person.
	Text string `json:"text"`
	// Facts are the figures the text is made of, in the order to show them.
	Facts []Fact `json:"facts,omitempty"`
	// Ops are the operations, or spans of the run, the anomaly involves.
	Ops []OpRef `json:"ops,omitempty"`
}

// Fact is one named figure of an anomaly, e.g. session 0x5.
type Fact struct {
	// Name says what the figure is.
	Name string `json:"name"`
	// Value is the figure, as shown.
	Value string `json:"value"`
}

// NoIndex is the Index of an OpRef that names a span of the run rather
// than an operation.
const NoIndex int64 = -1

// OpRef names one operation, by the index of its invocation record in the
// history, or a span of the run, with its role in the anomaly.
type OpRef struct {
	// Role is what the operation did in the anomaly: "read", "holder"...
	Role string `json:"role"`
	// Index is the index of the operation's invocation record (any record
	// of it will do), or NoIndex for a span.
	Index int64 `json:"index"`
	// Start and End bound the span in nanoseconds since the run started;
	// for an operation, both zero means the operation's own times.
	Start int64 `json:"start_ns,omitempty"`
	End   int64 `json:"end_ns,omitempty"`
}

// Op names the operation whose record has index idx, in role.
func Op(role string, idx int64) OpRef { return OpRef{Role: role, Index: idx} }

// Span names the span of the run from start to end (nanoseconds), in role.
func Span(role string, start, end int64) OpRef {
	return OpRef{Role: role, Index: NoIndex, Start: start, End: end}
}

// Evidencer is implemented by checker Details that list anomalies. run
// fills Result.Anomalies from it, so every composed checker's result
// carries its evidence in the same shape, in memory and in results.json.
type Evidencer interface {
	// Evidence lists the anomalies, most telling first.
	Evidence() []Anomaly
}
