package history

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEDNExportSpeaksJepsen(t *testing.T) {
	ops := []Op{
		{Index: 0, Type: Invoke, F: Write, Process: 0, Time: 10, Key: "k0", Value: Int64(1)},
		{Index: 1, Type: OK, F: Write, Process: 0, Time: 20, Key: "k0", Value: Int64(1), Version: Int32(1), Zxid: 77, Node: "n1"},
		{Index: 2, Type: Invoke, F: CAS, Process: 1, Time: 30, Key: "k0", Value: Int64(2), Expect: Int32(1)},
		{Index: 3, Type: Info, F: "kill", Process: NemesisProcess, Time: 35, Fault: &Fault{Name: "kill leader", Targets: []string{"n2"}}},
		{Index: 4, Type: Fail, F: CAS, Process: 1, Time: 40, Key: "k0", Value: Int64(2), Expect: Int32(1), Error: "zk: version conflict"},
		{Index: 5, Type: Info, F: FRoles, Process: NemesisProcess, Time: 41, Roles: map[string]string{"n1": "leader"}},
	}
	var buf bytes.Buffer
	require.NoError(t, WriteEDN(&buf, ops))
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2+5, "two setup records, five operations, no role observation")
	assert.Contains(t, lines[0], ":setup true")
	assert.Contains(t, lines[3], `:zxid 77`)
	assert.Contains(t, lines[4], `:value["k0"[1 2]]`, "the cas's expected version 1 held value 1")
	assert.Contains(t, lines[5], ":process :nemesis")

	h, err := ReadEDN(strings.NewReader(out))
	require.NoError(t, err)
	back := h.Ops
	require.Len(t, back, 7)
	cas := back[4]
	assert.Equal(t, CAS, cas.F)
	assert.Equal(t, "k0", cas.Key)
	assert.Equal(t, []int64{1, 2}, cas.Values)
	assert.True(t, back[5].IsNemesis())
}

func TestEDNImportOfJepsenShapes(t *testing.T) {
	in := `{:type :invoke, :f :add, :value 3, :process 0, :time 1, :index 0}
{:type :ok, :f :add, :value 3, :process 0, :time 2, :index 1}
{:type :invoke, :f :read, :value nil, :process 1, :time 3}
{:type :ok, :f :read, :value #{1 3}, :process 1, :time 4}
{:type :info, :f :start, :value nil, :process :nemesis, :time 5}
{:type :invoke, :f :read, :value [7 nil], :process 2, :time 6}
{:type :ok, :f :read, :value [7 nil], :process 2, :time 6}`
	h, err := ReadEDN(strings.NewReader(in))
	require.NoError(t, err)
	ops := h.Ops
	require.Len(t, ops, 7)
	assert.Equal(t, int64(3), *ops[1].Value)
	assert.Equal(t, []int64{1, 3}, ops[3].Values)
	assert.True(t, ops[4].IsNemesis())
	assert.Equal(t, "7", ops[6].Key, "independent [key value] tuples")
	assert.Equal(t, int64(EDNNil), *ops[6].Value)
	assert.Equal(t, []int{1, 2, 3, 4, 5, 6, 7}, h.Lines)

	_, err = ReadEDN(strings.NewReader(`{:type :done, :f :read}`))
	assert.ErrorContains(t, err, ":type :done is not")
	_, err = ReadEDN(strings.NewReader(`{:type :ok, :f :read, :value "x", :process 1}`))
	assert.ErrorContains(t, err, "not an integer")
	_, err = ReadEDN(strings.NewReader(`{:type :ok`))
	assert.Error(t, err)
}

func TestEDNRecordsAreFoundWhateverTheirLayout(t *testing.T) {
	in := `; a comment ] with brackets
[{:type :invoke, :f :write, :value 1, :process 0, :error "a \"]\" string; not a comment"}
 #_ {:type :bogus}
 #jepsen.history.Op {:type :ok, :f :write,
   :value 1, :process 0, :error [\] \( \;]} ; the rest is a comment ]
 {:type :invoke, :f :read, :process 1}, {:type :ok, :f :read, :value #{}, :process 1}]
{:type :invoke, :f :cas, :value [nil 2], :process 2}`
	h, err := ReadEDN(strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, h.Ops, 5)
	assert.Equal(t, []int{2, 4, 6, 6, 7}, h.Lines)
	assert.Equal(t, `a "]" string; not a comment`, h.Ops[0].Error)
	assert.Equal(t, OK, h.Ops[1].Type, "a tagged record is read through its tag")
	assert.Equal(t, []int64{EDNNil, 2}, h.Ops[4].Values, "a cas from nil")
	assert.Equal(t, "record 2 (line 4)", h.Where(1))
}

