package deploy

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/elf"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/testutil"
)

// stage is one FROM ... of the Containerfile with its instructions.
type stage struct {
	from, name string
	lines      []string // instructions, continuation lines joined
}

func readContainerfile(tb testing.TB) []stage {
	tb.Helper()
	f, err := os.Open(filepath.Join(deployDir(tb), "Containerfile"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var stages []stage
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if s, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		ins := cur.String()
		cur.Reset()
		if f := strings.Fields(ins); strings.EqualFold(f[0], "FROM") {
			st := stage{from: f[1]}
			if len(f) == 4 && strings.EqualFold(f[2], "AS") {
				st.name = f[3]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) > 0 {
			stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, ins)
		}
	}
	return stages
}

// buildFlags are the Containerfile's `go build` flags and environment.
type buildFlags struct {
	env  []string
	args []string // after "go build", up to the package
}

var quoted = regexp.MustCompile(`"[^"]*"|\S+`)

func (s stage) goBuild(tb testing.TB) buildFlags {
	tb.Helper()
	var bf buildFlags
	for _, l := range s.lines {
		f := quoted.FindAllString(l, -1)
		switch strings.ToUpper(f[0]) {
		case "ENV":
			bf.env = append(bf.env, f[1:]...)
		case "RUN":
			for i := 1; i+1 < len(f); i++ {
				if f[i] == "go" && f[i+1] == "build" {
					for _, a := range f[i+2:] {
						bf.args = append(bf.args, strings.Trim(a, `"`))
					}
				}
			}
		}
	}
	if bf.args == nil {
		tb.Fatalf("stage %s runs no go build", s.name)
	}
	return bf
}

func TestContainerfileIsMultiStageStaticAndNonRoot(t *testing.T) {
	stages := readContainerfile(t)
	if len(stages) < 2 {
		t.Fatalf("%d stages: the image must be built in a builder stage", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	if !strings.Contains(build.from, "golang:") || build.name == "" {
		t.Errorf("builder stage FROM %s AS %q: want a named golang stage", build.from, build.name)
	}
	if !strings.HasPrefix(final.from, "gcr.io/distroless/static") && final.from != "scratch" {
		t.Errorf("final stage FROM %s: want distroless/static or scratch (no shell, no libc)", final.from)
	}
	bf := build.goBuild(t)
	joined := strings.Join(bf.args, " ")
	for _, want := range []string{"-trimpath", "-ldflags -s -w", "./cmd/strangler"} {
		if !strings.Contains(joined, want) {
			t.Errorf("go build %s: missing %s", joined, want)
		}
	}
	if !contains(bf.env, "CGO_ENABLED=0") {
		t.Errorf("builder ENV %v: CGO_ENABLED=0 is required for a static binary", bf.env)
	}
	user := ""
	var copies []string
	for _, l := range final.lines {
		f := strings.Fields(l)
		switch strings.ToUpper(f[0]) {
		case "USER":
			user = f[1]
		case "COPY":
			copies = append(copies, l)
		}
	}
	uid, gid, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("final USER %q: want a numeric non-root uid (runAsNonRoot can only verify a number)", user)
	}
	if gid != "" {
		if n, err := strconv.Atoi(gid); err != nil || n == 0 {
			t.Errorf("final USER %q: want a numeric non-root gid", user)
		}
	}
	want := []string{"--from=" + build.name + " /out/strangler /usr/local/bin/strangler", "config/strangler.yaml /opt/strangler/config/strangler.yaml"}
	for _, w := range want {
		if !containsSubstring(copies, w) {
			t.Errorf("final stage does not COPY %s (has %v)", w, copies)
		}
	}
	checkIgnoreFile(t, build)
}

// checkIgnoreFile: everything the build stage copies from the context is
// let through by the ignore file.
func checkIgnoreFile(t *testing.T, build stage) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir(t), "Containerfile.dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(l), "!"); ok {
			kept[strings.TrimSuffix(s, "/")] = true
		}
	}
	for _, l := range build.lines {
		f := strings.Fields(l)
		if !strings.EqualFold(f[0], "COPY") || strings.HasPrefix(f[1], "--from") {
			continue
		}
		for _, src := range f[1 : len(f)-1] {
			if !kept[strings.TrimSuffix(src, "/")] {
				t.Errorf("COPY %s: excluded by Containerfile.dockerignore", src)
			}
		}
	}
	if !kept["config/strangler.yaml"] {
		t.Error("config/strangler.yaml is excluded by Containerfile.dockerignore")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsSubstring(list []string, s string) bool {
	for _, x := range list {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

// TestImageBinaryIsStaticAndRunsAsNonRoot builds the binary with the
// Containerfile's own flags, checks the ELF file needs no loader and no
// shared library and has no symbol table, lays out the final image's
// working directory and runs `strangler check-config` there as the
// image's user with the cluster's environment (ConfigMap, Secrets and the
// TLS component's keys).
func TestImageBinaryIsStaticAndRunsAsNonRoot(t *testing.T) {
	stages := readContainerfile(t)
	bf := stages[0].goBuild(t)
	root := testutil.RepoRoot(t)
	img := imageLayout(t)
	bin := filepath.Join(img, "usr", "local", "bin", "strangler")
	args := append([]string{"build"}, bf.args...)
	for i, a := range args {
		if a == "-o" {
			args[i+1] = bin
		}
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), bf.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, out)
	}
	checkStatic(t, bin)
	env := clusterEnv(t, img)
	run := exec.Command(bin, "check-config")
	run.Dir = filepath.Join(img, "opt", "strangler")
	run.Env = env
	if os.Geteuid() == 0 {
		// Run as the image's user, as Kubernetes would.
		run.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65532, Gid: 65532}}
	}
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("check-config with the cluster's environment: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// imageLayout makes a directory tree like the final image: the binary's
// folder and /opt/strangler/config/strangler.yaml, readable by others.
func imageLayout(t *testing.T) string {
	t.Helper()
	img, err := os.MkdirTemp("", "strangler-image-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(img) })
	for _, d := range []string{"usr/local/bin", "opt/strangler/config", "etc/strangler/tls"} {
		if err := os.MkdirAll(filepath.Join(img, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(img, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "config", "strangler.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(img, "opt/strangler/config/strangler.yaml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	return img
}

func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary names an ELF interpreter: it is dynamically linked")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("shared libraries %v (%v)", libs, err)
	}
	if f.Section(".symtab") != nil {
		t.Error("the binary keeps its symbol table: -ldflags -s was lost")
	}
}

// clusterEnv is the container's environment in the cluster: the
// ConfigMap, the Secrets' example values, and the TLS component's keys
// pointing at a fresh certificate under img.
func clusterEnv(t *testing.T, img string) []string {
	t.Helper()
	c := loadCluster(t)
	env := []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent"}
	for k, v := range c.env.Data {
		env = append(env, k+"="+v)
	}
	for _, e := range c.container(t).Env {
		if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
			env = append(env, e.Name+"="+c.secrets[ref.SecretKeyRef.Name].StringData[ref.SecretKeyRef.Key])
		}
	}
	writeCert(t, filepath.Join(img, "etc/strangler/tls"))
	for _, e := range c.tlsPatch.Spec.Template.Spec.Containers[0].Env {
		env = append(env, e.Name+"="+filepath.Join(img, e.Value))
	}
	return env
}

// writeCert writes a self-signed tls.crt and tls.key, as a Secret mount
// would hold them (readable by every user: defaultMode 0444).
func writeCert(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "strangler"},
		DNSNames: []string{"strangler"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	write("tls.crt", "CERTIFICATE", der)
	write("tls.key", "PRIVATE KEY", kder)
}
