package scenarios

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/zkchaos/zkchaos/cluster/k8s"
	"github.com/zkchaos/zkchaos/deploy"
)

// validateKubernetes checks the kubernetes section of a resolved scenario
// with validate's check and oneOf.
func validateKubernetes(k *Kubernetes, check func(ok bool, path, format string, args ...any),
	oneOf func(v, path string, allowed []string)) {
	const base = "cluster.kubernetes."
	oneOf(k.Connect, base+"connect", k8s.ConnectModes)
	kills := make([]string, len(k8s.KillActions))
	for i, a := range k8s.KillActions {
		kills[i] = string(a)
	}
	oneOf(k.Kill, base+"kill", kills)
	check(k.InjectTimeout > 0, base+"inject-timeout", "must be positive, got %s", k.InjectTimeout)
	check(k.ClientPort >= 1 && k.ClientPort <= 65535, base+"client-port", "must be a TCP port (1-65535), got %d", k.ClientPort)
	if k.Selector != "" {
		_, err := labels.Parse(k.Selector)
		check(err == nil, base+"selector", "is not a label selector: %v", err)
	}
	if k.Namespace != "" {
		msgs := validation.IsDNS1123Label(k.Namespace)
		check(len(msgs) == 0, base+"namespace", "%q is not a namespace name: %s", k.Namespace, strings.Join(msgs, "; "))
	}
	if d := k.Deploy; d != nil {
		check(k.Selector == "", base+"selector", "must be left out with deploy: the harness selects the pods it deployed")
		err := deploy.CheckName(d.Name)
		check(err == nil, base+"deploy.name", "%q cannot name a StatefulSet: %v", d.Name, err)
		err = deploy.CheckImage(d.Image)
		check(err == nil, base+"deploy.image", "must be a container image reference: %v", err)
	}
}

// KubernetesConfig is the kubernetes backend's configuration for a
// scenario; kubeconfig, when not empty, overrides the scenario's (the run
// command's --kubeconfig).
func (s *Scenario) KubernetesConfig(kubeconfig, run string) (k8s.Config, error) {
	k := s.Cluster.Kubernetes
	if s.Cluster.Backend != BackendKubernetes || k == nil {
		return k8s.Config{}, fmt.Errorf("scenario %s does not use the kubernetes backend", s.Name)
	}
	cfg := k8s.Config{
		Kubeconfig: k.Kubeconfig, Context: k.Context, Namespace: k.Namespace, Selector: k.Selector,
		Nodes: s.Cluster.Nodes, ClientPort: k.ClientPort, Container: k.Container, Connect: k.Connect,
		Kill: k8s.KillAction(k.Kill), InjectTimeout: k.InjectTimeout, Run: run,
	}
	if kubeconfig != "" {
		cfg.Kubeconfig = kubeconfig
	}
	if k.Deploy != nil {
		cfg.Deploy = &k8s.Deployment{Name: k.Deploy.Name, Image: k.Deploy.Image}
	}
	return cfg, nil
}
