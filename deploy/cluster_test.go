package deploy

import (
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// cluster is the shipped manifests, typed.
type cluster struct {
	deploy   appsv1.Deployment
	tlsPatch appsv1.Deployment
	service  corev1.Service
	pdb      policyv1.PodDisruptionBudget
	env      corev1.ConfigMap
	secrets  map[string]corev1.Secret
	policies map[string]networkingv1.NetworkPolicy
	monitor  monitoringv1.PodMonitor
}

func loadCluster(tb testing.TB) *cluster {
	tb.Helper()
	c := &cluster{secrets: map[string]corev1.Secret{}, policies: map[string]networkingv1.NetworkPolicy{}}
	decodeStrict(tb, findDoc(tb, "Deployment", "strangler"), &c.deploy)
	decodeStrict(tb, findDoc(tb, "Service", "strangler"), &c.service)
	decodeStrict(tb, findDoc(tb, "PodDisruptionBudget", "strangler"), &c.pdb)
	decodeStrict(tb, findDoc(tb, "ConfigMap", "strangler-env"), &c.env)
	decodeStrict(tb, findDoc(tb, "PodMonitor", "strangler"), &c.monitor)
	decodeStrict(tb, readDocs(tb, "kubernetes/components/tls/deployment-tls.yaml")[0], &c.tlsPatch)
	for _, d := range readDocs(tb, "kubernetes/secret.example.yaml") {
		var s corev1.Secret
		decodeStrict(tb, d, &s)
		c.secrets[s.Name] = s
	}
	for _, d := range readDocs(tb, "kubernetes/networkpolicy.yaml") {
		var p networkingv1.NetworkPolicy
		decodeStrict(tb, d, &p)
		c.policies[p.Name] = p
	}
	return c
}

func (c *cluster) pod() *corev1.PodSpec { return &c.deploy.Spec.Template.Spec }

func (c *cluster) podLabels() labels.Set { return c.deploy.Spec.Template.Labels }

// container returns the proxy's container.
func (c *cluster) container(tb testing.TB) *corev1.Container {
	tb.Helper()
	for i := range c.pod().Containers {
		if c.pod().Containers[i].Name == "strangler" {
			return &c.pod().Containers[i]
		}
	}
	tb.Fatal("no container named strangler")
	return nil
}

// listenPort is the port of a STRANGLER_*LISTEN address in the ConfigMap.
func (c *cluster) listenPort(tb testing.TB, key string) (host string, port int32) {
	tb.Helper()
	h, p, err := net.SplitHostPort(c.env.Data[key])
	if err != nil {
		tb.Fatalf("configmap %s: %v", key, err)
	}
	n, _ := strconv.Atoi(p)
	return h, int32(n)
}

func selects(tb testing.TB, sel *metav1.LabelSelector, set labels.Set) bool {
	tb.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		tb.Fatal(err)
	}
	return !s.Empty() && s.Matches(set)
}

func TestDeploymentRunsThreeHardenedReplicas(t *testing.T) {
	c := loadCluster(t)
	d := c.deploy
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("replicas = %v, want 3", d.Spec.Replicas)
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Error("a rollout must never take a serving replica away first (maxUnavailable 0)")
	}
	if !selects(t, d.Spec.Selector, c.podLabels()) {
		t.Error("the Deployment's selector does not select its pods")
	}
	if !selects(t, c.pdb.Spec.Selector, c.podLabels()) {
		t.Error("the PodDisruptionBudget does not select the pods")
	}
	if mu := c.pdb.Spec.MaxUnavailable; mu == nil || mu.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget maxUnavailable = %v, want 1 of 3", mu)
	}
	pod := c.pod()
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the proxy never calls the Kubernetes API: do not mount a token")
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Error("no host namespaces")
	}
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("pod securityContext.runAsNonRoot must be true")
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("pod seccompProfile must be RuntimeDefault (OpenShift's restricted-v2 requires it)")
	}
	all := append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...)
	for _, ctr := range all {
		checkContainerHardening(t, ctr)
	}
	// Kubernetes kills the pod after the grace period: the preStop pause
	// and the proxy's own drain (server.shutdown_grace) must fit in it.
	grace, err := time.ParseDuration(c.env.Data["STRANGLER_SERVER_SHUTDOWN_GRACE"])
	if err != nil {
		t.Fatal(err)
	}
	pause := time.Duration(0)
	if ps := c.container(t).Lifecycle; ps != nil && ps.PreStop != nil && ps.PreStop.Sleep != nil {
		pause = time.Duration(ps.PreStop.Sleep.Seconds) * time.Second
	}
	if pause == 0 {
		t.Error("no preStop pause: routers would still send requests to a replica that stopped accepting")
	}
	if tg := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second; tg <= pause+grace {
		t.Errorf("terminationGracePeriodSeconds %s <= preStop %s + shutdown_grace %s", tg, pause, grace)
	}
}

