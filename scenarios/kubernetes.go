package scenarios

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/zkchaos/zkchaos/cluster/k8s"
)

// validateKubernetes checks the kubernetes section of a resolved scenario.
func validateKubernetes(k *Kubernetes, at func(path, format string, args ...any) error) []error {
	var errs []error
	check := func(ok bool, path, format string, args ...any) {
		if !ok {
			errs = append(errs, at(path, format, args...))
		}
	}
	const base = "cluster.kubernetes."
	check(slices.Contains(k8s.ConnectModes, k.Connect), base+"connect", "%q is not one of: %s", k.Connect, strings.Join(k8s.ConnectModes, ", "))
	kills := make([]string, len(k8s.KillActions))
	for i, a := range k8s.KillActions {
		kills[i] = string(a)
	}
	check(slices.Contains(kills, k.Kill), base+"kill", "%q is not one of: %s", k.Kill, strings.Join(kills, ", "))
	check(k.InjectTimeout > 0, base+"inject-timeout", "must be positive, got %s", k.InjectTimeout)
	check(k.ClientPort >= 1 && k.ClientPort <= 65535, base+"client-port", "must be a TCP port (1-65535), got %d", k.ClientPort)
	if k.Selector != "" {
		if _, err := labels.Parse(k.Selector); err != nil {
			errs = append(errs, at(base+"selector", "is not a label selector: %v", err))
		}
	}
	if k.Namespace != "" {
		for _, msg := range validation.IsDNS1123Label(k.Namespace) {
			errs = append(errs, at(base+"namespace", "%q is not a namespace name: %s", k.Namespace, msg))
		}
	}
	if d := k.Deploy; d != nil {
		check(k.Selector == "", base+"selector", "must be left out with deploy: the harness selects the pods it deployed")
		for _, msg := range validation.IsDNS1123Label(d.Name) {
			errs = append(errs, at(base+"deploy.name", "%q cannot name a StatefulSet: %s", d.Name, msg))
		}
		check(d.Image != "" && !strings.ContainsAny(d.Image, " \t\n"), base+"deploy.image", "must be a container image reference, got %q", d.Image)
	}
	return errs
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
