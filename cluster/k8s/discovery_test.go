package k8s

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
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
	assert.Equal(t, []string{"timechaos"}, missing)
}

func TestFaultsThatNeedAMissingResourceAreUnavailable(t *testing.T) {
	e := &Ensemble{missing: []string{"networkchaos", "timechaos"}}
	assert.NoError(t, e.Unavailable("kill"), "kills fall back to a plain pod delete")
	assert.ErrorContains(t, e.Unavailable("partition"), "the API server does not serve networkchaos.chaos-mesh.org")
	assert.ErrorContains(t, e.Unavailable("link"), "networkchaos")
	assert.ErrorContains(t, e.Unavailable("clock"), "timechaos")
	for _, kind := range []string{"pause", "clients", "upgrade", "rollback", "clock-rate"} {
		assert.ErrorContains(t, e.Unavailable(kind), "kubernetes backend cannot", kind)
	}
	assert.NoError(t, (&Ensemble{}).Unavailable("partition"), "with Chaos Mesh, partitions are available")
}
