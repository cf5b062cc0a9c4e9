package cluster

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCheckDistributionName(t *testing.T) {
	for _, ok := range []string{"debian", "debian=3.8.0-11+deb12u1", "debian=1:2.0~rc1-1", "/opt/apache-zookeeper-3.9.4-bin", "zk"} {
		assert.NoError(t, CheckDistributionName(ok), ok)
	}
	for _, bad := range []string{"debian=", "debian=3.8.0/../x", "debian=v3.8", "debian=3.8 0", "debian=a:3.8", "debian=3.8.0_1"} {
		assert.ErrorContains(t, CheckDistributionName(bad), "Debian package version", bad)
	}
	assert.ErrorContains(t, CheckDistributionName(""), "empty")
}

func TestDebianVersion(t *testing.T) {
	v, ok := DebianVersion("debian=3.8.0-11+deb12u2")
	assert.True(t, ok)
	assert.Equal(t, "3.8.0-11+deb12u2", v)
	_, ok = DebianVersion("debian")
	assert.False(t, ok)
	_, ok = DebianVersion("/srv/debian=3.8")
	assert.False(t, ok)
}
