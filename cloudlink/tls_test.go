package cloudlink_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/cloudlink/brokertest"
)

// pki is a CA, a broker certificate for 127.0.0.1 and client
// certificates, as PEM files: the AWS IoT model, on loopback.
type pki struct {
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPool *x509.CertPool
	serial int64
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "doorhub test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &pki{dir: t.TempDir(), ca: ca, caKey: key, caPool: x509.NewCertPool(), serial: 1}
	p.caPool.AddCert(ca)
	p.write(t, "ca.pem", "CERTIFICATE", der)
	return p
}

func (p *pki) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue makes a certificate for name (a server for 127.0.0.1, or a
// client) and returns it with its PEM files.
func (p *pki) issue(t *testing.T, name string, server bool) (tls.Certificate, string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p.serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile := p.write(t, name+".pem", "CERTIFICATE", der)
	keyFile := p.write(t, name+".key", "EC PRIVATE KEY", kder)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return cert, certFile, keyFile
}

// TestLinkTLS connects a hub with a CA file and a client certificate to a
// broker that requires one, and checks that a hub without a certificate
// is refused.
func TestLinkTLS(t *testing.T) {
	p := newPKI(t)
	srv, _, _ := p.issue(t, "broker", true)
	b, err := brokertest.Start("127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{srv},
		ClientCAs: p.caPool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	cloudCert, _, _ := p.issue(t, "cloud", false)
	cloud, err := cloudlink.NewCloud(cloudlink.CloudOptions{Broker: b.URL(), Signer: cloudlink.NewSigner(testKey),
		Logger: quietLog(), ClientID: "cloud-tls", Manual: true,
		TLSConfig: &tls.Config{RootCAs: p.caPool, Certificates: []tls.Certificate{cloudCert}, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cloud.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cloud.Close)

	_, certFile, keyFile := p.issue(t, "hub", false)
	caFile := filepath.Join(p.dir, "ca.pem")
	r := newRig(t, b.URL(), true, withCloud(cloud), withOptions(func(o *cloudlink.ClientOptions) {
		o.CAFile, o.CertFile, o.KeyFile = caFile, certFile, keyFile
	}))
	r.waitConnected()
	r.send(r.commit(seedOps()...))
	r.waitAck(1)

	// Without a client certificate the broker refuses the hub.
	anon := newRig(t, b.URL(), true, withCloud(cloud), withOptions(func(o *cloudlink.ClientOptions) { o.CAFile = caFile }))
	time.Sleep(500 * time.Millisecond)
	if st := anon.client.Stats(); anon.client.Connected() || st.ConnectFailures == 0 {
		t.Fatalf("a hub without a certificate: connected %v, stats %+v", anon.client.Connected(), st)
	}
	if _, err := cloudlink.NewClient(cloudlink.ClientOptions{HubID: "h", Broker: b.URL(), CAFile: filepath.Join(p.dir, "missing.pem"),
		Store: r.store, Clock: r.clock, Outbox: r.outbox, Keys: r.opts.Keys}); err == nil {
		t.Fatal("a missing CA file was accepted")
	}
}
