package deploy

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/zkchaos/zkchaos/cluster/k8s/k8stest"
)

// TestMain stops the API server TestManifestsAreAcceptedByTheAPIServer
// starts.
func TestMain(m *testing.M) { k8stest.Main(m) }

// scenarioFile is the repository's copy of the scenario job.yaml ships.
const scenarioFile = "../scenarios/k8s-register-partition.yaml"

// kinds lists the objects' types in order.
func kinds(objs []client.Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = fmt.Sprintf("%T", o)
	}
	return out
}

// find returns the only object of type T named name.
func find[T client.Object](t *testing.T, objs []client.Object, name string) T {
	t.Helper()
	var found []T
	for _, o := range objs {
		if o, ok := o.(T); ok && o.GetName() == name {
			found = append(found, o)
		}
	}
	var zero T
	require.Len(t, found, 1, "exactly one %T named %s", zero, name)
	return found[0]
}

func TestShippedFilesDecodeStrictly(t *testing.T) {
	zk, err := ZooKeeper{Namespace: "zkchaos", Name: "zk", Image: "zookeeper:3.8.0", Replicas: 3}.Objects()
	require.NoError(t, err)
	rbac, err := RBAC("zkchaos")
	require.NoError(t, err)
	decoded := func(file string) []client.Object {
		objs, err := decodeAll(file, Files()[file])
		require.NoError(t, err, file)
		return objs
	}
	for _, tc := range []struct {
		file  string
		objs  []client.Object
		kinds []string
	}{
		{zookeeperFile, zk, []string{"*v1.Service", "*v1.Service", "*v1.StatefulSet"}},
		{rbacFile, rbac, []string{"*v1.ServiceAccount", "*v1.Role", "*v1.RoleBinding", "*v1.Role", "*v1.RoleBinding"}},
		{jobFile, decoded(jobFile), []string{"*v1.ConfigMap", "*v1.ConfigMap", "*v1.PersistentVolumeClaim", "*v1.Job"}},
		{cronJobFile, decoded(cronJobFile), []string{"*v1.CronJob"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			assert.Equal(t, tc.kinds, kinds(tc.objs))
			for _, o := range tc.objs {
				gvk := o.GetObjectKind().GroupVersionKind()
				assert.NotEmpty(t, gvk.Kind, "%T %s keeps its kind", o, o.GetName())
				assert.NotEmpty(t, o.GetName(), "%T has a name", o)
			}
		})
	}
}

func TestDecodeIsStrict(t *testing.T) {
	good := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"unknown field", "apiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {selectr: {a: b}}\n", `unknown field "spec.selectr"`},
		{"misspelt case", "apiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {ClusterIP: None}\n", `unknown field "spec.ClusterIP"`},
		{"duplicate field", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\nmetadata: {name: c}\n", `"metadata" already set`},
		{"unknown kind", "apiVersion: v1\nkind: Servise\nmetadata: {name: b}\n", "Servise"},
		{"wrong type", "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: b}\nspec: {replicas: three}\n", "replicas"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := "# header only\n---\n" + good + "---\n" + tc.doc
			_, err := decodeAll("x.yaml", []byte(data))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "x.yaml, document 3:")
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	objs, err := decodeAll("x.yaml", []byte("# header only\n---\n"+good+"---\n# trailing comment\n"))
	require.NoError(t, err)
	assert.Equal(t, []string{"*v1.ConfigMap"}, kinds(objs))
}

