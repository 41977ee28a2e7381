package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/nanopore/strangler/internal/config"
)

// selfSigned writes a certificate for 127.0.0.1 and returns the files and a
// pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "strangler test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	kb, _ := x509.MarshalECPrivateKey(key)
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestBothListenersServeTLSWhenConfigured(t *testing.T) {
	legacy := newLegacyStub(t)
	certFile, keyFile, pool := selfSigned(t)
	cfg := config.Default()
	cfg.Listen, cfg.AdminListen, cfg.LegacyURL, cfg.DatabaseURL = "127.0.0.1:0", "127.0.0.1:0", legacy.URL, ""
	cfg.FlagsFile = filepath.Join(t.TempDir(), "flags.yaml")
	cfg.TLS = config.TLS{CertFile: certFile, KeyFile: keyFile}
	cfg.AdminTLS = cfg.TLS
	cfg.Log.Access = false
	m := NewMain(&cfg, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done; m.Close() }()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for _, u := range []string{m.PublicURL() + "/api/trpc/health", m.AdminURL() + "/healthz"} {
		resp, err := client.Get(u)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.TLS == nil {
			t.Errorf("%s: %d, tls %v", u, resp.StatusCode, resp.TLS != nil)
		}
	}
	// Plain HTTP to a TLS listener is refused.
	if resp, err := http.Get("http://" + m.PublicAddr() + "/"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS listener: %d", resp.StatusCode)
		}
	}
}

func TestTLSConfigErrors(t *testing.T) {
	bad := writeConfig(t, "tls: {cert_file: /nonexistent.pem}\nadmin_tls: {cert_file: /nope.pem, key_file: /nope.key}\n")
	code, _, errOut := run(t, nil, "check-config", "--config", bad)
	if code != exitUsage {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"tls: set both cert_file and key_file", "admin_tls: cannot load the certificate"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("missing %q in %s", want, errOut)
		}
	}
}
