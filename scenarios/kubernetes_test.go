package scenarios

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster/k8s"
)

func TestKubernetesDefaults(t *testing.T) {
	s, err := Parse("k.yaml", "k", []byte("cluster:\n  backend: kubernetes\n  kubernetes:\n    namespace: zkchaos\n"))
	require.NoError(t, err)
	sec := s.Cluster.Section.(*k8s.Section)
	k := sec.Kubernetes
	require.NotNil(t, k)
	assert.Equal(t, "zkchaos", k.Namespace)
	assert.Equal(t, "app.kubernetes.io/name=zookeeper", k.Selector)
	assert.Equal(t, 2181, k.ClientPort)
	assert.Equal(t, "auto", k.Connect)
	assert.Equal(t, "auto", k.Kill)
	assert.Equal(t, 30*time.Second, k.InjectTimeout)
	assert.Equal(t, 5*time.Minute, s.Cluster.StartTimeout)
	assert.Empty(t, s.Cluster.Section.DistributionName(), "the StatefulSet chooses the servers' build")

	cfg := sec.Config(s.Cluster.Nodes, "20261204T150000-k")
	assert.Empty(t, cfg.Kubeconfig, "KUBECONFIG and the usual places decide")
	assert.Equal(t, k8s.KillAuto, cfg.Kill)
	assert.Equal(t, 3, cfg.Nodes)
	assert.Equal(t, 30*time.Second, cfg.InjectTimeout)
	assert.Nil(t, cfg.Deploy)
}

func TestKubernetesDeployDefaults(t *testing.T) {
	s, err := Parse("k.yaml", "k", []byte("cluster:\n  backend: kubernetes\n  nodes: 5\n  kubernetes:\n    deploy: {}\n"))
	require.NoError(t, err)
	k := s.Cluster.Section.(*k8s.Section).Kubernetes
	d := k.Deploy
	require.NotNil(t, d)
	assert.Equal(t, "zk", d.Name)
	assert.Equal(t, "zookeeper:3.8.0", d.Image)
	assert.Empty(t, k.Selector, "with deploy the harness selects what it deployed")
	cfg := s.Cluster.Section.(*k8s.Section).Config(s.Cluster.Nodes, "r")
	assert.Equal(t, &k8s.Deployment{Name: "zk", Image: "zookeeper:3.8.0"}, cfg.Deploy)
	assert.Equal(t, 5, cfg.Nodes)
}

func TestKubernetesBadInputNamesLineAndField(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"bad kill", "cluster:\n  backend: kubernetes\n  kubernetes:\n    kill: shoot\n",
			`k.yaml:4: field cluster.kubernetes.kill: "shoot" is not one of: auto, pod-failure, pod-kill, container-kill, delete`},
		{"bad connect", "cluster:\n  backend: kubernetes\n  kubernetes:\n    connect: telepathy\n",
			`k.yaml:4: field cluster.kubernetes.connect: "telepathy" is not one of: auto, in-cluster, port-forward`},
		{"bad selector", "cluster:\n  backend: kubernetes\n  kubernetes:\n    selector: 'app in (zk'\n",
			"k.yaml:4: field cluster.kubernetes.selector: is not a label selector"},
		{"bad namespace", "cluster:\n  backend: kubernetes\n  kubernetes:\n    namespace: Zoo_Keeper\n",
			`k.yaml:4: field cluster.kubernetes.namespace: "Zoo_Keeper" is not a namespace name`},
		{"bad port", "cluster:\n  backend: kubernetes\n  kubernetes:\n    client-port: 70000\n",
			"k.yaml:4: field cluster.kubernetes.client-port: must be a TCP port"},
		{"selector with deploy", "cluster:\n  backend: kubernetes\n  kubernetes:\n    selector: a=b\n    deploy: {name: zk}\n",
			"k.yaml:4: field cluster.kubernetes.selector: must be left out with deploy"},
		{"bad deploy name", "cluster:\n  backend: kubernetes\n  kubernetes:\n    deploy:\n      name: ZK!\n",
			`k.yaml:5: field cluster.kubernetes.deploy.name: "ZK!" cannot name a StatefulSet`},
		{"zero inject timeout", "cluster:\n  backend: kubernetes\n  kubernetes:\n    inject-timeout: 0s\n",
			"k.yaml:4: field cluster.kubernetes.inject-timeout: must be positive"},
		{"deploy name a Service cannot take", "cluster:\n  backend: kubernetes\n  kubernetes:\n    deploy:\n      name: 1zk\n",
			`k.yaml:5: field cluster.kubernetes.deploy.name: "1zk" cannot name a StatefulSet`},
		{"unknown field", "cluster:\n  backend: kubernetes\n  kubernetes:\n    namespaces: x\n",
			"k.yaml:4: field cluster.kubernetes.namespaces: unknown field"},
		{"local field on kubernetes", "cluster:\n  backend: kubernetes\n  tick-time: 200ms\n",
			"k.yaml:3: field cluster.tick-time: does not apply to the kubernetes backend"},
		{"kubernetes section on local", "cluster:\n  kubernetes:\n    namespace: x\n",
			"k.yaml:3: field cluster.kubernetes: applies only to the kubernetes backend"},
		{"unknown backend", "cluster:\n  backend: nomad\n",
			`k.yaml:2: field cluster.backend: "nomad" is not one of: kubernetes, local`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("k.yaml", "k", []byte(tc.yaml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestShippedKubernetesScenarioLoads(t *testing.T) {
	s, err := Load("k8s-register-partition.yaml")
	require.NoError(t, err)
	assert.Equal(t, k8s.BackendName, s.Cluster.Backend)
	require.NotNil(t, s.Cluster.Section.(*k8s.Section).Kubernetes)
}

func TestResolvedKubernetesScenarioLoadsAgain(t *testing.T) {
	assertRoundTrips(t, "k8s-register-partition.yaml")
}
