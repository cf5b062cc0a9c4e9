// Package k8s runs the harness against a ZooKeeper ensemble in Kubernetes:
// it finds the ensemble's pods by namespace and label selector (or deploys
// the shipped StatefulSet), reaches each server in-cluster or through a
// port-forward of its own, and injects faults as Chaos Mesh objects created
// with controller-runtime's client. Every object carries the harness's
// labels, so healing, and `zkchaos heal --kubernetes` after a crash, find
// and delete them.
package k8s

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Connect modes: how the harness reaches the ZooKeeper servers.
const (
	// ConnectAuto is ConnectInCluster when the harness runs in a pod, and
	// ConnectPortForward otherwise.
	ConnectAuto = "auto"
	// ConnectInCluster dials the pods' addresses directly.
	ConnectInCluster = "in-cluster"
	// ConnectPortForward dials a loopback port per pod that the harness
	// forwards to the pod's client port through the API server.
	ConnectPortForward = "port-forward"
)

// ConnectModes lists the valid connect modes, for scenario validation.
var ConnectModes = []string{ConnectAuto, ConnectInCluster, ConnectPortForward}

// Config says which ensemble to test and how.
type Config struct {
	// Kubeconfig is the kubeconfig file; empty means KUBECONFIG, then
	// ~/.kube/config, then the in-cluster service account, as kubectl
	// resolves it.
	Kubeconfig string
	// Context is the kubeconfig context; empty means the current one.
	Context string
	// Namespace holds the ensemble and the chaos objects; empty means the
	// context's namespace, or the pod's own in-cluster.
	Namespace string
	// Selector is the label selector of the ZooKeeper pods.
	Selector string
	// Nodes is how many pods the ensemble must have.
	Nodes int
	// ClientPort is the servers' client port (default 2181).
	ClientPort int
	// Container is the ZooKeeper container's name, for container-kill
	// (default: the pod's first container).
	Container string
	// Connect is a connect mode (default ConnectAuto).
	Connect string
	// Kill is how kill faults take pods down (default KillAuto).
	Kill KillAction
	// Deploy, when set, deploys the ensemble before the run and removes it
	// afterwards.
	Deploy *Deployment
	// InjectTimeout bounds the wait for Chaos Mesh to report a fault in
	// force on every pod it selects (default 30s).
	InjectTimeout time.Duration
	// Run names the run; chaos objects carry it in RunLabel.
	Run string
	// Logger receives the backend's structured log.
	Logger *slog.Logger
}

// Deployment is the ensemble the harness deploys itself from the shipped
// manifests.
type Deployment struct {
	// Name names the StatefulSet and its Services.
	Name string
	// Image is the ZooKeeper container image.
	Image string
}

// withDefaults fills in defaults and checks the fields.
func (c Config) withDefaults() (Config, error) {
	if c.ClientPort == 0 {
		c.ClientPort = 2181
	}
	if c.Connect == "" {
		c.Connect = ConnectAuto
	}
	if c.Kill == "" {
		c.Kill = KillAuto
	}
	if c.InjectTimeout == 0 {
		c.InjectTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Run = RunLabelValue(c.Run)
	var errs []error
	if !slices.Contains(ConnectModes, c.Connect) {
		errs = append(errs, fmt.Errorf("connect %q: want one of %v", c.Connect, ConnectModes))
	}
	if !slices.Contains(KillActions, c.Kill) {
		errs = append(errs, fmt.Errorf("kill %q: want one of %v", c.Kill, KillActions))
	}
	if c.Selector == "" && c.Deploy == nil {
		errs = append(errs, errors.New("selector is empty: give the label selector of the ZooKeeper pods, or deploy the ensemble"))
	} else if c.Selector != "" {
		if _, err := labels.Parse(c.Selector); err != nil {
			errs = append(errs, fmt.Errorf("selector %q: %w", c.Selector, err))
		}
	}
	if c.Nodes < 1 {
		errs = append(errs, fmt.Errorf("nodes is %d, want at least 1", c.Nodes))
	}
	if c.ClientPort < 1 || c.ClientPort > 65535 {
		errs = append(errs, fmt.Errorf("client port %d is not a TCP port", c.ClientPort))
	}
	return c, errors.Join(errs...)
}

// RESTConfig resolves the API server's address and credentials as kubectl
// does: the kubeconfig file given, else KUBECONFIG, else ~/.kube/config,
// else the pod's service account. It also returns the namespace to use when
// none is configured: the context's, or the pod's own.
func RESTConfig(kubeconfig, context string) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: context}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kubernetes client configuration (kubeconfig %q, context %q): %w", kubeconfig, context, err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("kubernetes namespace from kubeconfig: %w", err)
	}
	return cfg, ns, nil
}

// inCluster reports whether the harness runs inside a pod.
func inCluster() bool {
	return os.Getenv("KUBERNETES_SERVICE_HOST") != "" && os.Getenv("KUBERNETES_SERVICE_PORT") != ""
}
