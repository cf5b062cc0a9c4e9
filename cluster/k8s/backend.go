package k8s

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/zkchaos/zkchaos/cluster"
)

// BackendName names the kubernetes backend in scenario files.
const BackendName = "kubernetes"

// The kubernetes backend registers itself on import: the command's
// registration file only imports it, and a test that loads kubernetes
// scenarios imports it blank.
func init() { cluster.Register(backend{}) }

// healTimeout bounds how long heal --kubernetes may take.
const healTimeout = 5 * time.Minute

// backend tests an ensemble in a Kubernetes cluster.
type backend struct{}

func (backend) Name() string                       { return BackendName }
func (backend) NewSection() cluster.Section        { return &Section{} }
func (backend) DefaultStartTimeout() time.Duration { return 5 * time.Minute }

// Prepare checks nothing: the ensemble is reached when the run starts. The
// label of the servers' build is the backend's name.
func (backend) Prepare(context.Context, cluster.Spec) (string, error) { return BackendName, nil }

// Start connects to the run's ensemble, deploying it if the section asks,
// and waits until it is healthy.
func (backend) Start(ctx context.Context, spec cluster.Spec) (cluster.Cluster, error) {
	sec, ok := spec.Section.(*Section)
	if !ok || sec.Kubernetes == nil {
		return nil, fmt.Errorf("scenario %s: the kubernetes backend cannot run a cluster section of type %T", spec.Scenario, spec.Section)
	}
	cfg := sec.Config(spec.Nodes, filepath.Base(spec.Dir))
	cfg.Logger = spec.Logger
	ens, err := Connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := ens.WaitHealthy(ctx, spec.StartTimeout); err != nil {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		return nil, errors.Join(err, ens.Close(closeCtx))
	}
	return ens, nil
}

// Heal deletes the chaos objects killed harnesses left behind, then the
// ensembles they deployed (StatefulSets, Services, volume claims), when the
// request is for remote leftovers.
func (backend) Heal(ctx context.Context, req cluster.HealRequest, out io.Writer) (int, error) {
	if !req.Remote {
		return 0, nil
	}
	cfg, ns, err := RESTConfig(req.Kubeconfig, req.Context)
	if err != nil {
		return 0, err
	}
	namespace := req.Namespace
	switch namespace {
	case "":
		namespace = ns
	case "*":
		namespace = ""
	}
	clients, err := NewClients(cfg)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, healTimeout)
	defer cancel()
	deleted := 0
	report := func(left []Leftover) {
		for _, l := range left {
			fmt.Fprintf(out, "deleted %s %s/%s (run %s)\n", l.Kind, l.Namespace, l.Name, l.Run)
		}
		deleted += len(left)
	}
	var errs []error
	// The faults first, while the pods they act on still exist.
	if missing, err := MissingChaosResources(clients.Clientset); err != nil {
		errs = append(errs, err)
	} else if len(missing) == len(ChaosResources) {
		fmt.Fprintln(out, "Chaos Mesh is not installed: no chaos objects can be left behind")
	} else {
		left, err := HealLeftovers(ctx, clients.Client, namespace, req.Run)
		report(left)
		errs = append(errs, err)
	}
	left, forbidden, err := RemoveDeployed(ctx, clients.Client, namespace, req.Run)
	report(left)
	errs = append(errs, err)
	for _, r := range forbidden {
		fmt.Fprintf(out, "may not list %s: skipped (only an account with the zkchaos-deploy Role deploys ensembles)\n", r)
	}
	return deleted, errors.Join(errs...)
}

// Distribution fails: the StatefulSet's image chooses the servers' build.
func (backend) Distribution(_ context.Context, name string) (string, error) {
	return "", fmt.Errorf("distribution %s: %w", name, errNoDistribution)
}
