package nemesis

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// Spec is one fault as a scenario names it, with its parameters. Each kind
// reads only the parameters that apply to it; Validate rejects the others.
type Spec struct {
	// Kind is the fault kind: kill, pause, partition, clients, link, clock,
	// upgrade, rollback, reconfig, power-loss, fsync-delay, write-delay,
	// disk-error, disk-full, wipe or corrupt. Until Resolved it may also be
	// a shorthand:
	// kill-random and kill-leader are kill with target one / leader.
	Kind fault.Kind `yaml:"name"`
	// Target chooses nodes at injection time: one, leader, followers,
	// minority, majority or all (kill, pause, clients, link, clock,
	// power-loss and the other disk kinds, wipe, corrupt; and partition's isolate and one-way grudges); one, leader
	// or follower (reconfig's remove and observer).
	Target string `yaml:"target,omitempty"`
	// Grudge is the partition's shape: isolate, halves, majorities-ring,
	// bridge or one-way (partition).
	Grudge string `yaml:"grudge,omitempty"`
	// Mode is how cut links fail: reset or hang (partition).
	Mode string `yaml:"mode,omitempty"`
	// Delay is added to every chunk forwarded between nodes (link), to
	// every fsync (fsync-delay) or every write (write-delay).
	Delay time.Duration `yaml:"delay,omitempty"`
	// Jitter is a uniformly random extra delay bound (link, fsync-delay,
	// write-delay).
	Jitter time.Duration `yaml:"jitter,omitempty"`
	// Loss is the probability that a chunk or connection is reset (link).
	Loss float64 `yaml:"loss,omitempty"`
	// Clock is bump, strobe or rate (clock).
	Clock string `yaml:"clock,omitempty"`
	// Delta is the clock offset, either sign (clock bump and strobe).
	Delta time.Duration `yaml:"delta,omitempty"`
	// Period is how often a strobe flips the clock (clock strobe).
	Period time.Duration `yaml:"period,omitempty"`
	// Rate is how fast the shifted clock runs, e.g. 2 or 0.5 (clock rate).
	Rate float64 `yaml:"rate,omitempty"`
	// To is the distribution every node is restarted on, named as
	// cluster.distribution is (upgrade, required; rollback, where a
	// scenario defaults it to its cluster.distribution).
	To string `yaml:"to,omitempty"`
	// Change is how a reconfig changes the membership: remove (a voter
	// leaves), observer (a voter becomes an observer) or grow (every spare
	// joins as a voter). Healing restores the membership (reconfig).
	Change string `yaml:"change,omitempty"`
	// Share is the share of disk operations, in (0, 1], that fail with EIO
	// (disk-error).
	Share float64 `yaml:"share,omitempty"`
	// Ops is which disk operations fail: writes, fsyncs or both
	// (disk-error).
	Ops string `yaml:"ops,omitempty"`
	// Free is how many more bytes the disk takes before writes fail with
	// ENOSPC; 0 makes it full at once (disk-full).
	Free int64 `yaml:"free,omitempty"`
	// File is the file a corrupt damages: log (the newest transaction
	// log) or snapshot (the newest snapshot) (corrupt).
	File string `yaml:"file,omitempty"`
	// Region is where in the file a corrupt flips bits: header, middle or
	// tail (corrupt).
	Region string `yaml:"region,omitempty"`
}

// damageFiles and damageRegions are what a corrupt fault or step may name.
var (
	damageFiles   = []string{cluster.DamageLog, cluster.DamageSnapshot}
	damageRegions = []string{cluster.DamageHeader, cluster.DamageMiddle, cluster.DamageTail}
)

// damageOf is what a corrupt fault or step flips, its defaults filled in:
// the tail of the newest transaction log.
func damageOf(file, region string) cluster.Damage {
	return cluster.Damage{File: cmp.Or(file, cluster.DamageLog), Region: cmp.Or(region, cluster.DamageTail)}
}

// shorthands are names that stand for a kind with a parameter set.
var shorthands = map[string]Spec{
	"kill-random":      {Kind: fault.Kill, Target: TargetOne},
	"kill-leader":      {Kind: fault.Kill, Target: TargetLeader},
	"pause-leader":     {Kind: fault.Pause, Target: TargetLeader},
	"isolate-leader":   {Kind: fault.Partition, Grudge: GrudgeIsolate, Target: TargetLeader},
	"partition-halves": {Kind: fault.Partition, Grudge: GrudgeHalves},
}

// Targets, resolved at injection time.
const (
	TargetOne       = "one"
	TargetLeader    = "leader"
	TargetFollower  = "follower" // one follower, chosen with the seed
	TargetFollowers = "followers"
	TargetMinority  = "minority"
	TargetMajority  = "majority"
	TargetAll       = "all"
)

var targets = []string{TargetOne, TargetLeader, TargetFollower, TargetFollowers, TargetMinority, TargetMajority, TargetAll}

// Grudge shapes of the partition fault.
const (
	GrudgeIsolate        = "isolate"
	GrudgeHalves         = "halves"
	GrudgeMajoritiesRing = "majorities-ring"
	GrudgeBridge         = "bridge"
	GrudgeOneWay         = "one-way"
)

