package history

import "math"

// decoder decodes the records the history Writer writes (flat JSON objects
// of the client fields, integers and plain strings) without reflection,
// sharing the strings records repeat. Anything else it leaves to
// encoding/json.
type decoder struct {
	intern interner
}

// decode decodes line into op, which must be zero, and reports whether it
// could; when it could not, op is in no defined state.
func (d *decoder) decode(line []byte, op *Op) bool {
	p := fastParser{b: line}
	if !p.byte('{') {
		return false
	}
	if p.byte('}') {
		return p.end()
	}
	for {
		name, ok := p.str()
		if !ok || !p.byte(':') {
			return false
		}
		if !d.field(&p, string(name), op) {
			return false
		}
		if p.byte('}') {
			return p.end()
		}
		if !p.byte(',') {
			return false
		}
	}
}

// field decodes the value of the named field into op.
func (d *decoder) field(p *fastParser, name string, op *Op) bool {
	var ok bool
	switch name {
	case "index":
		op.Index, ok = p.int(64)
	case "time":
		op.Time, ok = p.int(64)
	case "zxid":
		op.Zxid, ok = p.int(64)
	case "session":
		op.Session, ok = p.int(64)
	case "process":
		var n int64
		if n, ok = p.int(32); ok {
			op.Process = Process(n)
		}
	case "value":
		var n int64
		if n, ok = p.int(64); ok {
			op.Value = Int64(n)
		}
	case "expect":
		var n int64
		if n, ok = p.int(32); ok {
			op.Expect = Int32(int32(n))
		}
	case "version":
		var n int64
		if n, ok = p.int(32); ok {
			op.Version = Int32(int32(n))
		}
	case "type":
		var s string
		s, ok = d.str(p)
		op.Type = Type(s)
	case "f":
		op.F, ok = d.str(p)
	case "key":
		op.Key, ok = d.str(p)
	case "node":
		op.Node, ok = d.str(p)
	case "error":
		op.Error, ok = d.str(p)
	case "path":
		op.Path, ok = d.str(p)
	case "event":
		op.Event, ok = d.str(p)
	}
	return ok
}

// internLimit bounds the strings an interner shares; others are copied.
const internLimit = 4096

// interner shares the strings that records repeat.
type interner map[string]string

// of returns b as a string, shared with earlier ones.
func (in interner) of(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in) < internLimit {
		in[s] = s
	}
	return s
}

// str decodes a plain string, shared with the records before it.
func (d *decoder) str(p *fastParser) (string, bool) {
	b, ok := p.str()
	return d.intern.of(b), ok
}

// fastParser reads the JSON the Writer writes: no spaces, no escapes.
type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) byte(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *fastParser) end() bool { return p.i == len(p.b) }

// str reads a string without escapes.
func (p *fastParser) str() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false // escapes and UTF-8 are encoding/json's to check
		}
	}
	return nil, false
}

// int reads an integer that fits in bits bits.
func (p *fastParser) int(bits uint) (int64, bool) {
	neg := p.byte('-')
	digits := p.i
	var n uint64
	for ; p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9'; p.i++ {
		if n > (math.MaxUint64-9)/10 {
			return 0, false
		}
		n = n*10 + uint64(p.b[p.i]-'0')
	}
	if p.i == digits || (p.b[digits] == '0' && p.i-digits > 1) {
		return 0, false // no digits, or a leading zero JSON does not allow
	}
	limit := uint64(1) << (bits - 1) // the magnitude of the lowest value
	switch {
	case neg && n <= limit:
		return -int64(n-1) - 1, true
	case !neg && n < limit:
		return int64(n), true
	}
	return 0, false
}
