package k8s

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/zkadmin"
	"github.com/zkchaos/zkchaos/deploy"
)

// Annotation and labels that give a pod's ZooKeeper server id (myid).
const (
	// MyIDAnnotation, when a pod has it, is the server's myid.
	MyIDAnnotation = "zkchaos.io/myid"
	// podIndexLabel is the StatefulSet ordinal Kubernetes sets on its pods;
	// myid is the ordinal plus one, as in the shipped StatefulSet.
	podIndexLabel = "apps.kubernetes.io/pod-index"
)

// ChaosResources are the Chaos Mesh resources the faults need.
var ChaosResources = []string{"podchaos", "networkchaos", "timechaos", "iochaos"}

// Scheme returns a scheme with the core, apps and Chaos Mesh types.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("kubernetes scheme: %w", err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("chaos mesh scheme: %w", err)
	}
	return s, nil
}

// Clients are the API clients of one cluster.
type Clients struct {
	// REST is the resolved configuration.
	REST *rest.Config
	// Client is controller-runtime's client, for Chaos Mesh objects.
	Client client.Client
	// Clientset is client-go's clientset, for pods and discovery.
	Clientset kubernetes.Interface
}

// NewClients builds the clients for a configuration.
func NewClients(cfg *rest.Config) (Clients, error) {
	s, err := Scheme()
	if err != nil {
		return Clients{}, err
	}
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return Clients{}, fmt.Errorf("kubernetes client: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return Clients{}, fmt.Errorf("kubernetes clientset: %w", err)
	}
	return Clients{REST: cfg, Client: c, Clientset: cs}, nil
}

// MissingChaosResources asks the API server's discovery which of
// ChaosResources it does not serve: all of them when Chaos Mesh's CRDs are
// not installed. Discovery needs no permission beyond being authenticated.
func MissingChaosResources(cs kubernetes.Interface) ([]string, error) {
	list, err := cs.Discovery().ServerResourcesForGroupVersion(v1alpha1.SchemeGroupVersion.String())
	if apierrors.IsNotFound(err) {
		return slices.Clone(ChaosResources), nil
	}
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", v1alpha1.SchemeGroupVersion, err)
	}
	var missing []string
	for _, r := range ChaosResources {
		if !slices.ContainsFunc(list.APIResources, func(a metav1.APIResource) bool { return a.Name == r }) {
			missing = append(missing, r)
		}
	}
	return missing, nil
}

// Ensemble is a ZooKeeper ensemble running in Kubernetes. It implements
// cluster.Killer, cluster.Partitioner and cluster.Clock; partitions, link
// shaping and clock shifts need Chaos Mesh.
type Ensemble struct {
	cfg       Config
	clients   Clients
	namespace string
	selector  string
	connect   string
	kill      KillAction
	missing   []string // Chaos Mesh resources the server lacks
	nodes     []cluster.Node
	pods      map[string]string // node name → pod name
	container map[string]string // node name → ZooKeeper container
	forwards  []*forward
	deployed  []client.Object

	mu         sync.Mutex
	killed     map[string]client.Object // node → its kill object (nil for a plain delete)
	partitions []client.Object
	shapes     []client.Object
	clocks     map[string]client.Object
	disks      map[string][]client.Object // node → its IOChaos objects
}

// Connect finds (or deploys) the ensemble, waits until its pods are ready
// and sets up the connections to its servers. ctx bounds the whole start.
func Connect(ctx context.Context, cfg Config) (*Ensemble, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("kubernetes cluster: %w", err)
	}
	restCfg, ns, err := RESTConfig(cfg.Kubeconfig, cfg.Context)
	if err != nil {
		return nil, err
	}
	clients, err := NewClients(restCfg)
	if err != nil {
		return nil, err
	}
	return connectWith(ctx, cfg, clients, ns)
}

// ConnectWith is Connect with clients already built, e.g. for a
// configuration that is not in a kubeconfig file.
func ConnectWith(ctx context.Context, cfg Config, clients Clients) (*Ensemble, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("kubernetes cluster: %w", err)
	}
	return connectWith(ctx, cfg, clients, "")
}

