package history

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// encodeAll writes ops as JSONL, as the Writer does.
func encodeAll(t *testing.T, ops []Op) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, op := range ops {
		if err := enc.Encode(op); err != nil {
			t.Fatalf("a decoded record does not encode: %v", err)
		}
	}
	return b.Bytes()
}

// FuzzDecode feeds arbitrary bytes to Decode: it must never panic, a torn
// tail is only ever the last line, and whatever it decodes must survive a
// round trip through the file format unchanged.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		"",
		"\n\n",
		`{"index":0,"type":"invoke","f":"read","process":1,"time":5,"key":"k0"}` + "\n",
		`{"index":1,"type":"ok","f":"read","process":1,"time":9,"key":"k0","value":3,"version":2,"zxid":4294967301,"node":"n1","session":72057594037927936}` + "\n",
		`{"index":2,"type":"info","f":"kill","process":"nemesis","time":10,"fault":{"name":"kill leader","targets":["n1"],"grudge":{"n1":["n2"]}}}` + "\n",
		`{"index":3,"type":"info","f":"roles","process":"nemesis","time":11,"roles":{"n1":"leader","n2":"follower"}}` + "\n",
		`{"index":4,"type":"ok","f":"read","process":7,"time":12,"values":[1,2,3],"expect":-1,"path":"/x","event":"NodeDeleted","error":"zk: boom"}`,
		`{"index":5,"type":"ok","f":"read","proc`,                  // torn tail
		"{\"type\":\"ok\"}\n{\"process\":\"x\"}\n",                 // bad process
		`{"process":99999999999}` + "\n",                           // process out of range
		"\xff\xfe{}\n" + strings.Repeat(" ", 10) + "\n{}\n{\"a\":", // garbage, blank, torn
		`{"value":1e400}` + "\n",
		`[1,2]` + "\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Decode(bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error does not name its line: %v", err)
			}
			return
		}
		if res.TornTail && len(data) > 0 && data[len(data)-1] == '\n' {
			t.Fatalf("a torn tail was reported for input ending in a newline")
		}
		once := encodeAll(t, res.Ops)
		again, err := Decode(bytes.NewReader(once))
		if err != nil {
			t.Fatalf("re-decoding what was decoded failed: %v\n%s", err, once)
		}
		if again.TornTail || len(again.Ops) != len(res.Ops) {
			t.Fatalf("round trip changed the records: %d -> %d (torn %v)", len(res.Ops), len(again.Ops), again.TornTail)
		}
		if twice := encodeAll(t, again.Ops); !bytes.Equal(once, twice) {
			t.Fatalf("round trip is not stable:\n%s\n%s", once, twice)
		}
		for _, op := range res.Ops {
			_ = op.String()
			_ = op.Process.String()
		}
		_ = Calls(res.Ops)
	})
}

func FuzzReadEDN(f *testing.F) {
	f.Add([]byte(`{:type :invoke, :f :cas, :value ["k0" [1 2]], :process 3, :time 10}`))
	f.Add([]byte(`[{:type :ok, :f :read, :value #{1 2}, :process :nemesis}]`))
	f.Add([]byte("[" + strings.Repeat("[", 100) + "]"))
	f.Add([]byte("{:type :invoke :f :read :process 1 :error #_ [1 (2] \\] \"x;\"} ; c\n#tag {:a 1}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadEDN(bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error does not name its line: %v", err)
			}
			return
		}
		if len(h.Lines) != len(h.Ops) {
			t.Fatalf("%d records but %d lines", len(h.Ops), len(h.Lines))
		}
		var buf bytes.Buffer
		if err := WriteEDN(&buf, h.Ops); err != nil {
			t.Fatalf("a history read from EDN must write back: %v", err)
		}
	})
}

// FuzzFastDecodeAgreesWithJSON holds the decoder Scan tries first to
// encoding/json: whatever line it accepts, encoding/json decodes to the
// same record.
func FuzzFastDecodeAgreesWithJSON(f *testing.F) {
	for _, s := range []string{
		`{"index":0,"type":"invoke","f":"read","process":1,"time":5,"key":"k0"}`,
		`{"index":1,"type":"ok","f":"read","process":1,"time":9,"key":"k0","value":3,"version":2,"zxid":4294967301,"node":"n1","session":72057594037927936}`,
		`{"index":2,"type":"info","f":"cas","process":-3,"time":-10,"value":-9223372036854775808,"expect":2147483647,"error":"zk: x"}`,
		`{"index":2,"process":2147483648}`, `{"value":01}`, `{"version":-2147483649}`, `{"Index":3}`, `{"key":"\u00e9"}`,
		`{"index":9223372036854775808}`, `{"index":1,"index":2}`, `{}`, `{"path":"/a","event":"NodeCreated"}`, `{"value":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var fast Op
		d := decoder{intern: interner{}}
		if !d.decode(line, &fast) {
			return
		}
		var slow Op
		if err := json.Unmarshal(line, &slow); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", line, err)
		}
		if fast.String() != slow.String() {
			t.Fatalf("%q decodes to\n%s\nbut encoding/json decodes it to\n%s", line, fast.String(), slow.String())
		}
	})
}
