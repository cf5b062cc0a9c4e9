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

	back, err := ReadEDN(strings.NewReader(out))
	require.NoError(t, err)
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
{:type :ok, :f :read, :value [7 nil], :process 2, :time 6}`
	ops, err := ReadEDN(strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, ops, 6)
	assert.Equal(t, int64(3), *ops[1].Value)
	assert.Equal(t, []int64{1, 3}, ops[3].Values)
	assert.True(t, ops[4].IsNemesis())
	assert.Equal(t, "7", ops[5].Key, "independent [key value] tuples")
	assert.Equal(t, int64(EDNNil), *ops[5].Value)

	_, err = ReadEDN(strings.NewReader(`{:type :done, :f :read}`))
	assert.ErrorContains(t, err, ":type :done is not")
	_, err = ReadEDN(strings.NewReader(`{:type :ok, :f :read, :value "x", :process 1}`))
	assert.ErrorContains(t, err, "not an integer")
	_, err = ReadEDN(strings.NewReader(`{:type :ok`))
	assert.Error(t, err)
}