func checkContainerHardening(t *testing.T, ctr corev1.Container) {
	t.Helper()
	sc := ctr.SecurityContext
	if sc == nil {
		t.Errorf("container %s: no securityContext", ctr.Name)
		return
	}
	is := func(p *bool) bool { return p != nil && *p }
	if !is(sc.ReadOnlyRootFilesystem) {
		t.Errorf("container %s: readOnlyRootFilesystem must be true", ctr.Name)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container %s: allowPrivilegeEscalation must be false", ctr.Name)
	}
	if !is(sc.RunAsNonRoot) {
		t.Errorf("container %s: runAsNonRoot must be true", ctr.Name)
	}
	if is(sc.Privileged) {
		t.Errorf("container %s: privileged", ctr.Name)
	}
	if sc.Capabilities == nil || len(sc.Capabilities.Add) > 0 || !containsCap(sc.Capabilities.Drop, "ALL") {
		t.Errorf("container %s: capabilities must drop ALL and add none", ctr.Name)
	}
	// OpenShift's restricted SCC picks the UID from the namespace's range
	// and refuses a fixed one outside it; the image's numeric USER serves
	// elsewhere.
	if sc.RunAsUser != nil {
		t.Errorf("container %s: runAsUser is fixed (%d); leave it to the image and OpenShift", ctr.Name, *sc.RunAsUser)
	}
	if ctr.Image != "strangler" {
		t.Errorf("container %s: image %q; kustomization.yaml's images entry rewrites the name strangler", ctr.Name, ctr.Image)
	}
}

func containsCap(caps []corev1.Capability, want corev1.Capability) bool {
	for _, c := range caps {
		if c == want {
			return true
		}
	}
	return false
}

// portNumber resolves a container port by name or number.
func portNumber(tb testing.TB, ctr *corev1.Container, p intstr.IntOrString) int32 {
	tb.Helper()
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range ctr.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	tb.Fatalf("container %s has no port named %s", ctr.Name, p.StrVal)
	return 0
}

func TestProbesAndScrapingReachTheAdminListener(t *testing.T) {
	c := loadCluster(t)
	ctr := c.container(t)
	adminHost, admin := c.listenPort(t, "STRANGLER_ADMIN_LISTEN")
	_, public := c.listenPort(t, "STRANGLER_LISTEN")
	if adminHost == "127.0.0.1" || adminHost == "localhost" {
		t.Error("the admin listener on loopback is out of reach of the kubelet and Prometheus")
	}
	if got := portNumber(t, ctr, intstr.FromString("admin")); got != admin {
		t.Errorf("container port admin = %d, the admin listener is on %d", got, admin)
	}
	if got := portNumber(t, ctr, intstr.FromString("http")); got != public {
		t.Errorf("container port http = %d, the public listener is on %d", got, public)
	}
	probes := map[string]struct {
		p    *corev1.Probe
		path string
	}{
		"startup": {ctr.StartupProbe, "/healthz"}, "liveness": {ctr.LivenessProbe, "/healthz"},
		"readiness": {ctr.ReadinessProbe, "/readyz"},
	}
	for name, want := range probes {
		if want.p == nil || want.p.HTTPGet == nil {
			t.Errorf("%s probe: none over HTTP", name)
			continue
		}
		g := want.p.HTTPGet
		if g.Path != want.path || portNumber(t, ctr, g.Port) != admin {
			t.Errorf("%s probe: %s on port %s, want %s on the admin listener", name, g.Path, g.Port.String(), want.path)
		}
	}
	ann := c.deploy.Spec.Template.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/path"] != "/metrics" ||
		ann["prometheus.io/port"] != strconv.Itoa(int(admin)) {
		t.Errorf("scrape annotations %v do not point at the admin listener's /metrics", ann)
	}
	if !selects(t, &c.monitor.Spec.Selector, c.podLabels()) {
		t.Error("the PodMonitor does not select the pods")
	}
	if len(c.monitor.Spec.PodMetricsEndpoints) != 1 {
		t.Fatal("the PodMonitor needs one endpoint")
	}
	ep := c.monitor.Spec.PodMetricsEndpoints[0]
	if ep.Port == nil || *ep.Port != "admin" || ep.Path != "/metrics" {
		t.Errorf("PodMonitor endpoint %v:%s, want admin:/metrics", ep.Port, ep.Path)
	}
	if !selects(t, &metav1.LabelSelector{MatchLabels: c.service.Spec.Selector}, c.podLabels()) {
		t.Error("the Service does not select the pods")
	}
	for _, sp := range c.service.Spec.Ports {
		if portNumber(t, ctr, sp.TargetPort) != public {
			t.Errorf("Service port %s targets %s, not the public listener", sp.Name, sp.TargetPort.String())
		}
	}
	checkTLSPatch(t, c)
}