func TestEDNBadInputNamesItsLine(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"deep nesting": {"{:type :invoke :f :read :process 1}\n{:type :ok :f :read :process 1 :error " + strings.Repeat("[", 1_000_000),
			"line 2: the record starting on line 2 nests deeper than 64 levels"},
		"deep top-level vector": {"[" + strings.Repeat("[", 100), "nests deeper than 64 levels"},
		"unclosed string":       {"{:type :invoke :f :read :process 1}\n\n{:error \"abc", "line 3: the string opened there is not closed"},
		"unclosed map":          {"{:type :invoke :f :read", "line 1: the record starting on line 1 is not closed"},
		"stray closer":          {"{:type :invoke :f :read :process 1}\n]", "line 2: ']' closes nothing"},
		"mismatched closer":     {"{:type :invoke :f :read :process 1]", "line 1: ']' where '}' was expected"},
		"binary garbage":        {"\x00\xff\xfe", "line 1"},
		"unknown type":          {"{:type :done, :f :read}", "line 1 (record 1): :type :done is not"},
		"value":                 {`{:type :invoke, :f :write, :value "x", :process 1}`, "not an integer, nil or a collection"},
		"long value is cut":     {`{:type :invoke, :f :write, :process 1, :value "` + strings.Repeat("x", 5000) + `"}`, "..."},
		"completion first":      {"{:type :ok, :f :read, :value 1, :process 3}", "line 1 (record 1): :ok completion of :read by process 3, which has no operation in flight"},
		"two in flight": {"{:type :invoke, :f :read, :process 3}\n{:type :invoke, :f :write, :value 1, :process 3}",
			"line 2 (record 2): process 3 invokes :write while its :read invoked on line 1 has not completed"},
		"other f": {"{:type :invoke, :f :read, :process 3}\n{:type :ok, :f :write, :value 1, :process 3}",
			"whose operation in flight (line 1) is :read"},
		"time goes back": {"{:type :invoke, :f :read, :process 3, :time 10}\n{:type :ok, :f :read, :value 1, :process 3, :time 9}",
			"line 2 (record 2): :time 9 of process 3 is earlier than its previous record's :time 10"},
		"huge record": {"{:type :invoke :f :read :process 1 :error \"" + strings.Repeat("x", MaxEDNRecord) + "\"}", "larger than"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ReadEDN(strings.NewReader(tc.in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Less(t, len(err.Error()), 400, "an error quotes a short excerpt: %s", err)
		})
	}
}

func TestEDNExportOfACASWithNoKnownExpectedValue(t *testing.T) {
	ops := []Op{
		{Index: 0, Type: Invoke, F: Write, Process: 0, Time: 10, Key: "k0", Value: Int64(7)},
		{Index: 1, Type: Info, F: Write, Process: 0, Time: 20, Key: "k0", Value: Int64(7), Error: "zk: connection closed"},
		{Index: 2, Type: Invoke, F: CAS, Process: 1, Time: 30, Key: "k0", Value: Int64(8), Expect: Int32(1)},
		{Index: 3, Type: OK, F: CAS, Process: 1, Time: 40, Key: "k0", Value: Int64(8), Version: Int32(2)},
	}
	var buf bytes.Buffer
	require.NoError(t, WriteEDN(&buf, ops))
	h, err := ReadEDN(&buf)
	require.NoError(t, err)
	require.Len(t, h.Ops, 6)
	assert.Equal(t, Write, h.Ops[4].F, "version 1 was made by an indeterminate write: its value is unknown")
	assert.Equal(t, Write, h.Ops[5].F)
	assert.Equal(t, int64(8), *h.Ops[4].Value)
}
