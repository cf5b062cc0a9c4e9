package local

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigDefaults(t *testing.T) {
	c, err := Config{Dir: "relative/run"}.withDefaults()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(c.Dir, "/"), "Dir is made absolute: %s", c.Dir)
	assert.Equal(t, 3, c.Nodes)
	assert.Equal(t, 500*time.Millisecond, c.TickTime)
	assert.Equal(t, 20, c.InitLimit)
	assert.Equal(t, 10, c.SyncLimit)
	assert.Equal(t, 60*time.Second, c.MaxSessionTimeout)
	assert.Equal(t, 60*time.Second, c.StartTimeout)
	assert.Equal(t, DefaultJVMFlags(), c.JVMFlags)
	assert.Contains(t, c.JVMFlags, "-Xmx256m")
	assert.Contains(t, c.JVMFlags, "-XX:+UseSerialGC")
	assert.NotNil(t, c.Logger)
}

func TestConfigRejectsNonsense(t *testing.T) {
	for name, c := range map[string]Config{
		"no dir":             {},
		"zero-sized":         {Dir: "d", Nodes: -1},
		"sub-ms tick":        {Dir: "d", TickTime: 1500 * time.Microsecond},
		"session below tick": {Dir: "d", MaxSessionTimeout: 600 * time.Millisecond},
		"own dataDir":        {Dir: "d", ExtraConfig: map[string]string{"dataDir": "/elsewhere"}},
		"own server line":    {Dir: "d", ExtraConfig: map[string]string{"server.4": "10.0.0.1:1:2"}},
		"client address":     {Dir: "d", ExtraConfig: map[string]string{"clientPortAddress": "0.0.0.0"}},
		"newline in value":   {Dir: "d", ExtraConfig: map[string]string{"snapCount": "1\nserver.9=x"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.withDefaults()
			assert.Error(t, err)
		})
	}
}

func TestRenderZooCfg(t *testing.T) {
	c, err := Config{Dir: "/run", ForceSync: true}.withDefaults()
	require.NoError(t, err)
	peers := []peer{
		{id: 1, clientPort: 21001, quorumPort: 21002, electPort: 21003},
		{id: 2, clientPort: 21004, quorumPort: 21005, electPort: 21006},
		{id: 3, clientPort: 21007, quorumPort: 21008, electPort: 21009},
	}
	got := renderZooCfg(c, peers[1], "/run/nodes/n2/data", peers)
	want := `# Written by zkchaos for server 2 of 3. Every address is loopback.
tickTime=500
initLimit=20
syncLimit=10
dataDir=/run/nodes/n2/data
clientPort=21004
clientPortAddress=127.0.0.1
maxClientCnxns=0
maxSessionTimeout=60000
forceSync=yes
preAllocSize=1024
4lw.commands.whitelist=*
admin.enableServer=false
standaloneEnabled=false
reconfigEnabled=false
server.1=127.0.0.1:21002:21003
server.2=127.0.0.1:21005:21006
server.3=127.0.0.1:21008:21009
`
	assert.Equal(t, want, got)
}

func TestRenderZooCfgExtraConfigOverridesAndAdds(t *testing.T) {
	c, err := Config{Dir: "/run", TickTime: 2 * time.Second, ExtraConfig: map[string]string{
		"preAllocSize":            "65536",
		"snapCount":               "1000",
		"autopurge.purgeInterval": "1",
	}}.withDefaults()
	require.NoError(t, err)
	p := peer{id: 1, clientPort: 1, quorumPort: 2, electPort: 3}
	got := renderZooCfg(c, p, "/d", []peer{p})
	assert.Contains(t, got, "\ntickTime=2000\n")
	assert.Contains(t, got, "\nforceSync=no\n")
	assert.Contains(t, got, "\npreAllocSize=65536\n")
	assert.NotContains(t, got, "preAllocSize=1024")
	assert.Contains(t, got, "\nsnapCount=1000\n")
	assert.Contains(t, got, "\nautopurge.purgeInterval=1\n")
	assert.Less(t, strings.Index(got, "autopurge"), strings.Index(got, "snapCount"), "extra lines in a stable order")
}

func TestLogConfigsWriteToStdout(t *testing.T) {
	assert.Contains(t, log4jProperties, "log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender")
	assert.Contains(t, log4jProperties, "log4j.appender.CONSOLE.Target=System.out")
	assert.Contains(t, logbackXML, `class="ch.qos.logback.core.ConsoleAppender"`)
}