// checkTLSPatch: with components/tls, both listeners get the certificate
// and every probe speaks HTTPS.
func checkTLSPatch(t *testing.T, c *cluster) {
	t.Helper()
	p := c.tlsPatch.Spec.Template.Spec.Containers
	if len(p) != 1 || p[0].Name != "strangler" {
		t.Fatal("the TLS patch must patch the strangler container")
	}
	env := map[string]string{}
	for _, e := range p[0].Env {
		env[e.Name] = e.Value
	}
	for _, k := range []string{"STRANGLER_TLS_CERT_FILE", "STRANGLER_TLS_KEY_FILE", "STRANGLER_ADMIN_TLS_CERT_FILE", "STRANGLER_ADMIN_TLS_KEY_FILE"} {
		if env[k] == "" {
			t.Errorf("TLS patch: %s unset", k)
		}
	}
	for _, pr := range []*corev1.Probe{p[0].StartupProbe, p[0].LivenessProbe, p[0].ReadinessProbe} {
		if pr == nil || pr.HTTPGet == nil || pr.HTTPGet.Scheme != corev1.URISchemeHTTPS {
			t.Error("TLS patch: every probe must use HTTPS")
		}
	}
}

// TestSecretReferencesExist: every Secret key the Deployment reads is in
// the example Secrets, so the documented `create secret` commands are
// complete; the required ones are not optional.
func TestSecretReferencesExist(t *testing.T) {
	c := loadCluster(t)
	required := map[string]bool{"STRANGLER_DATABASE_URL": true, "STRANGLER_ADMIN_TOKEN_HASHES": true}
	all := append(append([]corev1.Container{}, c.pod().InitContainers...), c.pod().Containers...)
	for _, ctr := range all {
		for _, e := range ctr.Env {
			ref := e.ValueFrom
			if ref == nil || ref.SecretKeyRef == nil {
				continue
			}
			s, ok := c.secrets[ref.SecretKeyRef.Name]
			if _, has := s.StringData[ref.SecretKeyRef.Key]; !ok || !has {
				t.Errorf("%s: %s reads Secret %s key %s, missing from secret.example.yaml", ctr.Name, e.Name, ref.SecretKeyRef.Name, ref.SecretKeyRef.Key)
			}
			optional := ref.SecretKeyRef.Optional != nil && *ref.SecretKeyRef.Optional
			if required[e.Name] && optional {
				t.Errorf("%s: %s must not be optional", ctr.Name, e.Name)
			}
		}
		for _, ef := range ctr.EnvFrom {
			if ef.ConfigMapRef == nil || ef.ConfigMapRef.Name != c.env.Name {
				t.Errorf("%s: envFrom must name the ConfigMap %s", ctr.Name, c.env.Name)
			}
		}
	}
	if _, ok := c.secrets["strangler-tls"]; !ok {
		t.Error("the TLS component's Secret strangler-tls is not in secret.example.yaml")
	}
	if _, err := url.Parse(c.secrets["strangler-database"].StringData["database-url"]); err != nil {
		t.Error(err)
	}
}