func TestZooKeeperObjects(t *testing.T) {
	for _, tc := range []struct {
		z       ZooKeeper
		servers []string
	}{
		{ZooKeeper{Namespace: "zkchaos", Name: "zk", Image: "zookeeper:3.8.0", Replicas: 3}, []string{
			"server.1=zk-0.zk-hl.zkchaos.svc.cluster.local:2888:3888;2181",
			"server.2=zk-1.zk-hl.zkchaos.svc.cluster.local:2888:3888;2181",
			"server.3=zk-2.zk-hl.zkchaos.svc.cluster.local:2888:3888;2181",
		}},
		{ZooKeeper{Namespace: "team-a", Name: "ensemble", Image: "registry.example.com/zk@sha256:0123", Replicas: 5}, []string{
			"server.1=ensemble-0.ensemble-hl.team-a.svc.cluster.local:2888:3888;2181",
			"server.2=ensemble-1.ensemble-hl.team-a.svc.cluster.local:2888:3888;2181",
			"server.3=ensemble-2.ensemble-hl.team-a.svc.cluster.local:2888:3888;2181",
			"server.4=ensemble-3.ensemble-hl.team-a.svc.cluster.local:2888:3888;2181",
			"server.5=ensemble-4.ensemble-hl.team-a.svc.cluster.local:2888:3888;2181",
		}},
	} {
		t.Run(fmt.Sprint(tc.z.Replicas), func(t *testing.T) {
			z := tc.z
			objs, err := z.Objects()
			require.NoError(t, err)
			for _, o := range objs {
				assert.Equal(t, z.Namespace, o.GetNamespace(), "%T %s", o, o.GetName())
				assert.Equal(t, map[string]string{
					"app.kubernetes.io/name":     "zookeeper",
					"app.kubernetes.io/instance": z.Name,
					"app.kubernetes.io/part-of":  "zkchaos",
				}, o.GetLabels(), "%T %s", o, o.GetName())
			}
			sel, err := labels.Parse(z.Selector())
			require.NoError(t, err)
			assert.Equal(t, "app.kubernetes.io/name=zookeeper,app.kubernetes.io/instance="+z.Name, z.Selector())

			hl := find[*corev1.Service](t, objs, z.Name+"-hl")
			assert.Equal(t, corev1.ClusterIPNone, hl.Spec.ClusterIP)
			assert.True(t, hl.Spec.PublishNotReadyAddresses)
			assert.Equal(t, map[string]int32{"client": 2181, "peer": 2888, "election": 3888}, servicePorts(hl))
			cs := find[*corev1.Service](t, objs, z.Name+"-cs")
			assert.Equal(t, map[string]int32{"client": 2181}, servicePorts(cs))

			sts := find[*appsv1.StatefulSet](t, objs, z.Name)
			assert.Equal(t, int32(z.Replicas), *sts.Spec.Replicas)
			assert.Equal(t, hl.Name, sts.Spec.ServiceName)
			assert.Equal(t, appsv1.ParallelPodManagement, sts.Spec.PodManagementPolicy)
			pod := sts.Spec.Template
			podLabels := labels.Set(pod.Labels)
			assert.True(t, sel.Matches(podLabels), "Selector() matches the pods")
			assert.True(t, labels.SelectorFromSet(sts.Spec.Selector.MatchLabels).Matches(podLabels))
			assert.True(t, labels.SelectorFromSet(hl.Spec.Selector).Matches(podLabels))
			assert.True(t, labels.SelectorFromSet(cs.Spec.Selector).Matches(podLabels))
			require.NotNil(t, pod.Spec.TerminationGracePeriodSeconds)
			assert.LessOrEqual(t, *pod.Spec.TerminationGracePeriodSeconds, int64(10))

			require.Len(t, pod.Spec.Containers, 1)
			c := pod.Spec.Containers[0]
			assert.Equal(t, z.Image, c.Image)
			assert.Contains(t, strings.Join(c.Args, "\n"), "/docker-entrypoint.sh zkServer.sh start-foreground")
			assert.Contains(t, strings.Join(c.Args, "\n"), "ZOO_MY_ID=$((ordinal + 1))")
			env := map[string]string{}
			for _, e := range c.Env {
				env[e.Name] = e.Value
			}
			assert.Equal(t, tc.servers, strings.Split(env["ZOO_SERVERS"], " "))
			assert.ElementsMatch(t, []string{"srvr", "mntr", "conf", "ruok", "stat"}, strings.Split(env["ZOO_4LW_COMMANDS_WHITELIST"], ","))
			assert.Subset(t, strings.Fields(env["ZOO_CFG_EXTRA"]), []string{"digest.enabled=true", "quorumListenOnAllIPs=true"})
			assert.Equal(t, "false", env["ZOO_STANDALONE_ENABLED"])
			require.NotNil(t, c.ReadinessProbe)
			require.NotNil(t, c.ReadinessProbe.Exec)

			require.Len(t, sts.Spec.VolumeClaimTemplates, 1)
			claim := sts.Spec.VolumeClaimTemplates[0]
			assert.Equal(t, "data", claim.Name)
			assert.True(t, resource.MustParse("1Gi").Equal(claim.Spec.Resources.Requests[corev1.ResourceStorage]))
			mounts := map[string]string{}
			for _, m := range c.VolumeMounts {
				assert.Equal(t, "data", m.Name)
				mounts[m.MountPath] = m.SubPath
			}
			assert.Equal(t, map[string]string{"/data": "data", "/datalog": "datalog"}, mounts)
			assert.Equal(t, "/data", env["ZOO_DATA_DIR"])
			assert.Equal(t, "/datalog", env["ZOO_DATA_LOG_DIR"])
		})
	}
}

// servicePorts maps a Service's port names to port numbers.
func servicePorts(s *corev1.Service) map[string]int32 {
	out := map[string]int32{}
	for _, p := range s.Spec.Ports {
		out[p.Name] = p.Port
	}
	return out
}

func TestZooKeeperObjectsAreFresh(t *testing.T) {
	z := ZooKeeper{Namespace: "zkchaos", Name: "zk", Image: "zookeeper:3.8.0", Replicas: 3}
	a, err := z.Objects()
	require.NoError(t, err)
	a[0].SetName("changed")
	b, err := z.Objects()
	require.NoError(t, err)
	assert.Equal(t, "zk-hl", b[0].GetName())
}

