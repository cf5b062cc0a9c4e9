package main

import (
	"github.com/spf13/pflag"

	"github.com/zkchaos/zkchaos/scenarios"
)

// scenarioFlag is a command-line flag that sets one field of the scenario.
// Its value is kept as typed and handed to the scenario loader as an
// override, so that it is checked by the rules of the field it sets, and
// every error names the flag.
type scenarioFlag struct {
	name, path, typ string
	value           string
	set             bool
}

// scenarioFlagTable lists the flags that override scenario fields: name,
// field path, value type for the help text, usage.
var scenarioFlagTable = []struct{ name, path, typ, usage string }{
	{"time-limit", "time-limit", "duration", "override the scenario's time limit"},
	{"rate", "workload.rate", "float", "override the workload's total ops/s (0: as fast as the ensemble answers)"},
	{"seed", "seed", "int", "override the scenario's (first) seed"},
	{"kubeconfig", "cluster.kubernetes.kubeconfig", "string", "kubeconfig file for the kubernetes backend (overrides the scenario's)"},
}

// String implements pflag.Value.
func (f *scenarioFlag) String() string { return f.value }

// Set implements pflag.Value: the value is checked when the scenario is
// loaded.
func (f *scenarioFlag) Set(v string) error {
	f.value, f.set = v, true
	return nil
}

// Type implements pflag.Value.
func (f *scenarioFlag) Type() string { return f.typ }

// scenarioFlags are the override flags of one command.
type scenarioFlags []*scenarioFlag

// addScenarioFlags defines the named override flags on fs.
func addScenarioFlags(fs *pflag.FlagSet, names ...string) scenarioFlags {
	var out scenarioFlags
	for _, row := range scenarioFlagTable {
		for _, name := range names {
			if name == row.name {
				f := &scenarioFlag{name: row.name, path: row.path, typ: row.typ}
				fs.Var(f, row.name, row.usage)
				out = append(out, f)
			}
		}
	}
	return out
}

// overrides are the scenario overrides the given flags ask for.
func (fs scenarioFlags) overrides() []scenarios.Override {
	var out []scenarios.Override
	for _, f := range fs {
		if f.set {
			out = append(out, scenarios.Override{Source: "--" + f.name, Path: f.path, Value: f.value})
		}
	}
	return out
}