func connectWith(ctx context.Context, cfg Config, clients Clients, defaultNS string) (e *Ensemble, err error) {
	e = &Ensemble{cfg: cfg, clients: clients, namespace: cfg.Namespace, selector: cfg.Selector,
		connect: cfg.Connect, kill: cfg.Kill, killed: map[string]client.Object{}, clocks: map[string]client.Object{},
		disks: map[string][]client.Object{}}
	if e.namespace == "" {
		e.namespace = defaultNS
	}
	if e.namespace == "" {
		e.namespace = "default"
	}
	if e.connect == ConnectAuto {
		e.connect = ConnectPortForward
		if inCluster() {
			e.connect = ConnectInCluster
		}
	}
	if e.missing, err = MissingChaosResources(clients.Clientset); err != nil {
		return nil, err
	}
	if e.kill == KillAuto {
		e.kill = Delete
		if !slices.Contains(e.missing, "podchaos") {
			e.kill = PodFailure
		}
	}
	if e.kill != Delete && slices.Contains(e.missing, "podchaos") {
		return nil, fmt.Errorf("kill %s needs Chaos Mesh, but the API server does not serve %s: install Chaos Mesh or use kill: delete",
			e.kill, v1alpha1.SchemeGroupVersion.WithResource("podchaos").GroupResource())
	}
	log := cfg.Logger
	log.Info("kubernetes cluster", "host", clients.REST.Host, "namespace", e.namespace, "connect", e.connect, "kill", e.kill)
	if len(e.missing) > 0 {
		log.Warn("Chaos Mesh resources missing: faults that need them are refused; kills are plain pod deletes",
			"group", v1alpha1.SchemeGroupVersion.Group, "missing", e.missing)
	}
	defer func() {
		if err != nil {
			closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			err = errors.Join(err, e.Close(closeCtx))
			e = nil
		}
	}()
	if cfg.Deploy != nil {
		if err := e.deploy(ctx); err != nil {
			return e, err
		}
	}
	pods, err := e.waitPods(ctx)
	if err != nil {
		return e, err
	}
	if err := e.setNodes(ctx, pods); err != nil {
		return e, err
	}
	return e, nil
}

// deploy creates the shipped ensemble and remembers it for Close.
func (e *Ensemble) deploy(ctx context.Context) error {
	z := deploy.ZooKeeper{Namespace: e.namespace, Name: e.cfg.Deploy.Name, Image: e.cfg.Deploy.Image, Replicas: e.cfg.Nodes}
	objs, err := z.Objects()
	if err != nil {
		return fmt.Errorf("deploy ensemble: %w", err)
	}
	for _, o := range objs {
		labelDeployed(o, e.cfg.Run)
		if err := e.clients.Client.Create(ctx, o); err != nil {
			return fmt.Errorf("deploy ensemble: create %T %s: %w", o, o.GetName(), err)
		}
		e.deployed = append(e.deployed, o)
	}
	e.selector = z.Selector()
	e.cfg.Logger.Info("deployed ensemble", "namespace", e.namespace, "name", z.Name, "image", z.Image, "replicas", z.Replicas)
	return nil
}

// labelDeployed adds the harness's labels, with the run's, to an object of
// the deployed ensemble and to the volume claims its StatefulSet will
// create, so that `zkchaos heal --kubernetes` finds them after a crash.
func labelDeployed(o client.Object, run string) {
	add := func(l map[string]string) map[string]string {
		if l == nil {
			l = map[string]string{}
		}
		l[ManagedByLabel] = ManagedByValue
		l[RunLabel] = run
		return l
	}
	o.SetLabels(add(o.GetLabels()))
	if sts, ok := o.(*appsv1.StatefulSet); ok {
		for i := range sts.Spec.VolumeClaimTemplates {
			sts.Spec.VolumeClaimTemplates[i].Labels = add(sts.Spec.VolumeClaimTemplates[i].Labels)
		}
	}
}

