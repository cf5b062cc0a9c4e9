package k8s

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/zkchaos/zkchaos/cluster"
)

func TestMissingChaosResources(t *testing.T) {
	cs := fake.NewClientset()
	missing, err := MissingChaosResources(cs)
	require.NoError(t, err)
	assert.Equal(t, ChaosResources, missing, "no Chaos Mesh: everything is missing")

	cs.Resources = []*metav1.APIResourceList{{GroupVersion: "chaos-mesh.org/v1alpha1", APIResources: []metav1.APIResource{
		{Name: "podchaos", Kind: "PodChaos"}, {Name: "networkchaos", Kind: "NetworkChaos"},
	}}}
	missing, err = MissingChaosResources(cs)
	require.NoError(t, err)
	assert.Equal(t, []string{"timechaos", "iochaos"}, missing)
}

func TestFaultsThatNeedAMissingResourceAreUnavailable(t *testing.T) {
	e := &Ensemble{missing: []string{"networkchaos", "timechaos", "iochaos"}}
	assert.NoError(t, e.Can(cluster.CapKill), "kills fall back to a plain pod delete")
	assert.ErrorContains(t, e.Can(cluster.CapPartition), "partition faults need Chaos Mesh, but the API server does not serve networkchaos.chaos-mesh.org")
	assert.ErrorContains(t, e.Can(cluster.CapLink), "link faults need Chaos Mesh")
	assert.ErrorContains(t, e.Can(cluster.CapClock), "clock faults need Chaos Mesh, but the API server does not serve timechaos")
	assert.ErrorContains(t, e.Can(cluster.CapDiskIO), "disk-io faults need Chaos Mesh, but the API server does not serve iochaos")
	for _, c := range []cluster.Capability{cluster.CapPause, cluster.CapClients, cluster.CapUpgrade, cluster.CapClockRate, cluster.CapDisk} {
		assert.ErrorContains(t, e.Can(c), "kubernetes backend cannot", c)
	}
	assert.NoError(t, (&Ensemble{}).Can(cluster.CapPartition), "with Chaos Mesh, partitions are available")
}