var grudges = []string{GrudgeIsolate, GrudgeHalves, GrudgeMajoritiesRing, GrudgeBridge, GrudgeOneWay}

// Clock fault modes.
const (
	ClockBump   = "bump"
	ClockStrobe = "strobe"
	ClockRate   = "rate"
)

var clockModes = []string{ClockBump, ClockStrobe, ClockRate}

// Membership changes of the reconfig fault.
const (
	ChangeRemove   = "remove"
	ChangeObserver = "observer"
	ChangeGrow     = "grow"
)

var changes = []string{ChangeRemove, ChangeObserver, ChangeGrow}

// Disk operations a disk-error fails.
const (
	OpsWrites = "writes"
	OpsFsyncs = "fsyncs"
	OpsBoth   = "both"
)

var diskOps = []string{OpsWrites, OpsFsyncs, OpsBoth}

// reconfigTargets are the targets of reconfig's remove and observer: one
// voter leaves at a time.
var reconfigTargets = []string{TargetOne, TargetLeader, TargetFollower}

// maxClockRate bounds how fast a shifted clock runs: a thousand times real
// time already crosses a session timeout within milliseconds.
const maxClockRate = 1000

// FieldProblem is a problem with one parameter of a Spec.
type FieldProblem struct {
	// Field is the parameter's name, e.g. "grudge".
	Field string
	// Msg says what is wrong.
	Msg string
}

// Resolved expands a shorthand name and fills every parameter the kind
// uses and the scenario left out.
func (s Spec) Resolved() Spec {
	if sh, ok := shorthands[string(s.Kind)]; ok {
		// Every parameter given is kept, so that Validate rejects those
		// the kind does not take.
		s.Kind = sh.Kind
		s.Target = cmp.Or(s.Target, sh.Target)
		s.Grudge = cmp.Or(s.Grudge, sh.Grudge)
	}
	switch s.Kind {
	case fault.Kill, fault.Pause, fault.Clients, fault.PowerLoss, fault.DiskFull, fault.Wipe:
		s.Target = cmp.Or(s.Target, TargetOne)
	case fault.FsyncDelay, fault.WriteDelay:
		s.Target = cmp.Or(s.Target, TargetOne)
		if s.Delay == 0 && s.Jitter == 0 {
			s.Delay = 50 * time.Millisecond
		}
	case fault.DiskError:
		s.Target = cmp.Or(s.Target, TargetOne)
		s.Ops = cmp.Or(s.Ops, OpsBoth)
		if s.Share == 0 {
			s.Share = 1
		}
	case fault.Corrupt:
		s.Target = cmp.Or(s.Target, TargetOne)
		d := damageOf(s.File, s.Region)
		s.File, s.Region = d.File, d.Region
	case fault.Reconfig:
		s.Change = cmp.Or(s.Change, ChangeRemove)
		if s.Change != ChangeGrow {
			s.Target = cmp.Or(s.Target, TargetOne)
		}
	case fault.Partition:
		s.Grudge = cmp.Or(s.Grudge, GrudgeHalves)
		s.Mode = cmp.Or(s.Mode, "reset")
		if s.Grudge == GrudgeIsolate || s.Grudge == GrudgeOneWay {
			s.Target = cmp.Or(s.Target, TargetOne)
		}
	case fault.Link:
		s.Target = cmp.Or(s.Target, TargetAll)
		if s.Delay == 0 && s.Loss == 0 {
			s.Delay = 50 * time.Millisecond
		}
	case fault.Clock:
		s.Target = cmp.Or(s.Target, TargetOne)
		s.Clock = cmp.Or(s.Clock, ClockBump)
		if s.Delta == 0 && s.Clock != ClockRate {
			s.Delta = 30 * time.Second
		}
		if s.Clock == ClockStrobe && s.Period == 0 {
			s.Period = time.Second
		}
		if s.Clock == ClockRate && s.Rate == 0 {
			s.Rate = 2
		}
	}
	return s
}

