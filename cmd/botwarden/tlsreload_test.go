package main

import (
	"bytes"
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
)

// writePair writes a self-signed certificate for 127.0.0.1 named cn, and
// its key, to certFile and keyFile.
func writePair(t *testing.T, cn, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if certFile != "" {
		if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if keyFile != "" {
		if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// servedName is the common name of the certificate a TLS handshake with
// addr presents.
func servedName(t *testing.T, addr string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // the test reads the name itself
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
}

func TestCertReloader_PicksUpARenewedPairAndKeepsServingThroughABadOne(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writePair(t, "first", certFile, keyFile)
	var logs bytes.Buffer
	r, err := newCertReloader(certFile, keyFile, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	r.every = 0 // check the files at every handshake

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(http.NotFoundHandler(), serverTimeouts)
	srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	if got := servedName(t, addr); got != "first" {
		t.Fatalf("served %q, want first", got)
	}
	writePair(t, "second", certFile, keyFile)
	if got := servedName(t, addr); got != "second" {
		t.Fatalf("after renewal served %q, want second", got)
	}
	// A rotation half done: a new certificate beside the old key.
	writePair(t, "third", certFile, "")
	if got := servedName(t, addr); got != "second" {
		t.Fatalf("with a mismatched pair served %q, want second still", got)
	}
	if got := servedName(t, addr); got != "second" { // checked again, still mismatched
		t.Fatalf("with a mismatched pair served %q, want second still", got)
	}
	if n := strings.Count(logs.String(), "does not load"); n != 1 {
		t.Errorf("%d warnings for one mismatched pair checked twice, want 1: %s", n, logs.String())
	}
	writePair(t, "third", "", keyFile) // ... and its key arrives
	writePair(t, "third", certFile, keyFile)
	if got := servedName(t, addr); got != "third" {
		t.Fatalf("after the rotation completed served %q, want third", got)
	}
}

func TestCertReloader_ChecksAtMostEverySoOften(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writePair(t, "first", certFile, keyFile)
	now := time.Unix(1_700_000_000, 0)
	r, err := newCertReloader(certFile, keyFile, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	r.now = func() time.Time { return now }
	r.checked = now
	name := func() string {
		c, err := r.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.Subject.CommonName
	}
	writePair(t, "second", certFile, keyFile)
	now = now.Add(500 * time.Millisecond)
	if got := name(); got != "first" {
		t.Fatalf("half a second later served %q: the files were read before the interval", got)
	}
	now = now.Add(600 * time.Millisecond)
	if got := name(); got != "second" {
		t.Fatalf("after the interval served %q, want second", got)
	}
}

func TestCertReloader_RefusesABadPairAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writePair(t, "a", certFile, "")
	writePair(t, "b", "", keyFile)
	if _, err := newCertReloader(certFile, keyFile, zerolog.Nop()); err == nil {
		t.Fatal("a certificate and a key that do not match were accepted at start")
	}
}
