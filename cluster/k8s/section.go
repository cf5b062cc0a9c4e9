package k8s

import (
	"errors"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/deploy"
)

// Section is the kubernetes backend's part of a scenario's cluster section:
// its own kubernetes: mapping.
type Section struct {
	// Kubernetes says where the ensemble is and how faults reach it.
	Kubernetes *Settings `yaml:"kubernetes,omitempty"`
}

// Settings is the kubernetes: mapping of a scenario's cluster section.
type Settings struct {
	// Kubeconfig is the kubeconfig file (default: KUBECONFIG, ~/.kube/config, then the pod's service
	// account, as kubectl resolves it).
	Kubeconfig string `yaml:"kubeconfig,omitempty"`
	// Context is the kubeconfig context (default: the current one).
	Context string `yaml:"context,omitempty"`
	// Namespace holds the ensemble and the chaos objects (default: the
	// context's namespace, or the pod's own).
	Namespace string `yaml:"namespace,omitempty"`
	// Selector is the label selector of the ZooKeeper pods (default
	// "app.kubernetes.io/name=zookeeper"; with deploy, the deployed
	// ensemble's).
	Selector string `yaml:"selector,omitempty"`
	// ClientPort is the servers' client port (default 2181).
	ClientPort int `yaml:"client-port"`
	// Container is the ZooKeeper container, for container-kill (default:
	// each pod's first container).
	Container string `yaml:"container,omitempty"`
	// Connect is how the harness reaches the servers: "in-cluster",
	// "port-forward" (one per pod, through the API server) or "auto"
	// (default: in-cluster when the harness runs in a pod).
	Connect string `yaml:"connect"`
	// Kill is how kill faults take a pod down: "pod-failure", "pod-kill",
	// "container-kill" (Chaos Mesh PodChaos actions), "delete" (a plain pod
	// delete, no Chaos Mesh needed) or "auto" (default: pod-failure when
	// Chaos Mesh is installed, delete otherwise).
	Kill string `yaml:"kill"`
	// InjectTimeout bounds the wait for Chaos Mesh to report each fault in
	// force on every pod it selects; a fault that is not fails the run
	// (default 30s).
	InjectTimeout time.Duration `yaml:"inject-timeout"`
	// Deploy, when given, makes the harness deploy the shipped ZooKeeper
	// StatefulSet before the run and remove it afterwards.
	Deploy *DeploySettings `yaml:"deploy,omitempty"`
}

// DeploySettings is the ensemble the harness deploys itself.
type DeploySettings struct {
	// Name names the StatefulSet and its Services (default "zk").
	Name string `yaml:"name"`
	// Image is the ZooKeeper image (default "zookeeper:3.8.0").
	Image string `yaml:"image"`
}

var (
	_ cluster.Section = (*Section)(nil)
	_ cluster.Refuser = (*Section)(nil)
)

// Defaults implements cluster.Section.
func (s *Section) Defaults(given cluster.Given) {
	if s.Kubernetes == nil {
		s.Kubernetes = &Settings{}
	}
	k := s.Kubernetes
	const base = "kubernetes."
	cluster.SetDefault(given, &k.ClientPort, base+"client-port", 2181)
	cluster.SetDefault(given, &k.Connect, base+"connect", ConnectAuto)
	cluster.SetDefault(given, &k.Kill, base+"kill", string(KillAuto))
	cluster.SetDefault(given, &k.InjectTimeout, base+"inject-timeout", 30*time.Second)
	if k.Deploy != nil {
		cluster.SetDefault(given, &k.Deploy.Name, base+"deploy.name", "zk")
		cluster.SetDefault(given, &k.Deploy.Image, base+"deploy.image", "zookeeper:3.8.0")
	} else {
		cluster.SetDefault(given, &k.Selector, base+"selector", "app.kubernetes.io/name=zookeeper")
	}
}

// Validate implements cluster.Section.
func (s *Section) Validate(check cluster.Check) {
	k := s.Kubernetes
	const base = "kubernetes."
	check.OneOf(k.Connect, base+"connect", ConnectModes)
	kills := make([]string, len(KillActions))
	for i, a := range KillActions {
		kills[i] = string(a)
	}
	check.OneOf(k.Kill, base+"kill", kills)
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

// Refusal implements cluster.Refuser.
func (s *Section) Refusal() string { return "the StatefulSet configures the servers" }

// DistributionName implements cluster.Section: the StatefulSet's image, not
// the scenario, chooses the servers' build.
func (s *Section) DistributionName() string { return "" }

// errNoDistribution says why the kubernetes backend runs no distribution
// of the harness's choosing.
var errNoDistribution = errors.New("the kubernetes backend runs the image of its StatefulSet: it cannot run a distribution of the harness's choosing")

// SessionTimeouts implements cluster.Section: the servers' tick time and
// maxSessionTimeout are the StatefulSet's, unknown here.
func (s *Section) SessionTimeouts() cluster.SessionBounds { return cluster.SessionBounds{} }

// Config is the configuration of the ensemble a section describes; run
// names the run.
func (s *Section) Config(nodes int, run string) Config {
	k := s.Kubernetes
	cfg := Config{
		Kubeconfig: k.Kubeconfig, Context: k.Context, Namespace: k.Namespace, Selector: k.Selector,
		Nodes: nodes, ClientPort: k.ClientPort, Container: k.Container, Connect: k.Connect,
		Kill: KillAction(k.Kill), InjectTimeout: k.InjectTimeout, Run: run,
	}
	if k.Deploy != nil {
		cfg.Deploy = &Deployment{Name: k.Deploy.Name, Image: k.Deploy.Image}
	}
	return cfg
}
