package local

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/cluster"
)

// Defaults applied by Start to a zero Config field.
const (
	// DefaultNodes is the ensemble size.
	DefaultNodes = 3
	// DefaultTickTime is ZooKeeper's basic time unit.
	DefaultTickTime = 500 * time.Millisecond
	// DefaultInitLimit is initLimit, in ticks (10 s at the default tick).
	DefaultInitLimit = 20
	// DefaultSyncLimit is syncLimit, in ticks (5 s at the default tick).
	DefaultSyncLimit = 10
	// DefaultMaxSessionTimeout is maxSessionTimeout: the server's default
	// (20 ticks, 10 s at the default tick) would cut 30 s client sessions.
	DefaultMaxSessionTimeout = 60 * time.Second
	// DefaultStartTimeout bounds how long Start waits for a healthy ensemble.
	DefaultStartTimeout = 60 * time.Second
	// DefaultPreAllocSize is preAllocSize in KiB: small transaction log files.
	DefaultPreAllocSize = 1024
)

// DefaultJVMFlags returns the JVM flags used when Config.JVMFlags is empty: a
// small heap and the serial collector keep a node near 100 MB; no perf data
// file (which SIGKILL would leave behind in /tmp) and C1-only compilation
// make start-up faster on a small machine.
func DefaultJVMFlags() []string {
	return []string{
		"-Xms32m", "-Xmx256m", "-XX:+UseSerialGC",
		"-Xshare:auto", "-XX:-UsePerfData", "-XX:TieredStopAtLevel=1",
	}
}

// Config describes an ensemble to start.
type Config struct {
	// Dir is the run directory; node n gets Dir/nodes/n<ID>/ with zoo.cfg,
	// data/, zookeeper.log and the log configuration. Required; Dir/nodes
	// must not exist yet or be empty.
	Dir string
	// Nodes is the ensemble size (default 3).
	Nodes int
	// Distribution is "" or "debian" for the installed Debian package,
	// "debian=VERSION" for another version of it (fetched once into
	// CacheDir), otherwise the path of an unpacked release (see
	// FindDistribution). Every node starts on it; Restart moves one node to
	// another.
	Distribution string
	// TickTime is zoo.cfg tickTime (default 500ms, whole milliseconds).
	TickTime time.Duration
	// InitLimit is zoo.cfg initLimit in ticks (default 20).
	InitLimit int
	// SyncLimit is zoo.cfg syncLimit in ticks (default 10).
	SyncLimit int
	// ForceSync is zoo.cfg forceSync (and, when false, the system property
	// zookeeper.forceSync=no): fsync the transaction log before
	// acknowledging. Without it a killed process still loses nothing (the
	// page cache survives SIGKILL), only a power loss (Disk) does.
	ForceSync bool
	// MaxSessionTimeout is zoo.cfg maxSessionTimeout (default 60s).
	MaxSessionTimeout time.Duration
	// ExtraConfig adds or overrides zoo.cfg lines, except the ones that
	// define the node and the ensemble (dataDir, clientPort,
	// clientPortAddress, server.N).
	ExtraConfig map[string]string
	// JVMFlags are the JVM's tuning flags (default DefaultJVMFlags()).
	JVMFlags []string
	// NodeJVMFlags, when set, adds flags for one node; it is called at every
	// start of that node, e.g. for a SOCKS proxy per node.
	NodeJVMFlags func(node cluster.Node) []string
	// NodeEnv, when set, adds environment variables (KEY=VALUE) for one node;
	// it is called at every start of that node, e.g. for libfaketime.
	NodeEnv func(node cluster.Node) []string
	// Clock runs every node under libfaketime (apt packages faketime and
	// libfaketime) so that SetClock can shift its clock while it runs (see
	// clock.go). The ensemble starts on real time; a restarted node keeps
	// its skew. Start fails when libfaketime is missing. It costs about half
	// the write throughput: libfaketime reads the shift at every clock call.
	Clock bool
	// Partitions starts a SOCKS5 proxy per node (package linkproxy) that
	// carries every connection the node opens to its peers, so that
	// Partition, Shape and IsolateClients can cut and degrade links.
	Partitions bool
	// Reconfig starts the servers with reconfigEnabled=true and their
	// ensemble in a dynamic configuration file, so that SetMembership can
	// change it (reconfig.go).
	Reconfig bool
	// Spares is how many servers beyond Nodes are prepared (ports,
	// directories, link proxies) to join the ensemble through
	// SetMembership; they start only then. It needs Reconfig.
	Spares int
	// Disk mounts a diskfs (package diskfs) over every node's data
	// directory, so that PowerLoss can drop what the node had not synced.
	// Start fails when FUSE cannot mount here.
	Disk bool
	// StartTimeout bounds how long Start waits for the ensemble to be
	// healthy (default 60s).
	StartTimeout time.Duration
	// Logger receives the ensemble's events (default: discard).
	Logger *slog.Logger
}