// Validate checks a resolved Spec: a known kind, and for it only parameters
// it reads, each with a possible value.
func (s Spec) Validate() []FieldProblem {
	var out []FieldProblem
	bad := func(field, format string, args ...any) {
		out = append(out, FieldProblem{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	info, ok := fault.Of(s.Kind)
	if !ok {
		bad("name", "unknown fault %q (kinds: %s; shorthands: %s)", s.Kind,
			strings.Join(fault.Kinds(), ", "), strings.Join(slices.Sorted(maps.Keys(shorthands)), ", "))
		return out
	}
	allowed := info.Params
	set := map[string]bool{
		"target": s.Target != "", "grudge": s.Grudge != "", "mode": s.Mode != "",
		"delay": s.Delay != 0, "jitter": s.Jitter != 0, "loss": s.Loss != 0,
		"clock": s.Clock != "", "delta": s.Delta != 0, "period": s.Period != 0, "rate": s.Rate != 0,
		"to": s.To != "", "change": s.Change != "",
		"share": s.Share != 0, "ops": s.Ops != "", "free": s.Free != 0, "file": s.File != "", "region": s.Region != "",
	}
	for _, f := range slices.Sorted(maps.Keys(set)) {
		if set[f] && !slices.Contains(allowed, f) {
			bad(f, "does not apply to %s faults (it takes: %s)", s.Kind, strings.Join(allowed, ", "))
		}
	}
	oneOf := func(field, v string, values []string) {
		if v != "" && !slices.Contains(values, v) {
			bad(field, "%q is not one of: %s", v, strings.Join(values, ", "))
		}
	}
	oneOf("target", s.Target, targets)
	oneOf("grudge", s.Grudge, grudges)
	oneOf("mode", s.Mode, []string{"reset", "hang"})
	oneOf("clock", s.Clock, clockModes)
	oneOf("change", s.Change, changes)
	oneOf("ops", s.Ops, diskOps)
	if s.Share < 0 || s.Share > 1 {
		bad("share", "must be between 0 and 1, got %g", s.Share)
	}
	if s.Free < 0 {
		bad("free", "must not be negative, got %d", s.Free)
	}
	oneOf("file", s.File, damageFiles)
	oneOf("region", s.Region, damageRegions)
	if s.Kind == fault.Reconfig && s.Change == ChangeGrow && s.Target != "" {
		bad("target", "does not apply to a grow: every spare joins")
	} else if s.Kind == fault.Reconfig && s.Target != "" && !slices.Contains(reconfigTargets, s.Target) {
		bad("target", "%q: a reconfig changes one voter: %s", s.Target, strings.Join(reconfigTargets, ", "))
	}
	if s.Delay < 0 || s.Jitter < 0 || s.Period < 0 {
		bad("delay", "durations must not be negative")
	}
	if s.Loss < 0 || s.Loss > 1 {
		bad("loss", "must be between 0 and 1, got %g", s.Loss)
	}
	if s.Rate < 0 {
		bad("rate", "must be positive, got %g", s.Rate)
	}
	if s.Rate > maxClockRate {
		bad("rate", "must be at most %g, got %g", float64(maxClockRate), s.Rate)
	}
	if s.Kind == fault.Partition && s.Target != "" && s.Grudge != GrudgeIsolate && s.Grudge != GrudgeOneWay {
		bad("target", "applies only to the isolate and one-way grudges")
	}
	if s.Kind == fault.Clock && s.Clock == ClockStrobe && s.Period > 0 && s.Period < 10*time.Millisecond {
		bad("period", "must be at least 10ms, got %s", s.Period)
	}
	if s.Kind == fault.Upgrade || s.Kind == fault.Rollback {
		if s.To == "" {
			bad("to", `is required: the distribution to restart every node on, e.g. "debian=3.8.0-11+deb12u2" `+
				"or the path of an unpacked ZooKeeper release")
		} else if err := cluster.CheckDistributionName(s.To); err != nil {
			bad("to", "%v", err)
		}
	}
	return out
}

// Label names the fault for records and reports, e.g. "kill leader" or
// "partition halves (hang)".
func (s Spec) Label() string {
	switch s.Kind {
	case fault.Partition:
		l := "partition " + s.Grudge
		if s.Target != "" {
			l += " " + s.Target
		}
		return l + " (" + s.Mode + ")"
	case fault.Clock:
		if s.Clock == ClockRate {
			return fmt.Sprintf("clock rate x%g %s", s.Rate, s.Target)
		}
		sign := ""
		if s.Delta > 0 {
			sign = "+"
		}
		return fmt.Sprintf("clock %s %s%s %s", s.Clock, sign, s.Delta, s.Target)
	case fault.Link:
		l := "link " + s.Target
		if s.Delay > 0 || s.Jitter > 0 {
			l += fmt.Sprintf(" delay %s±%s", s.Delay, s.Jitter)
		}
		if s.Loss > 0 {
			l += fmt.Sprintf(" loss %g", s.Loss)
		}
		return l
	case fault.FsyncDelay, fault.WriteDelay:
		return fmt.Sprintf("%s %s %s±%s", s.Kind, s.Target, s.Delay, s.Jitter)
	case fault.DiskError:
		return fmt.Sprintf("disk-error %s %s %g", s.Target, s.Ops, s.Share)
	case fault.DiskFull:
		return fmt.Sprintf("disk-full %s free %d", s.Target, s.Free)
	case fault.Upgrade, fault.Rollback:
		return string(s.Kind) + " to " + s.To
	case fault.Reconfig:
		return strings.TrimSpace("reconfig " + s.Change + " " + s.Target)
	case fault.Corrupt:
		return fmt.Sprintf("corrupt %s %s %s", s.File, s.Region, s.Target)
	default:
		return string(s.Kind) + " " + s.Target
	}
}

// needs is the capability a resolved Spec asks of the cluster: its kind's,
// or cluster.CapClockRate for a clock that changes its rate.
func (s Spec) needs() cluster.Capability {
	if s.Kind == fault.Clock && s.Clock == ClockRate {
		return cluster.CapClockRate
	}
	info, _ := fault.Of(s.Kind)
	return info.Needs
}
