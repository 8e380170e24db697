package pipeline

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// TLS configures encrypted connections to Kafka. The zero value means
// plaintext.
type TLS struct {
	// Enable turns TLS on; implied by any other field.
	Enable bool
	// CAFile is a PEM bundle of the CAs to trust; default the system roots.
	CAFile string
	// CertFile and KeyFile are the client certificate and key (PEM), for
	// brokers that require client authentication; both or neither.
	CertFile, KeyFile string
	// ServerName overrides the name checked in the broker's certificate;
	// default the host of the broker address.
	ServerName string
}

func (t TLS) enabled() bool {
	return t.Enable || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != ""
}

// Config returns the *tls.Config, or nil when TLS is off. Errors name the
// flag at fault.
func (t TLS) Config() (*tls.Config, error) {
	if !t.enabled() {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("pipeline: tls-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("pipeline: tls-ca-file: %s holds no PEM certificate", t.CAFile)
		}
		c.RootCAs = pool
	}
	switch {
	case t.CertFile != "" && t.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("pipeline: tls-cert-file/tls-key-file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	case t.CertFile != "":
		return nil, errors.New("pipeline: tls-key-file: required with tls-cert-file")
	case t.KeyFile != "":
		return nil, errors.New("pipeline: tls-cert-file: required with tls-key-file")
	}
	return c, nil
}

// SASL configures authentication to Kafka. The zero value means none.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty disables SASL.
	Mechanism string
	// Username and Password are the credentials.
	Username, Password string
}

// mechanism returns the kafka-go mechanism, nil when SASL is off.
func (s SASL) mechanism() (sasl.Mechanism, error) {
	switch strings.ToUpper(s.Mechanism) {
	case "":
		if s.Username != "" || s.Password != "" {
			return nil, errors.New("pipeline: sasl-mechanism: required with sasl-username/sasl-password (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
		return nil, nil
	case "PLAIN":
		if s.Username == "" {
			return nil, errors.New("pipeline: sasl-username: required with sasl-mechanism")
		}
		return plain.Mechanism{Username: s.Username, Password: s.Password}, nil
	case "SCRAM-SHA-256", "SCRAM-SHA-512":
		if s.Username == "" {
			return nil, errors.New("pipeline: sasl-username: required with sasl-mechanism")
		}
		algo := scram.SHA256
		if strings.HasSuffix(strings.ToUpper(s.Mechanism), "512") {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, s.Username, s.Password)
		if err != nil {
			return nil, fmt.Errorf("pipeline: sasl-username/sasl-password: %w", err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("pipeline: sasl-mechanism: must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got %q", s.Mechanism)
}

// connections is what every Kafka connection of the runner is made with.
type connections struct {
	transport *kafka.Transport
	dialer    *kafka.Dialer
}

func newConnections(cfg *Config) (*connections, error) {
	tc, err := cfg.TLS.Config()
	if err != nil {
		return nil, err
	}
	mech, err := cfg.SASL.mechanism()
	if err != nil {
		return nil, err
	}
	return &connections{
		transport: &kafka.Transport{ClientID: "sendgate", IdleTimeout: time.Minute, MetadataTTL: 10 * time.Second,
			DialTimeout: 10 * time.Second, TLS: tc, SASL: mech},
		dialer: &kafka.Dialer{ClientID: "sendgate", Timeout: 10 * time.Second, DualStack: true, TLS: tc, SASLMechanism: mech},
	}, nil
}

// permanent reports whether a connection error will not go away by retrying:
// rejected credentials, a certificate that does not verify, a TLS handshake
// with a plaintext listener.
func permanent(err error) bool {
	if errors.Is(err, kafka.SASLAuthenticationFailed) || errors.Is(err, kafka.UnsupportedSASLMechanism) ||
		errors.Is(err, kafka.IllegalSASLState) || errors.Is(err, kafka.TopicAuthorizationFailed) ||
		errors.Is(err, kafka.GroupAuthorizationFailed) || errors.Is(err, kafka.ClusterAuthorizationFailed) {
		return true
	}
	var (
		uae  x509.UnknownAuthorityError
		hne  x509.HostnameError
		cie  x509.CertificateInvalidError
		cve  *tls.CertificateVerificationError
		rhe  tls.RecordHeaderError
		aerr tls.AlertError
	)
	if errors.As(err, &uae) || errors.As(err, &hne) || errors.As(err, &cie) || errors.As(err, &cve) ||
		errors.As(err, &rhe) || errors.As(err, &aerr) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" {
		return true
	}
	return false
}