func TestZooKeeperRejectsBadParams(t *testing.T) {
	good := ZooKeeper{Namespace: "zkchaos", Name: "zk", Image: "zookeeper:3.8.0", Replicas: 3}
	for _, tc := range []struct {
		name   string
		change func(*ZooKeeper)
		want   []string
	}{
		{"empty name", func(z *ZooKeeper) { z.Name = "" }, []string{"name is empty"}},
		{"upper case name", func(z *ZooKeeper) { z.Name = "ZK" }, []string{`name "ZK"`}},
		{"name with a dot", func(z *ZooKeeper) { z.Name = "zk.a" }, []string{`name "zk.a"`}},
		{"name starting with a digit", func(z *ZooKeeper) { z.Name = "1zk" }, []string{`name "1zk"`}},
		{"name too long", func(z *ZooKeeper) { z.Name = strings.Repeat("z", 53) }, []string{"53 characters long, at most 52"}},
		{"empty namespace", func(z *ZooKeeper) { z.Namespace = "" }, []string{"namespace is empty"}},
		{"bad namespace", func(z *ZooKeeper) { z.Namespace = "Zk_Chaos" }, []string{`namespace "Zk_Chaos"`}},
		{"empty image", func(z *ZooKeeper) { z.Image = "" }, []string{"image is empty"}},
		{"image with a space", func(z *ZooKeeper) { z.Image = "zookeeper 3.8" }, []string{`image "zookeeper 3.8"`}},
		{"image with a quote", func(z *ZooKeeper) { z.Image = `zoo"keeper` }, []string{"image"}},
		{"no replicas", func(z *ZooKeeper) { z.Replicas = 0 }, []string{"replicas is 0, want at least 1"}},
		{"negative replicas", func(z *ZooKeeper) { z.Replicas = -3 }, []string{"replicas is -3"}},
		{"everything at once", func(z *ZooKeeper) { *z = ZooKeeper{} },
			[]string{"name is empty", "namespace is empty", "image is empty", "replicas is 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := good
			tc.change(&z)
			objs, err := z.Objects()
			require.Error(t, err)
			assert.Nil(t, objs)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	for _, n := range []int{1, 2, 7} {
		z := good
		z.Replicas = n
		_, err := z.Objects()
		assert.NoError(t, err, "%d replicas", n)
	}
	z := good
	z.Name = strings.Repeat("z", 52)
	_, err := z.Objects()
	assert.NoError(t, err, "a 52-character name")
}

// rule is one (API group, resource, verb) a Role grants.
type rule struct{ role, group, resource, verb string }

func TestRBAC(t *testing.T) {
	// Every permission the shipped Roles may grant. Granting more must change
	// this list.
	allowed := []rule{
		{"zkchaos", "", "pods", "get"},
		{"zkchaos", "", "pods", "list"},
		{"zkchaos", "", "pods", "watch"},
		{"zkchaos", "", "pods", "delete"},
		{"zkchaos", "", "pods/portforward", "create"},
		{"zkchaos", "", "pods/portforward", "get"},
		{"zkchaos", "", "pods/log", "get"},
		{"zkchaos-deploy", "apps", "statefulsets", "create"},
		{"zkchaos-deploy", "apps", "statefulsets", "get"},
		{"zkchaos-deploy", "apps", "statefulsets", "list"},
		{"zkchaos-deploy", "apps", "statefulsets", "delete"},
		{"zkchaos-deploy", "", "services", "create"},
		{"zkchaos-deploy", "", "services", "get"},
		{"zkchaos-deploy", "", "services", "list"},
		{"zkchaos-deploy", "", "services", "delete"},
		{"zkchaos-deploy", "", "persistentvolumeclaims", "get"},
		{"zkchaos-deploy", "", "persistentvolumeclaims", "list"},
		{"zkchaos-deploy", "", "persistentvolumeclaims", "delete"},
		{"zkchaos-deploy", "", "persistentvolumeclaims", "deletecollection"},
	}
	for _, r := range []string{"podchaos", "networkchaos", "timechaos", "iochaos"} {
		for _, v := range []string{"create", "delete", "get", "list", "watch"} {
			allowed = append(allowed, rule{"zkchaos", "chaos-mesh.org", r, v})
		}
	}

	for _, ns := range []string{"zkchaos", "other-ns"} {
		t.Run(ns, func(t *testing.T) {
			objs, err := RBAC(ns)
			require.NoError(t, err)
			var granted []rule
			for _, o := range objs {
				assert.Equal(t, ns, o.GetNamespace(), "%T %s", o, o.GetName())
				switch o := o.(type) {
				case *corev1.ServiceAccount:
					assert.Equal(t, "zkchaos", o.Name)
				case *rbacv1.Role:
					for _, r := range o.Rules {
						assert.Empty(t, r.ResourceNames, "%s", o.Name)
						assert.Empty(t, r.NonResourceURLs, "%s", o.Name)
						for _, g := range r.APIGroups {
							for _, res := range r.Resources {
								for _, v := range r.Verbs {
									granted = append(granted, rule{o.Name, g, res, v})
								}
							}
						}
					}
				case *rbacv1.RoleBinding:
					assert.Equal(t, "Role", o.RoleRef.Kind, "%s binds a namespaced Role", o.Name)
					find[*rbacv1.Role](t, objs, o.RoleRef.Name)
					require.Len(t, o.Subjects, 1)
					assert.Equal(t, rbacv1.Subject{Kind: "ServiceAccount", Name: "zkchaos", Namespace: ns}, o.Subjects[0])
				default:
					t.Errorf("unexpected %T %s in rbac.yaml", o, o.GetName())
				}
			}
			sortRules(granted)
			sortRules(allowed)
			assert.Equal(t, allowed, granted)
		})
	}

	// The shipped file carries no namespace except the subjects' zkchaos.
	raw, err := decodeAll(rbacFile, Files()[rbacFile])
	require.NoError(t, err)
	for _, o := range raw {
		assert.Empty(t, o.GetNamespace(), "%T %s", o, o.GetName())
		if b, ok := o.(*rbacv1.RoleBinding); ok {
			assert.Equal(t, "zkchaos", b.Subjects[0].Namespace)
		}
	}
	// RBAC hands out fresh objects each time.
	a, err := RBAC("a")
	require.NoError(t, err)
	b, err := RBAC("b")
	require.NoError(t, err)
	assert.Equal(t, "a", a[0].GetNamespace())
	assert.Equal(t, "b", b[0].GetNamespace())
}

func sortRules(rs []rule) {
	sort.Slice(rs, func(i, j int) bool {
		return fmt.Sprint(rs[i]) < fmt.Sprint(rs[j])
	})
}

func TestRBACRejectsBadNamespace(t *testing.T) {
	for _, ns := range []string{"", "Zkchaos", "zk.chaos", strings.Repeat("n", 64)} {
		objs, err := RBAC(ns)
		assert.Error(t, err, "%q", ns)
		assert.Nil(t, objs)
	}
}

func TestJobScenarioIsTheRepositoryScenario(t *testing.T) {
	want, err := os.ReadFile(scenarioFile)
	require.NoError(t, err)
	objs, err := decodeAll(jobFile, Files()[jobFile])
	require.NoError(t, err)
	cm := find[*corev1.ConfigMap](t, objs, "zkchaos-scenarios")
	assert.Equal(t, []string{"k8s-register-partition.yaml"}, slices.Sorted(maps.Keys(cm.Data)))
	assert.Equal(t, string(want), cm.Data["k8s-register-partition.yaml"],
		"job.yaml's copy of the scenario must be byte-identical to %s", scenarioFile)
}

func TestScenarioSelectsTheShippedEnsemble(t *testing.T) {
	b, err := os.ReadFile(scenarioFile)
	require.NoError(t, err)
	var s struct {
		Cluster struct {
			Backend    string `yaml:"backend"`
			Nodes      int    `yaml:"nodes"`
			Kubernetes struct {
				Namespace string `yaml:"namespace"`
				Selector  string `yaml:"selector"`
				Connect   string `yaml:"connect"`
			} `yaml:"kubernetes"`
		} `yaml:"cluster"`
	}
	require.NoError(t, yaml.Unmarshal(b, &s))
	assert.Equal(t, "kubernetes", s.Cluster.Backend)
	assert.Equal(t, "auto", s.Cluster.Kubernetes.Connect)
	k := s.Cluster.Kubernetes
	z := ZooKeeper{Namespace: k.Namespace, Name: "zk", Image: "zookeeper:3.8.0", Replicas: s.Cluster.Nodes}
	assert.Equal(t, "zkchaos", k.Namespace)
	assert.Equal(t, z.Selector(), k.Selector, "the scenario selects the ensemble the docs deploy")
}

// podSpec returns the pod template of a Job or CronJob.
func podSpec(t *testing.T, o client.Object) corev1.PodSpec {
	switch o := o.(type) {
	case *batchv1.Job:
		return o.Spec.Template.Spec
	case *batchv1.CronJob:
		return o.Spec.JobTemplate.Spec.Template.Spec
	}
	t.Fatalf("%T is not a Job or CronJob", o)
	return corev1.PodSpec{}
}

func TestJobAndCronJobPods(t *testing.T) {
	jobObjs, err := decodeAll(jobFile, Files()[jobFile])
	require.NoError(t, err)
	cronObjs, err := decodeAll(cronJobFile, Files()[cronJobFile])
	require.NoError(t, err)
	rbac, err := RBAC("zkchaos")
	require.NoError(t, err)
	cm := find[*corev1.ConfigMap](t, jobObjs, "zkchaos-scenarios")
	pvc := find[*corev1.PersistentVolumeClaim](t, jobObjs, "zkchaos-runs")
	// The CronJob's shared objects are job.yaml's, selectable without its Job.
	shared, err := labels.Parse("zkchaos.io/shared=true")
	require.NoError(t, err)
	for _, o := range jobObjs {
		_, isJob := o.(*batchv1.Job)
		assert.Equal(t, !isJob, shared.Matches(labels.Set(o.GetLabels())), "%T %s", o, o.GetName())
	}

	job := find[*batchv1.Job](t, jobObjs, "zkchaos")
	cron := find[*batchv1.CronJob](t, cronObjs, "zkchaos-nightly")
	require.NotNil(t, job.Spec.BackoffLimit)
	assert.Zero(t, *job.Spec.BackoffLimit)
	assert.NotNil(t, job.Spec.ActiveDeadlineSeconds)
	assert.Equal(t, batchv1.ForbidConcurrent, cron.Spec.ConcurrencyPolicy)
	assert.NotNil(t, cron.Spec.SuccessfulJobsHistoryLimit)
	assert.NotNil(t, cron.Spec.FailedJobsHistoryLimit)
	require.NotNil(t, cron.Spec.JobTemplate.Spec.BackoffLimit)
	assert.Zero(t, *cron.Spec.JobTemplate.Spec.BackoffLimit)

	for _, o := range []client.Object{job, cron} {
		t.Run(fmt.Sprintf("%T", o), func(t *testing.T) {
			spec := podSpec(t, o)
			assert.Equal(t, "zkchaos", spec.ServiceAccountName)
			find[*corev1.ServiceAccount](t, rbac, spec.ServiceAccountName)
			assert.Equal(t, corev1.RestartPolicyNever, spec.RestartPolicy)
			require.NotNil(t, spec.SecurityContext)
			require.NotNil(t, spec.SecurityContext.RunAsNonRoot)
			assert.True(t, *spec.SecurityContext.RunAsNonRoot)

			volumes := map[string]corev1.Volume{}
			for _, v := range spec.Volumes {
				volumes[v.Name] = v
			}
			mounted := map[string]string{}
			for _, c := range spec.Containers {
				for _, m := range c.VolumeMounts {
					_, ok := volumes[m.Name]
					assert.True(t, ok, "mount %s names a volume of the pod", m.Name)
					mounted[m.MountPath] = m.Name
				}
			}
			for name := range volumes {
				assert.Contains(t, slices.Collect(maps.Values(mounted)), name, "volume %s is mounted", name)
			}
			require.Contains(t, mounted, "/scenarios")
			require.Contains(t, mounted, "/runs")
			require.NotNil(t, volumes[mounted["/scenarios"]].ConfigMap)
			assert.Equal(t, cm.Name, volumes[mounted["/scenarios"]].ConfigMap.Name)
			require.NotNil(t, volumes[mounted["/runs"]].PersistentVolumeClaim)
			assert.Equal(t, pvc.Name, volumes[mounted["/runs"]].PersistentVolumeClaim.ClaimName)
		})
	}

	// Both run the shared script (TestJobHealsAndNamesACrash and
	// TestCronJobRanksCrashesAsHarnessFailures run it), the Job on its one
	// scenario.
	c := podSpec(t, job).Containers[0]
	assert.Equal(t, []string{"/bin/bash", "/runner/run-scenarios.sh", "/scenarios/k8s-register-partition.yaml"},
		append(slices.Clone(c.Command), c.Args...))
	assert.Contains(t, cm.Data, "k8s-register-partition.yaml")
	c = podSpec(t, cron).Containers[0]
	assert.Equal(t, []string{"/bin/bash", "/runner/run-scenarios.sh"}, append(slices.Clone(c.Command), c.Args...))
	runner := find[*corev1.ConfigMap](t, jobObjs, "zkchaos-runner")
	assert.Equal(t, []string{"run-scenarios.sh"}, slices.Sorted(maps.Keys(runner.Data)))
}

func TestFiles(t *testing.T) {
	f := Files()
	assert.ElementsMatch(t, []string{"rbac.yaml", "job.yaml", "cronjob.yaml", "zookeeper.yaml.tmpl"},
		slices.Collect(maps.Keys(f)))
	for name, b := range f {
		disk, err := os.ReadFile(name)
		require.NoError(t, err)
		assert.Equal(t, disk, b, name)
		b[0] = '!'
	}
	assert.NotEqual(t, byte('!'), Files()["rbac.yaml"][0], "callers get copies")
}

// TestManifestsAreAcceptedByTheAPIServer creates every shipped object on a
// real kube-apiserver, which validates what strict decoding cannot (names,
// label values, ports, volume references, the cron schedule), and deploys
// and removes the ensemble as the shipped ServiceAccount, as the harness
// does in deploy mode. No kubelet or controller runs: nothing starts.
func TestManifestsAreAcceptedByTheAPIServer(t *testing.T) {
	env := k8stest.Start(t)
	ns := env.Namespace(t)
	ctx := t.Context()
	create := func(c client.Client, objs []client.Object) {
		t.Helper()
		for _, o := range objs {
			require.NoError(t, c.Create(ctx, o, client.FieldValidation(metav1.FieldValidationStrict)), "%T %s", o, o.GetName())
		}
	}

	rbac, err := RBAC(ns)
	require.NoError(t, err)
	create(env.Client, rbac)
	for _, file := range []string{jobFile, cronJobFile} {
		objs, err := decodeAll(file, Files()[file])
		require.NoError(t, err)
		for _, o := range objs {
			o.SetNamespace(ns)
		}
		create(env.Client, objs)
	}
	big, err := ZooKeeper{Namespace: ns, Name: "big", Image: "zookeeper:3.8.0", Replicas: 5}.Objects()
	require.NoError(t, err)
	create(env.Client, big)

	// Deploy mode as the ServiceAccount: create, then remove as
	// cluster/k8s does (foreground deletes, then the claims by selector).
	sa, err := client.New(env.ServiceAccountConfig(ns, "zkchaos"), client.Options{Scheme: scheme.Scheme})
	require.NoError(t, err)
	z := ZooKeeper{Namespace: ns, Name: "zk", Image: "zookeeper:3.8.0", Replicas: 3}
	objs, err := z.Objects()
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return sa.List(ctx, &appsv1.StatefulSetList{}, client.InNamespace(ns)) == nil
	}, 10*time.Second, 100*time.Millisecond, "the RoleBindings take effect")
	create(sa, objs)
	for _, o := range slices.Backward(objs) {
		require.NoError(t, sa.Delete(ctx, o, client.PropagationPolicy(metav1.DeletePropagationForeground)), "%T %s", o, o.GetName())
	}
	sel, err := labels.Parse(z.Selector())
	require.NoError(t, err)
	require.NoError(t, sa.DeleteAllOf(ctx, &corev1.PersistentVolumeClaim{}, client.InNamespace(ns),
		client.MatchingLabelsSelector{Selector: sel}))

	// Nothing beyond the namespace, and no updates.
	sts := find[*appsv1.StatefulSet](t, big, "big")
	err = sa.Update(ctx, sts)
	assert.True(t, apierrors.IsForbidden(err), "update a StatefulSet: %v", err)
	err = sa.List(ctx, &corev1.PodList{}, client.InNamespace("kube-system"))
	assert.True(t, apierrors.IsForbidden(err), "list pods in kube-system: %v", err)
	err = sa.List(ctx, &corev1.ConfigMapList{}, client.InNamespace(ns))
	assert.True(t, apierrors.IsForbidden(err), "list ConfigMaps: %v", err)
}

// stubZkchaos stands in for the zkchaos binary in the Job's and CronJob's
// containers. It logs each call to $STUB_LOG; `zkchaos run SCENARIO` does
// what $STUB_DIR/<SCENARIO's base name> says ("CODE junit", "CODE nojunit"
// or "hang"; "0 junit" when absent): exit CODE having written its --junit
// file or not (a crash), or wait for SIGTERM and exit 130 as zkchaos does.
const stubZkchaos = `#!/bin/bash
echo "$*" >> "$STUB_LOG"
[ "$1" = run ] || exit 0
scenario=$2
junit=
while [ $# -gt 0 ]; do [ "$1" = --junit ] && junit=$2; shift; done
behaviour="0 junit"
[ -e "$STUB_DIR/$(basename "$scenario")" ] && behaviour=$(cat "$STUB_DIR/$(basename "$scenario")")
if [ "$behaviour" = hang ]; then
  trap 'echo terminated >> "$STUB_LOG"; [ -n "$junit" ] && : > "$junit"; exit 130' TERM
  echo waiting >> "$STUB_LOG"
  while :; do sleep 0.05; done
fi
set -- $behaviour
[ "$2" = junit ] && [ -n "$junit" ] && : > "$junit"
exit "$1"
`

// containerRun is what running a Job's or CronJob's container did.
type containerRun struct {
	code   int
	stdout string
	calls  []string // the stub's log: its arguments, one call a line
}

// runContainer runs the first container of a Job or CronJob on this
// machine, with zkchaos replaced by stubZkchaos: each volume is a directory
// (ConfigMap volumes hold configMaps' data) and its mount path is rewritten
// to it in the command, arguments, environment and ConfigMap files. The
// downward API's namespace is "test-ns". scenarios sets the stub's
// behaviour by scenario file name. With terminate, the container gets
// SIGTERM once the stub waits, as when the Job's deadline passes.
func runContainer(t *testing.T, o client.Object, configMaps map[string]map[string]string, scenarios map[string]string, terminate bool) containerRun {
	t.Helper()
	dir := t.TempDir()
	spec := podSpec(t, o)
	c := spec.Containers[0]
	var pairs []string
	for _, m := range c.VolumeMounts {
		pairs = append(pairs, m.MountPath, filepath.Join(dir, "volumes", m.Name))
	}
	rewrite := strings.NewReplacer(pairs...).Replace
	for _, v := range spec.Volumes {
		host := filepath.Join(dir, "volumes", v.Name)
		require.NoError(t, os.MkdirAll(host, 0o755))
		if v.ConfigMap == nil {
			continue
		}
		data, ok := configMaps[v.ConfigMap.Name]
		require.True(t, ok, "ConfigMap %s", v.ConfigMap.Name)
		for k, d := range data {
			require.NoError(t, os.WriteFile(filepath.Join(host, k), []byte(rewrite(d)), 0o644))
		}
	}
	stubs := filepath.Join(dir, "stub")
	require.NoError(t, os.MkdirAll(filepath.Join(stubs, "bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(stubs, "bin", "zkchaos"), []byte(stubZkchaos), 0o755))
	for name, b := range scenarios {
		require.NoError(t, os.WriteFile(filepath.Join(stubs, name), []byte(b), 0o644))
	}
	log := filepath.Join(stubs, "log")
	env := []string{"PATH=" + filepath.Join(stubs, "bin") + ":" + os.Getenv("PATH"), "STUB_LOG=" + log, "STUB_DIR=" + stubs}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+rewrite(e.Value))
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			env = append(env, e.Name+"=test-ns")
		}
	}
	argv := append(slices.Clone(c.Command), c.Args...)
	for i := range argv {
		argv[i] = rewrite(argv[i])
	}
	if argv[0] == "zkchaos" {
		argv[0] = filepath.Join(stubs, "bin", "zkchaos")
	}
	cmd := exec.CommandContext(t.Context(), argv[0], argv[1:]...)
	cmd.Env = env
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	if terminate {
		require.Eventually(t, func() bool {
			b, _ := os.ReadFile(log)
			return strings.Contains(string(b), "waiting")
		}, 10*time.Second, 10*time.Millisecond, "the run starts")
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if err != nil {
		require.ErrorAs(t, err, &exit)
	}
	b, err := os.ReadFile(log)
	require.NoError(t, err)
	return containerRun{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), calls: strings.Split(strings.TrimSpace(string(b)), "\n")}
}

// shippedConfigMaps returns the data of job.yaml's ConfigMaps by name.
func shippedConfigMaps(t *testing.T) map[string]map[string]string {
	objs, err := decodeAll(jobFile, Files()[jobFile])
	require.NoError(t, err)
	out := map[string]map[string]string{}
	for _, o := range objs {
		if cm, ok := o.(*corev1.ConfigMap); ok {
			out[cm.Name] = cm.Data
		}
	}
	return out
}

const healCall = "heal --kubernetes --namespace test-ns"

func TestJobHealsAndNamesACrash(t *testing.T) {
	objs, err := decodeAll(jobFile, Files()[jobFile])
	require.NoError(t, err)
	job := find[*batchv1.Job](t, objs, "zkchaos")
	const scenario = "k8s-register-partition.yaml"
	for _, tc := range []struct {
		name, behaviour string
		terminate       bool
		code            int
		stdout          string
	}{
		{"invalid", "1 junit", false, 1, "k8s-register-partition: exit code 1"},
		{"unknown", "2 junit", false, 2, "k8s-register-partition: exit code 2"},
		{"crash", "2 nojunit", false, 3, "the harness crashed"},
		{"killed", "137 nojunit", false, 3, "the harness crashed"},
		{"terminated", "hang", true, 130, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runContainer(t, job, shippedConfigMaps(t), map[string]string{scenario: tc.behaviour}, tc.terminate)
			assert.Equal(t, tc.code, r.code, r.stdout)
			assert.Contains(t, r.stdout, tc.stdout)
			require.NotEmpty(t, r.calls)
			assert.True(t, strings.HasPrefix(r.calls[0], "run ") && strings.Contains(r.calls[0], scenario), "%q", r.calls[0])
			assert.Equal(t, healCall, r.calls[len(r.calls)-1], "the Job heals last, whatever happened")
		})
	}
}

