package proc

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAliveSeesRunningProcessesOnly(t *testing.T) {
	assert.True(t, Alive(os.Getpid()))

	zombie := exec.Command("true")
	require.NoError(t, zombie.Start())
	// Not reaped yet: a zombie once it has exited.
	require.Eventually(t, func() bool { return !Alive(zombie.Process.Pid) }, 10*time.Second, 10*time.Millisecond, "an exited, unreaped process is not alive")
	require.NoError(t, zombie.Wait())
	assert.False(t, Alive(zombie.Process.Pid), "nor once reaped")
}