// reservedKeys are zoo.cfg keys that ExtraConfig may not set.
var reservedKeys = map[string]bool{
	"dataDir": true, "dataLogDir": true, "clientPort": true, "clientPortAddress": true,
	"secureClientPort": true, "dynamicConfigFile": true,
}

// withDefaults validates c and fills in its zero fields.
func (c Config) withDefaults() (Config, error) {
	if c.Dir == "" {
		return c, errors.New("config: Dir (the run directory) is required")
	}
	abs, err := filepath.Abs(c.Dir)
	if err != nil {
		return c, fmt.Errorf("config: run directory %q: %w", c.Dir, err)
	}
	c.Dir = abs
	if strings.ContainsAny(c.Dir, "\n\r\\") {
		return c, fmt.Errorf("config: run directory %q must not contain a newline or a backslash", c.Dir)
	}
	if c.Nodes == 0 {
		c.Nodes = DefaultNodes
	}
	if c.Nodes < 1 || c.Nodes > 255 {
		return c, fmt.Errorf("config: %d nodes: want 1 to 255", c.Nodes)
	}
	if c.Spares < 0 || c.Nodes+c.Spares > 255 || (c.Spares > 0 && !c.Reconfig) {
		return c, fmt.Errorf("config: %d spares: want 0 to %d, and only with Reconfig", c.Spares, 255-c.Nodes)
	}
	if c.TickTime == 0 {
		c.TickTime = DefaultTickTime
	}
	if c.TickTime < time.Millisecond || c.TickTime%time.Millisecond != 0 {
		return c, fmt.Errorf("config: tick time %v: want a whole number of milliseconds", c.TickTime)
	}
	if c.InitLimit == 0 {
		c.InitLimit = DefaultInitLimit
	}
	if c.SyncLimit == 0 {
		c.SyncLimit = DefaultSyncLimit
	}
	if c.InitLimit < 1 || c.SyncLimit < 1 {
		return c, fmt.Errorf("config: initLimit %d, syncLimit %d: want at least 1 tick each", c.InitLimit, c.SyncLimit)
	}
	if c.MaxSessionTimeout == 0 {
		c.MaxSessionTimeout = DefaultMaxSessionTimeout
	}
	if c.MaxSessionTimeout < 2*c.TickTime {
		return c, fmt.Errorf("config: max session timeout %v is below two ticks (%v)", c.MaxSessionTimeout, 2*c.TickTime)
	}
	for k, v := range c.ExtraConfig {
		if reservedKeys[k] || strings.HasPrefix(k, "server.") {
			return c, fmt.Errorf("config: zoo.cfg key %q is set by the ensemble and cannot be overridden", k)
		}
		if k == "" || strings.ContainsAny(k, "=:\n\r ") || strings.ContainsAny(v, "\n\r") {
			return c, fmt.Errorf("config: invalid zoo.cfg line %q=%q", k, v)
		}
	}
	if len(c.JVMFlags) == 0 {
		c.JVMFlags = DefaultJVMFlags()
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// peer is what zoo.cfg says about one server of the ensemble.
type peer struct {
	id                                int
	clientPort, quorumPort, electPort int
}

// renderZooCfg returns node self's zoo.cfg for the ensemble peers.
func renderZooCfg(c Config, self peer, dataDir string, peers []peer) string {
	type kv struct{ k, v string }
	lines := []kv{
		{"tickTime", strconv.FormatInt(c.TickTime.Milliseconds(), 10)},
		{"initLimit", strconv.Itoa(c.InitLimit)},
		{"syncLimit", strconv.Itoa(c.SyncLimit)},
		{"dataDir", dataDir},
		{"clientPort", strconv.Itoa(self.clientPort)},
		{"clientPortAddress", loopback},
		{"maxClientCnxns", "0"},
		{"maxSessionTimeout", strconv.FormatInt(c.MaxSessionTimeout.Milliseconds(), 10)},
		{"forceSync", yesNo(c.ForceSync)},
		{"preAllocSize", strconv.Itoa(DefaultPreAllocSize)},
		{"4lw.commands.whitelist", "*"},
		{"admin.enableServer", "false"},
		{"standaloneEnabled", "false"},
		{"reconfigEnabled", strconv.FormatBool(c.Reconfig)},
	}
	extra := make([]string, 0, len(c.ExtraConfig))
	for k := range c.ExtraConfig {
		extra = append(extra, k)
	}
	sort.Strings(extra)
	for _, k := range extra {
		replaced := false
		for i := range lines {
			if lines[i].k == k {
				lines[i].v = c.ExtraConfig[k]
				replaced = true
			}
		}
		if !replaced {
			lines = append(lines, kv{k, c.ExtraConfig[k]})
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by zkchaos for server %d of %d. Every address is loopback.\n", self.id, len(peers))
	for _, l := range lines {
		fmt.Fprintf(&b, "%s=%s\n", l.k, l.v)
	}
	if c.Reconfig {
		// The ensemble lives in the dynamic file, which the servers rewrite.
		fmt.Fprintf(&b, "dynamicConfigFile=%s\n", dynamicPath(dataDir))
		return b.String()
	}
	for _, p := range peers {
		fmt.Fprintf(&b, "server.%d=%s:%d:%d\n", p.id, loopback, p.quorumPort, p.electPort)
	}
	return b.String()
}

// yesNo renders a zoo.cfg boolean as forceSync expects it.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// log4jProperties configures log4j 1.2 to write to stdout, which the node's
// process writes to its zookeeper.log.
const log4jProperties = `# Written by zkchaos: everything to stdout, which goes to zookeeper.log.
log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.Target=System.out
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%c{1}] - %m%n
# One INFO line per four-letter word would flood the log: roles are polled.
log4j.logger.org.apache.zookeeper.server.NIOServerCnxn=WARN
log4j.logger.org.apache.zookeeper.server.NettyServerCnxn=WARN
`

// logbackXML configures logback the same way, for Apache 3.8+ releases.
const logbackXML = `<!-- Written by zkchaos: everything to stdout, which goes to zookeeper.log. -->
<configuration>
  <appender name="CONSOLE" class="ch.qos.logback.core.ConsoleAppender">
    <encoder>
      <pattern>%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%logger{0}] - %m%n</pattern>
    </encoder>
  </appender>
  <!-- One INFO line per four-letter word would flood the log: roles are polled. -->
  <logger name="org.apache.zookeeper.server.NIOServerCnxn" level="WARN"/>
  <logger name="org.apache.zookeeper.server.NettyServerCnxn" level="WARN"/>
  <root level="INFO">
    <appender-ref ref="CONSOLE"/>
  </root>
</configuration>
`