func TestCronJobRanksCrashesAsHarnessFailures(t *testing.T) {
	objs, err := decodeAll(cronJobFile, Files()[cronJobFile])
	require.NoError(t, err)
	cron := find[*batchv1.CronJob](t, objs, "zkchaos-nightly")
	for _, tc := range []struct {
		name      string
		scenarios map[string]string
		terminate bool
		code      int
		stdout    []string
	}{
		{"valid and unknown", map[string]string{"a.yaml": "0 junit", "b.yaml": "2 junit"}, false, 2,
			[]string{"a: exit code 0", "b: exit code 2"}},
		{"invalid beats unknown", map[string]string{"a.yaml": "1 junit", "b.yaml": "2 junit"}, false, 1, nil},
		{"a crash is not unknown", map[string]string{"a.yaml": "2 junit", "b.yaml": "2 nojunit", "c.yaml": "0 junit"}, false, 3,
			[]string{"a: exit code 2", "b: exit code 2 without a verdict: the harness crashed", "b: exit code 3", "c: exit code 0"}},
		{"out of memory is not unknown", map[string]string{"a.yaml": "137 nojunit"}, false, 3,
			[]string{"a: exit code 137 without a verdict"}},
		{"bad input beats a crash", map[string]string{"a.yaml": "4 junit", "b.yaml": "2 nojunit"}, false, 4, nil},
		{"terminated", map[string]string{"a.yaml": "0 junit", "b.yaml": "hang", "c.yaml": "0 junit"}, true, 130, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cms := shippedConfigMaps(t)
			cms["zkchaos-scenarios"] = map[string]string{}
			for name := range tc.scenarios {
				cms["zkchaos-scenarios"][name] = "name: " + name + "\n"
			}
			r := runContainer(t, cron, cms, tc.scenarios, tc.terminate)
			assert.Equal(t, tc.code, r.code, r.stdout)
			for _, s := range tc.stdout {
				assert.Contains(t, r.stdout, s)
			}
			assert.Equal(t, healCall, r.calls[len(r.calls)-1], "the CronJob heals last, whatever happened")
			if tc.terminate {
				assert.Contains(t, r.calls, "terminated", "the running scenario is stopped")
				assert.NotContains(t, strings.Join(r.calls, "\n"), "c.yaml", "no scenario starts after SIGTERM")
			}
		})
	}
}