// waitPods waits until the selector matches exactly the configured number
// of pods and all of them are ready.
func (e *Ensemble) waitPods(ctx context.Context) ([]corev1.Pod, error) {
	var last string
	for {
		list, err := e.clients.Clientset.CoreV1().Pods(e.namespace).List(ctx, metav1.ListOptions{LabelSelector: e.selector})
		switch {
		case err != nil:
			last = err.Error()
		case len(list.Items) != e.cfg.Nodes:
			last = fmt.Sprintf("%d pods match, want %d", len(list.Items), e.cfg.Nodes)
		default:
			var notReady []string
			for _, p := range list.Items {
				if !podReady(&p) {
					notReady = append(notReady, p.Name)
				}
			}
			if len(notReady) == 0 {
				return list.Items, nil
			}
			last = "not ready: " + strings.Join(notReady, ", ")
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("pods of %q in namespace %s: %s: %w", e.selector, e.namespace, last, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// podReady reports whether the pod runs and its Ready condition is true.
func podReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// MyID is a pod's ZooKeeper server id: its MyIDAnnotation, else its
// StatefulSet ordinal (the pod-index label, else the name's numeric suffix)
// plus one.
func MyID(p *corev1.Pod) (int, error) {
	if v, ok := p.Annotations[MyIDAnnotation]; ok {
		id, err := strconv.Atoi(v)
		if err != nil || id < 1 {
			return 0, fmt.Errorf("pod %s: annotation %s=%q is not a server id (a positive integer)", p.Name, MyIDAnnotation, v)
		}
		return id, nil
	}
	ordinal, ok := p.Labels[podIndexLabel]
	if !ok {
		i := strings.LastIndexByte(p.Name, '-')
		if i < 0 {
			return 0, fmt.Errorf("pod %s: no %s annotation, no %s label and no ordinal suffix in its name", p.Name, MyIDAnnotation, podIndexLabel)
		}
		ordinal = p.Name[i+1:]
	}
	n, err := strconv.Atoi(ordinal)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("pod %s: StatefulSet ordinal %q is not a number", p.Name, ordinal)
	}
	return n + 1, nil
}

// setNodes names the servers after their ids and sets up their addresses.
func (e *Ensemble) setNodes(ctx context.Context, pods []corev1.Pod) error {
	byID := map[int]*corev1.Pod{}
	for i := range pods {
		id, err := MyID(&pods[i])
		if err != nil {
			return err
		}
		if other, dup := byID[id]; dup {
			return fmt.Errorf("pods %s and %s both have server id %d", other.Name, pods[i].Name, id)
		}
		byID[id] = &pods[i]
	}
	ids := make([]int, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	e.pods = map[string]string{}
	e.container = map[string]string{}
	for _, id := range ids {
		p := byID[id]
		n := cluster.Node{ID: id, Name: fmt.Sprintf("n%d", id)}
		e.pods[n.Name] = p.Name
		e.container[n.Name] = e.cfg.Container
		if e.container[n.Name] == "" && len(p.Spec.Containers) > 0 {
			e.container[n.Name] = p.Spec.Containers[0].Name
		}
		switch e.connect {
		case ConnectInCluster:
			n.ClientAddr = net.JoinHostPort(podHost(p), strconv.Itoa(e.cfg.ClientPort))
		case ConnectPortForward:
			f, err := startForward(ctx, e.clients, e.namespace, p.Name, e.cfg.ClientPort, e.cfg.Logger)
			if err != nil {
				return err
			}
			e.forwards = append(e.forwards, f)
			n.ClientAddr = f.addr
		}
		e.nodes = append(e.nodes, n)
		e.cfg.Logger.Info("zookeeper pod", "node", n.Name, "pod", p.Name, "addr", n.ClientAddr)
	}
	return nil
}

// podHost is the name a pod keeps when it is recreated (hostname.subdomain
// for StatefulSet pods behind a headless Service), else its IP.
func podHost(p *corev1.Pod) string {
	if p.Spec.Hostname != "" && p.Spec.Subdomain != "" {
		return fmt.Sprintf("%s.%s.%s.svc", p.Spec.Hostname, p.Spec.Subdomain, p.Namespace)
	}
	return p.Status.PodIP
}

// Namespace is where the ensemble and the chaos objects live.
func (e *Ensemble) Namespace() string { return e.namespace }

// KillAction is how kill faults take pods down, resolved from KillAuto.
func (e *Ensemble) KillAction() KillAction { return e.kill }

// Pod names the pod of a node.
func (e *Ensemble) Pod(n cluster.Node) string { return e.pods[n.Name] }

// Nodes lists the servers in myid order.
func (e *Ensemble) Nodes() []cluster.Node { return slices.Clone(e.nodes) }

// Roles asks every server for its role with srvr, in parallel.
func (e *Ensemble) Roles(ctx context.Context) map[string]cluster.Role {
	out := make(map[string]cluster.Role, len(e.nodes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range e.nodes {
		wg.Go(func() {
			askCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			r, err := zkadmin.Srvr(askCtx, n.ClientAddr)
			if err != nil {
				r = cluster.Down
			}
			mu.Lock()
			out[n.Name] = r
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// WaitHealthy waits until every server serves and exactly one leads.
func (e *Ensemble) WaitHealthy(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		roles := e.Roles(ctx)
		up := 0
		for _, r := range roles {
			if r != cluster.Down {
				up++
			}
		}
		if up == len(e.nodes) && cluster.LeaderOf(roles) != "" {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("ensemble not healthy after %s: roles %v: %w", timeout, roles, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}
