package pipeline_test

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
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/pipeline"
)

func TestSASL(t *testing.T) {
	for _, tc := range []struct {
		mech string
		kgo  func(user, pass string) kgo.Opt
	}{
		{"PLAIN", func(u, p string) kgo.Opt { return kgo.SASL(plain.Auth{User: u, Pass: p}.AsMechanism()) }},
		{"SCRAM-SHA-256", func(u, p string) kgo.Opt { return kgo.SASL(scram.Auth{User: u, Pass: p}.AsSha256Mechanism()) }},
		{"SCRAM-SHA-512", func(u, p string) kgo.Opt { return kgo.SASL(scram.Auth{User: u, Pass: p}.AsSha512Mechanism()) }},
	} {
		t.Run(tc.mech, func(t *testing.T) {
			e := newEnvWith(t, 2, []kfake.Opt{kfake.EnableSASL(), kfake.Superuser(tc.mech, "sendgate", "s3cret")},
				[]kgo.Opt{tc.kgo("sendgate", "s3cret")})
			// Wrong credentials: Run fails at start with a clear error.
			e.launch(func(c *pipeline.Config) {
				c.SASL = pipeline.SASL{Mechanism: tc.mech, Username: "sendgate", Password: "wrong"}
			})
			e.runFails("wrong password", "SASL")

			// Right credentials: decisions flow.
			e.start(func(c *pipeline.Config) {
				c.SASL = pipeline.SASL{Mechanism: tc.mech, Username: "sendgate", Password: "s3cret"}
			})
			defer e.stop()
			e.attempt("a1", "bot", "c", "ana", base())
			if v := e.verdict("a1"); v.Outcome != events.Allowed {
				t.Fatalf("a1: %+v", v)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	serverCfg, caFile := testCA(t, dir)
	pool := x509.NewCertPool()
	pemBytes, _ := os.ReadFile(caFile)
	pool.AppendCertsFromPEM(pemBytes)
	e := newEnvWith(t, 2, []kfake.Opt{kfake.TLS(serverCfg)}, []kgo.Opt{kgo.DialTLSConfig(&tls.Config{RootCAs: pool})})

	// A CA that did not sign the broker's certificate: a clear error at start.
	e.launch(func(c *pipeline.Config) { c.TLS = pipeline.TLS{Enable: true} })
	e.runFails("untrusted certificate", "certificate")

	e.start(func(c *pipeline.Config) { c.TLS = pipeline.TLS{CAFile: caFile} })
	defer e.stop()
	e.attempt("a1", "bot", "c", "ana", base())
	if v := e.verdict("a1"); v.Outcome != events.Allowed {
		t.Fatalf("a1: %+v", v)
	}
}

func TestSecurityConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  pipeline.Config
		want string
	}{
		{pipeline.Config{SASL: pipeline.SASL{Mechanism: "GSSAPI", Username: "u"}}, "sasl-mechanism"},
		{pipeline.Config{SASL: pipeline.SASL{Mechanism: "PLAIN"}}, "sasl-username"},
		{pipeline.Config{SASL: pipeline.SASL{Username: "u", Password: "p"}}, "sasl-mechanism"},
		{pipeline.Config{TLS: pipeline.TLS{CAFile: "/nonexistent/ca.pem"}}, "tls-ca-file"},
		{pipeline.Config{TLS: pipeline.TLS{CertFile: "c.pem"}}, "tls-key-file"},
	} {
		tc.cfg.Brokers = []string{"127.0.0.1:9092"}
		tc.cfg.EnsureDefaults()
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", tc.cfg.SASL, err, tc.want)
		}
	}
}

// testCA writes a CA certificate to dir and returns a server TLS config with
// a certificate it signed for 127.0.0.1.
func testCA(t *testing.T, dir string) (*tls.Config, string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sendgate test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}}}, caFile
}

// A missing topic is a clear error at start when topics are not created.
func TestMissingTopicFailsAtStart(t *testing.T) {
	e := newEnv(t, 2)
	e.launch(func(c *pipeline.Config) { c.VerdictsTopic = "no-such-topic" })
	e.runFails("missing topic", "verdicts-topic", "no-such-topic")
}

// A broker without transactions (Kafka before 2.5 here: TxnOffsetCommit v3
// is KIP-447's) stops the processor at start with an error saying so.
func TestBrokerWithoutTransactionsFailsAtStart(t *testing.T) {
	e := newEnvWith(t, 1, []kfake.Opt{kfake.MaxVersions(kversion.V2_4_0())}, nil)
	e.launch()
	e.runFails("no transactions", "does not support", "transactions")
}

// runFails waits for the launched runner to fail at start with an error
// containing every one of want, then closes its store.
func (e *env) runFails(what string, want ...string) {
	e.t.Helper()
	select {
	case err := <-e.done:
		if err == nil {
			e.t.Fatalf("%s: Run returned nil, want an error about %s", what, strings.Join(want, ", "))
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				e.t.Fatalf("%s: Run returned %v, want an error about %s", what, err, strings.Join(want, ", "))
			}
		}
		e.t.Logf("%s: %v", what, err)
	case <-time.After(30 * time.Second):
		e.t.Fatalf("%s: Run neither failed nor stopped", what)
	}
	e.store.Close()
	e.runner = nil
}