// The sizing rule of the memory limit stated beside it in job.yaml and
// cronjob.yaml. A register run is judged one key at a time: memory holds
// the calls of one key, BenchmarkJudge1MOnFiveKeys (./harness/) peaks at
// 454 MB for 1M calls over 5 keys (200k calls a key), and
// BenchmarkJudgeHour at 435 MB for 9M calls over 100 keys. Any other
// workload's history is judged whole: BenchmarkJudge1M peaked at 1.85 GB
// for 1M calls judged so.
const (
	judgeBytesPerCall = 2_000
	judgeBaseBytes    = 300 << 20
	// fullSpeedCallsPerSecond is what rate 0 reaches on three servers.
	fullSpeedCallsPerSecond = 2_700
	// longRunCalls is a long run: BenchmarkJudge1M's history, about three
	// hours at rate 100.
	longRunCalls = 1_000_000
)

func TestMemoryLimitCoversJudgingALongRun(t *testing.T) {
	jobObjs, err := decodeAll(jobFile, Files()[jobFile])
	require.NoError(t, err)
	cronObjs, err := decodeAll(cronJobFile, Files()[cronJobFile])
	require.NoError(t, err)
	// What the shipped scenario that needs most takes, each run as long
	// as a long run at least.
	var need int64
	for name, text := range find[*corev1.ConfigMap](t, jobObjs, "zkchaos-scenarios").Data {
		var s struct {
			TimeLimit string `yaml:"time-limit"`
			Workload  struct {
				Name string  `yaml:"name"`
				Keys int     `yaml:"keys"`
				Rate float64 `yaml:"rate"`
			} `yaml:"workload"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(text), &s), name)
		limit, err := time.ParseDuration(s.TimeLimit)
		require.NoError(t, err, name)
		rate := s.Workload.Rate
		if rate == 0 {
			rate = fullSpeedCallsPerSecond
		}
		calls := max(int64(longRunCalls), int64(rate*limit.Seconds()))
		held := calls // calls judged at once
		if s.Workload.Name == "register" {
			held = calls / int64(max(1, s.Workload.Keys)) // keys left to the default: taken as one
		}
		need = max(need, judgeBaseBytes+judgeBytesPerCall*held)
	}
	want := resource.NewQuantity(need, resource.BinarySI)
	for file, o := range map[string]client.Object{jobFile: find[*batchv1.Job](t, jobObjs, "zkchaos"), cronJobFile: find[*batchv1.CronJob](t, cronObjs, "zkchaos-nightly")} {
		limit := podSpec(t, o).Containers[0].Resources.Limits[corev1.ResourceMemory]
		assert.GreaterOrEqual(t, limit.Cmp(*want), 0, "%s: memory limit %s, judging takes %s", file, limit.String(), want.String())
		assert.True(t, strings.Contains(string(Files()[file]), "2 KB per call"), "%s states the sizing rule", file)
	}
}
