package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/nanopore/strangler/internal/testutil"
)

// doc is one YAML document of a file, as JSON-compatible values.
type doc struct {
	file  string // relative to deploy/
	index int
	raw   []byte // the document's YAML
	obj   map[string]any
}

func (d doc) String() string {
	return fmt.Sprintf("%s#%d %s/%s", d.file, d.index, d.kind(), d.name())
}

func (d doc) kind() string { s, _ := d.obj["kind"].(string); return s }

func (d doc) apiVersion() string { s, _ := d.obj["apiVersion"].(string); return s }

func (d doc) name() string {
	md, _ := d.obj["metadata"].(map[string]any)
	s, _ := md["name"].(string)
	return s
}

// deployDir is the absolute path of deploy/.
func deployDir(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(testutil.RepoRoot(tb), "deploy")
}

// readDocs splits a YAML file into its documents. Each is decoded strictly
// (a duplicate key is an error: Kubernetes would keep one silently).
func readDocs(tb testing.TB, rel string) []doc {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir(tb), rel))
	if err != nil {
		tb.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []doc
	for i := 0; ; i++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatalf("%s: document %d: %v", rel, i, err)
		}
		raw, err := yaml.Marshal(&n)
		if err != nil {
			tb.Fatalf("%s: document %d: %v", rel, i, err)
		}
		var obj map[string]any
		if err := sigsyaml.UnmarshalStrict(raw, &obj); err != nil {
			tb.Fatalf("%s: document %d: %v", rel, i, err)
		}
		if obj == nil {
			continue // an empty document (comments only)
		}
		out = append(out, doc{file: rel, index: i, raw: raw, obj: obj})
	}
	return out
}

// yamlFiles lists the .yaml files under deploy/dir, relative to deploy/.
func yamlFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	var out []string
	root := deployDir(tb)
	err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			rel, _ := filepath.Rel(root, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// decodeStrict decodes a document into a typed value, refusing unknown
// fields.
func decodeStrict(tb testing.TB, d doc, into any) {
	tb.Helper()
	if err := sigsyaml.UnmarshalStrict(d.raw, into); err != nil {
		tb.Fatalf("%s: %v", d, err)
	}
}
