// Package deploy holds the Kubernetes manifests zkchaos ships: the ZooKeeper
// ensemble the harness can deploy for itself (zookeeper.yaml.tmpl), the
// ServiceAccount and namespaced Roles it runs under (rbac.yaml), and a Job
// and a nightly CronJob that run scenarios inside the cluster (job.yaml,
// cronjob.yaml). The files are embedded in the binary and decoded strictly
// into typed objects: an unknown or misspelt field is an error that names
// the file and the document.
package deploy

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/template"
	"unicode"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// The shipped files, by name.
const (
	rbacFile      = "rbac.yaml"
	jobFile       = "job.yaml"
	cronJobFile   = "cronjob.yaml"
	zookeeperFile = "zookeeper.yaml.tmpl"
)

//go:embed rbac.yaml job.yaml cronjob.yaml zookeeper.yaml.tmpl
var files embed.FS

// maxNameLength bounds a deployed ensemble's name: the StatefulSet
// controller labels each pod with NAME-HASH (controller-revision-hash, an
// 11-character suffix), and a label value has at most 63 characters.
const maxNameLength = 52

// Labels of the deployed ensemble's objects; Selector selects the pods by
// the first two.
const (
	nameLabel     = "app.kubernetes.io/name"
	instanceLabel = "app.kubernetes.io/instance"
	nameValue     = "zookeeper"
)

var zookeeperTemplate = template.Must(template.New(zookeeperFile).
	Funcs(template.FuncMap{"add": func(a, b int) int { return a + b }}).
	Option("missingkey=error").
	Parse(string(mustRead(zookeeperFile))))

// decoder decodes YAML into the typed objects of client-go's scheme and
// fails on unknown, duplicate or wrongly cased fields.
var decoder = json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
	json.SerializerOptions{Yaml: true, Strict: true})

// ZooKeeper describes the ensemble the harness deploys itself.
type ZooKeeper struct {
	// Namespace holds every object of the ensemble.
	Namespace string
	// Name names the StatefulSet; its Services are Name-hl (headless, for
	// the peers) and Name-cs (for clients).
	Name string
	// Image is the ZooKeeper container image: the official Docker Hub
	// zookeeper image or one that reads the same ZOO_* variables.
	Image string
	// Replicas is the number of servers.
	Replicas int
}

// Objects renders deploy/zookeeper.yaml.tmpl into typed objects
// (*corev1.Service, *appsv1.StatefulSet, ...), in apply order.
func (z ZooKeeper) Objects() ([]client.Object, error) {
	if err := z.validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := zookeeperTemplate.Execute(&buf, z); err != nil {
		return nil, fmt.Errorf("render %s: %w", zookeeperFile, err)
	}
	return decodeAll(zookeeperFile+" (rendered)", buf.Bytes())
}

// Selector is the label selector of the ensemble's pods.
func (z ZooKeeper) Selector() string {
	return nameLabel + "=" + nameValue + "," + instanceLabel + "=" + z.Name
}

// CheckName says why name cannot name the ensemble's StatefulSet and its
// Services, or nil.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("name is empty")
	case len(name) > maxNameLength:
		return fmt.Errorf("name %q is %d characters long, at most %d fit a StatefulSet's pod labels",
			name, len(name), maxNameLength)
	}
	// Services need DNS-1035 labels (a letter first), stricter than the
	// DNS-1123 labels StatefulSets take.
	if msgs := validation.IsDNS1035Label(name + "-hl"); len(msgs) > 0 {
		return fmt.Errorf("name %q cannot name the ensemble's StatefulSet and Services: %s", name, strings.Join(msgs, "; "))
	}
	return nil
}

// CheckImage says why image is not a container image reference, or nil.
func CheckImage(image string) error {
	if image == "" {
		return errors.New("image is empty")
	}
	if strings.ContainsFunc(image, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '"' }) {
		return fmt.Errorf("image %q is not a container image reference", image)
	}
	return nil
}

// validate says everything that is wrong with the parameters at once.
func (z ZooKeeper) validate() error {
	var errs []error
	if z.Namespace == "" {
		errs = append(errs, errors.New("namespace is empty"))
	} else if msgs := validation.IsDNS1123Label(z.Namespace); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("namespace %q is not a namespace name: %s", z.Namespace, strings.Join(msgs, "; ")))
	}
	if err := CheckName(z.Name); err != nil {
		errs = append(errs, err)
	}
	if err := CheckImage(z.Image); err != nil {
		errs = append(errs, err)
	}
	if z.Replicas < 1 {
		errs = append(errs, fmt.Errorf("replicas is %d, want at least 1", z.Replicas))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("zookeeper ensemble: %w", err)
	}
	return nil
}

// RBAC returns the objects of rbac.yaml with the given namespace set on every
// namespaced object and on the RoleBinding subjects.
func RBAC(namespace string) ([]client.Object, error) {
	if msgs := validation.IsDNS1123Label(namespace); len(msgs) > 0 {
		return nil, fmt.Errorf("rbac: namespace %q is not a namespace name: %s", namespace, strings.Join(msgs, "; "))
	}
	objs, err := decodeAll(rbacFile, mustRead(rbacFile))
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.ServiceAccount, *rbacv1.Role:
		case *rbacv1.RoleBinding:
			for i := range o.Subjects {
				if o.Subjects[i].Kind == rbacv1.ServiceAccountKind {
					o.Subjects[i].Namespace = namespace
				}
			}
		default:
			// Everything in the file must be namespaced; a ClusterRole
			// would grant more than the harness needs.
			return nil, fmt.Errorf("%s: %T %s: want only ServiceAccounts, Roles and RoleBindings", rbacFile, o, o.GetName())
		}
		o.SetNamespace(namespace)
	}
	return objs, nil
}

// Files returns the raw shipped manifests by file name (rbac.yaml, job.yaml,
// cronjob.yaml, zookeeper.yaml.tmpl), for docs and tests.
func Files() map[string][]byte {
	out := map[string][]byte{}
	for _, name := range []string{rbacFile, jobFile, cronJobFile, zookeeperFile} {
		out[name] = mustRead(name)
	}
	return out
}

// mustRead returns a fresh copy of an embedded file.
func mustRead(name string) []byte {
	b, err := files.ReadFile(name)
	if err != nil {
		panic(fmt.Sprintf("deploy: embedded file %s: %v", name, err))
	}
	return b
}

// decodeAll decodes every YAML document of data strictly into a typed
// object; errors name the file and the document, counted from 1 in file
// order (comment-only documents count but yield nothing).
func decodeAll(file string, data []byte) ([]client.Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []client.Object
	for doc := 1; ; doc++ {
		b, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s, document %d: %w", file, doc, err)
		}
		j, err := yaml.YAMLToJSON(b)
		if err != nil {
			return nil, fmt.Errorf("%s, document %d: %w", file, doc, err)
		}
		if string(bytes.TrimSpace(j)) == "null" {
			continue
		}
		obj, gvk, err := decoder.Decode(b, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("%s, document %d: %w", file, doc, err)
		}
		o, ok := obj.(client.Object)
		if !ok {
			return nil, fmt.Errorf("%s, document %d: %s is not an object with metadata", file, doc, gvk)
		}
		objs = append(objs, o)
	}
}
