package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	sigsyaml "sigs.k8s.io/yaml"
)

// manifestDirs are the folders of Kubernetes resources.
var manifestDirs = []string{"kubernetes", "monitoring"}

// typeConverter validates built-in kinds against the structural schema
// that client-go embeds (generated from the Kubernetes OpenAPI document of
// its release): unknown fields, wrong types and unknown kinds are errors.
var typeConverter = sync.OnceValue(func() managedfields.TypeConverter {
	return applyconfigurations.NewTypeConverter(scheme.Scheme)
})

// validateSchema checks one document against its schema.
func validateSchema(d doc) error {
	group, _, _ := strings.Cut(d.apiVersion(), "/")
	switch group {
	case "monitoring.coreos.com":
		return decodeMonitoring(d)
	case "kustomize.config.k8s.io":
		return nil // TestKustomizationsListEveryManifest
	}
	_, err := typeConverter().ObjectToTyped(&unstructured.Unstructured{Object: d.obj})
	return err
}

// decodeMonitoring decodes a Prometheus Operator resource strictly into
// the operator's own Go type: the CRDs are generated from those types.
func decodeMonitoring(d doc) error {
	var into any
	switch d.kind() {
	case "PodMonitor":
		into = &monitoringv1.PodMonitor{}
	case "ServiceMonitor":
		into = &monitoringv1.ServiceMonitor{}
	case "PrometheusRule":
		into = &monitoringv1.PrometheusRule{}
	default:
		return errUnknownKind(d)
	}
	if d.apiVersion() != monitoringv1.SchemeGroupVersion.String() {
		return errUnknownKind(d)
	}
	return sigsyaml.UnmarshalStrict(d.raw, into)
}

type unknownKindError struct{ d doc }

func (e unknownKindError) Error() string {
	return "no schema for " + e.d.apiVersion() + " " + e.d.kind()
}

func errUnknownKind(d doc) error { return unknownKindError{d} }

func TestManifestsMatchKubernetesSchema(t *testing.T) {
	n := 0
	for _, dir := range manifestDirs {
		for _, f := range yamlFiles(t, dir) {
			for _, d := range readDocs(t, f) {
				n++
				if d.kind() == "" || d.apiVersion() == "" || d.name() == "" && !isKustomize(d) {
					t.Errorf("%s: apiVersion, kind and metadata.name are required", d)
					continue
				}
				if err := validateSchema(d); err != nil {
					t.Errorf("%s: %v", d, err)
				}
			}
		}
	}
	if n < 12 {
		t.Fatalf("only %d documents found under %v", n, manifestDirs)
	}
	t.Logf("%d documents validated", n)
}

// TestSchemaCheckRejectsBadManifests proves the schema check is not a
// YAML parse: a misspelt field, a wrong type and an unknown kind fail.
func TestSchemaCheckRejectsBadManifests(t *testing.T) {
	dep := findDoc(t, "Deployment", "strangler")
	cases := map[string]func(obj map[string]any){
		"misspelt field": func(obj map[string]any) {
			c := containers(obj)[0]
			c["securityContext"].(map[string]any)["readOnlyRootFileSystem"] = true
		},
		"wrong type":   func(obj map[string]any) { obj["spec"].(map[string]any)["replicas"] = "3" },
		"unknown kind": func(obj map[string]any) { obj["kind"] = "Deploymnet" },
		"bad probe": func(obj map[string]any) {
			containers(obj)[0]["livenessProbe"].(map[string]any)["httpGet"].(map[string]any)["path"] = 42
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			d := dep
			d.obj = roundTrip(t, dep.obj)
			mutate(d.obj)
			if err := validateSchema(d); err == nil {
				t.Fatal("the schema check accepted it")
			} else {
				t.Log(err)
			}
		})
	}
	pm := findDoc(t, "PodMonitor", "strangler")
	pm.raw = []byte(strings.Replace(string(pm.raw), "podMetricsEndpoints:", "podMetricEndpoints:", 1))
	if err := validateSchema(pm); err == nil {
		t.Error("a misspelt PodMonitor field was accepted")
	}
}

func containers(obj map[string]any) []map[string]any {
	spec := obj["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	var out []map[string]any
	for _, c := range spec["containers"].([]any) {
		out = append(out, c.(map[string]any))
	}
	return out
}

// roundTrip marshals v and reads it back as plain values: a deep copy of
// a document, or a typed value as it would be written.
func roundTrip(tb testing.TB, v any) map[string]any {
	tb.Helper()
	b, err := sigsyaml.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	var out map[string]any
	if err := sigsyaml.Unmarshal(b, &out); err != nil {
		tb.Fatal(err)
	}
	return out
}

// findDoc returns the one document of a kind and name under the manifest
// folders (components' patches excluded).
func findDoc(tb testing.TB, kind, name string) doc {
	tb.Helper()
	var found []doc
	for _, dir := range manifestDirs {
		for _, f := range yamlFiles(tb, dir) {
			if strings.Contains(f, "components") {
				continue
			}
			for _, d := range readDocs(tb, f) {
				if d.kind() == kind && d.name() == name {
					found = append(found, d)
				}
			}
		}
	}
	if len(found) != 1 {
		tb.Fatalf("%d documents %s/%s, want 1", len(found), kind, name)
	}
	return found[0]
}

func isKustomize(d doc) bool { return strings.HasPrefix(d.apiVersion(), "kustomize.config.k8s.io/") }

// kustomization is the part of a kustomization (or component) file that
// names other files.
type kustomization struct {
	Resources  []string `json:"resources"`
	Components []string `json:"components"`
	Patches    []struct {
		Path string `json:"path"`
	} `json:"patches"`
}

// TestKustomizationsListEveryManifest: `kubectl apply -k` applies every
// manifest of its folder, and only the example Secret is left out (it
// holds placeholders; real Secrets are created by hand).
func TestKustomizationsListEveryManifest(t *testing.T) {
	listed := map[string]bool{}
	for _, dir := range manifestDirs {
		for _, f := range yamlFiles(t, dir) {
			for _, d := range readDocs(t, f) {
				if !isKustomize(d) {
					continue
				}
				var k kustomization
				if err := sigsyaml.Unmarshal(d.raw, &k); err != nil {
					t.Fatalf("%s: %v", d, err)
				}
				base := filepath.Dir(f)
				names := slices.Clone(k.Resources)
				for _, p := range k.Patches {
					names = append(names, p.Path)
				}
				for _, n := range names {
					rel := filepath.Join(base, n)
					if _, err := os.Stat(filepath.Join(deployDir(t), rel)); err != nil {
						t.Errorf("%s names %s: %v", f, n, err)
					}
					listed[rel] = true
				}
				listed[f] = true
			}
		}
	}
	for _, dir := range manifestDirs {
		for _, f := range yamlFiles(t, dir) {
			if !listed[f] && !strings.HasSuffix(f, ".example.yaml") {
				t.Errorf("%s is not applied by any kustomization", f)
			}
		}
	}
}
