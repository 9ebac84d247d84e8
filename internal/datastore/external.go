package datastore

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// ExternalTLS names the PEM files used to reach an external etcd. Empty
// fields are not used; all empty means plain HTTP.
type ExternalTLS struct {
	CAFile   string
	CertFile string
	KeyFile  string
}

// Config builds a tls.Config from the files, or returns nil when none is set.
func (t ExternalTLS) Config() (*tls.Config, error) {
	if t.CAFile == "" && t.CertFile == "" && t.KeyFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("datastore: ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("datastore: ca %s: no certificates", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("datastore: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// ConnectExternal dials an etcd cluster. tlsConfig may be nil for plain
// HTTP endpoints. The caller closes the returned client.
func ConnectExternal(endpoints []string, tlsConfig *tls.Config) (*clientv3.Client, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("datastore: no etcd endpoints")
	}
	return clientv3.New(clientv3.Config{
		Endpoints:          endpoints,
		TLS:                tlsConfig,
		DialTimeout:        10 * time.Second,
		DialKeepAliveTime:  30 * time.Second,
		MaxCallSendMsgSize: MaxCallSendMsgSize,
		MaxCallRecvMsgSize: MaxCallRecvMsgSize,
		Logger:             zap.NewNop(),
	})
}
