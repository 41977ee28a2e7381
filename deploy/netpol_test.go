package deploy

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// peerPorts is one NetworkPolicy rule flattened: its peers and ports.
type peerPorts struct {
	peers []networkingv1.NetworkPolicyPeer
	ports []networkingv1.NetworkPolicyPort
}

func ingressRules(p networkingv1.NetworkPolicy) []peerPorts {
	var out []peerPorts
	for _, r := range p.Spec.Ingress {
		out = append(out, peerPorts{r.From, r.Ports})
	}
	return out
}

func egressRules(p networkingv1.NetworkPolicy) []peerPorts {
	var out []peerPorts
	for _, r := range p.Spec.Egress {
		out = append(out, peerPorts{r.To, r.Ports})
	}
	return out
}

// allows reports whether some rule lets port through to or from a peer
// that match accepts; port is a number or a container port name.
func allows(rules []peerPorts, port string, match func(networkingv1.NetworkPolicyPeer) bool) bool {
	for _, r := range rules {
		portOK := false
		for _, p := range r.ports {
			if p.Port != nil && p.Port.String() == port {
				portOK = true
			}
		}
		if !portOK {
			continue
		}
		for _, peer := range r.peers {
			if match(peer) {
				return true
			}
		}
	}
	return false
}

func namespaceNamed(name string) func(networkingv1.NetworkPolicyPeer) bool {
	return func(p networkingv1.NetworkPolicyPeer) bool {
		return p.PodSelector == nil && p.NamespaceSelector != nil &&
			p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == name
	}
}

func podsLabelled(set labels.Set) func(networkingv1.NetworkPolicyPeer) bool {
	return func(p networkingv1.NetworkPolicyPeer) bool {
		return p.NamespaceSelector == nil && p.PodSelector != nil && len(p.PodSelector.MatchLabels) > 0 &&
			labels.SelectorFromSet(p.PodSelector.MatchLabels).Matches(set)
	}
}

func anyNamespace(p networkingv1.NetworkPolicyPeer) bool {
	return p.NamespaceSelector != nil && len(p.NamespaceSelector.MatchLabels) == 0 && p.PodSelector == nil
}

// urlPort is the port of a URL, with the scheme's default.
func urlPort(tb testing.TB, raw string) string {
	tb.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatal(err)
	}
	if p := u.Port(); p != "" {
		return p
	}
	return map[string]string{"http": "80", "https": "443", "postgres": "5432", "redis": "6379"}[u.Scheme]
}

// noOpenRules: a rule without peers or without ports allows everyone or
// every port, which "only what is needed" excludes.
func noOpenRules(t *testing.T, name string, rules []peerPorts) {
	t.Helper()
	for i, r := range rules {
		if len(r.peers) == 0 || len(r.ports) == 0 {
			t.Errorf("%s: rule %d allows every peer or every port", name, i)
		}
		for _, peer := range r.peers {
			if peer.IPBlock != nil && peer.IPBlock.CIDR == "0.0.0.0/0" {
				t.Errorf("%s: rule %d allows the whole internet", name, i)
			}
		}
	}
}

func TestNetworkPolicyAllowsOnlyWhatIsNeeded(t *testing.T) {
	c := loadCluster(t)
	p, ok := c.policies["strangler"]
	if !ok {
		t.Fatal("no NetworkPolicy strangler")
	}
	if !selects(t, &p.Spec.PodSelector, c.podLabels()) {
		t.Fatal("the proxy's NetworkPolicy does not select its pods")
	}
	if len(p.Spec.PolicyTypes) != 2 {
		t.Errorf("policyTypes %v: both Ingress and Egress are restricted", p.Spec.PolicyTypes)
	}
	in, out := ingressRules(p), egressRules(p)
	noOpenRules(t, "strangler ingress", in)
	noOpenRules(t, "strangler egress", out)
	if !allows(in, "http", namespaceNamed("ingress-nginx")) {
		t.Error("the ingress controller cannot reach the public port")
	}
	if !allows(in, "admin", namespaceNamed("openshift-user-workload-monitoring")) ||
		!allows(in, "admin", namespaceNamed("monitoring")) {
		t.Error("Prometheus cannot reach the admin port")
	}
	if allows(in, "admin", namespaceNamed("ingress-nginx")) {
		t.Error("the admin listener is open to the ingress controller")
	}
	for _, port := range []string{"53", "5353"} {
		if !allows(out, port, anyNamespace) {
			t.Errorf("no DNS on port %s", port)
		}
	}
	legacy := labels.Set{"app.kubernetes.io/name": "nanopore-tracking"}
	legacyPort := urlPort(t, strings.Split(c.env.Data["STRANGLER_LEGACY_URL"], ",")[0])
	if !allows(out, legacyPort, podsLabelled(legacy)) {
		t.Errorf("the proxy cannot reach legacy on port %s", legacyPort)
	}
	dbPort := urlPort(t, c.secrets["strangler-database"].StringData["database-url"])
	if !allows(out, dbPort, podsLabelled(labels.Set{"app.kubernetes.io/name": "postgresql"})) {
		t.Errorf("the proxy cannot reach PostgreSQL on port %s", dbPort)
	}
	redisPort := urlPort(t, c.secrets["strangler-admin"].StringData["redis-url"])
	if !allows(out, redisPort, podsLabelled(labels.Set{"app.kubernetes.io/name": "redis"})) {
		t.Errorf("the proxy cannot reach Redis on port %s", redisPort)
	}
	checkLegacyPolicy(t, c, legacy, legacyPort)
}

// checkLegacyPolicy: legacy takes requests from the proxy alone, so its
// destructive routes cannot be reached around the edge's deny rules.
func checkLegacyPolicy(t *testing.T, c *cluster, legacy labels.Set, port string) {
	t.Helper()
	var lp *networkingv1.NetworkPolicy
	for _, p := range c.policies {
		if selects(t, &p.Spec.PodSelector, legacy) {
			lp = &p
		}
	}
	if lp == nil {
		t.Fatal("no NetworkPolicy protects the legacy app")
	}
	in := ingressRules(*lp)
	noOpenRules(t, lp.Name, in)
	if !allows(in, port, podsLabelled(c.podLabels())) {
		t.Errorf("%s: the proxy cannot reach legacy on %s", lp.Name, port)
	}
	for _, r := range in {
		for _, peer := range r.peers {
			if !podsLabelled(c.podLabels())(peer) {
				t.Errorf("%s: a peer other than the proxy may reach legacy: %+v", lp.Name, peer)
			}
		}
	}
	for _, r := range in {
		for _, pp := range r.ports {
			if pp.Protocol != nil && *pp.Protocol != corev1.ProtocolTCP || pp.Port.String() != port {
				t.Errorf("%s: port %s opened besides %s", lp.Name, pp.Port.String(), port)
			}
		}
	}
	if n, _ := strconv.Atoi(port); n == 0 {
		t.Errorf("legacy port %q", port)
	}
}
