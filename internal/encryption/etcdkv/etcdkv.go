// Package etcdkv reads etcd for internal/encryption through the etcd v3
// client. It is its own package so that what only reviews configurations
// and reports (the agent, node audits) does not link etcd's gRPC client.
package etcdkv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/palisade-sec/palisade/internal/encryption"
)

// Options say how to reach etcd.
type Options struct {
	Endpoints []string
	// CAFile, CertFile and KeyFile are PEM files; CertFile and KeyFile
	// go together. A https:// endpoint without CAFile uses the system roots.
	CAFile, CertFile, KeyFile string
	// DialTimeout bounds connecting and the first request (default 5s).
	DialTimeout time.Duration
}

// KV reads etcd through the v3 client.
type KV struct {
	client  *clientv3.Client
	timeout time.Duration
}

// Dial connects to etcd and checks, within the dial timeout, that an
// endpoint answers; a wrong URL scheme, a TLS failure or an unreachable
// endpoint is an error then, not a hang later.
func Dial(ctx context.Context, o Options) (*KV, error) {
	if len(o.Endpoints) == 0 {
		return nil, errors.New("--etcd-endpoints: no endpoint given")
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("--etcd-cert and --etcd-key must be given together")
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	secure := false
	for _, e := range o.Endpoints {
		u, err := url.Parse(e)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("--etcd-endpoints: %q is not an http:// or https:// URL", e)
		}
		secure = secure || u.Scheme == "https"
	}
	var tlsConfig *tls.Config
	if secure || o.CAFile != "" || o.CertFile != "" {
		if !secure {
			return nil, errors.New("--etcd-cacert/--etcd-cert/--etcd-key given, but the endpoints are http://: use https:// URLs")
		}
		var err error
		if tlsConfig, err = loadTLS(o); err != nil {
			return nil, err
		}
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   o.Endpoints,
		TLS:         tlsConfig,
		DialTimeout: o.DialTimeout,
		Logger:      zap.NewNop(),
		Context:     ctx,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd %s: %w", strings.Join(o.Endpoints, ","), err)
	}
	kv := &KV{client: client, timeout: o.DialTimeout}
	probe, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()
	if _, err := client.Get(probe, "/", clientv3.WithCountOnly()); err != nil {
		_ = client.Close()
		hint := "check the URL, that etcd listens there, and the CA, certificate and key"
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(probe.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("etcd %s: no answer within %s (%s): %w", strings.Join(o.Endpoints, ","), o.DialTimeout, hint, err)
		}
		return nil, fmt.Errorf("etcd %s: %s: %w", strings.Join(o.Endpoints, ","), hint, err)
	}
	return kv, nil
}

func loadTLS(o Options) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--etcd-cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--etcd-cacert %s: no PEM certificate found", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("--etcd-cert %s / --etcd-key %s: %w", o.CertFile, o.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Close releases the connection.
func (e *KV) Close() error { return e.client.Close() }

// Count implements KV.
func (e *KV) Count(ctx context.Context, prefix string) (int64, error) {
	resp, err := e.client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("etcd count %s: %w", prefix, err)
	}
	return resp.Count, nil
}

// Page implements KV.
func (e *KV) Page(ctx context.Context, from, end string, limit, rev int64, keysOnly bool) ([]encryption.KeyValue, bool, int64, error) {
	opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(limit)}
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	if keysOnly {
		opts = append(opts, clientv3.WithKeysOnly())
	}
	resp, err := e.client.Get(ctx, from, opts...)
	if err != nil {
		return nil, false, 0, fmt.Errorf("etcd range %s: %w", from, err)
	}
	out := make([]encryption.KeyValue, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, encryption.KeyValue{Key: string(kv.Key), Value: kv.Value})
	}
	return out, resp.More, resp.Header.Revision, nil
}

var _ encryption.KV = (*KV)(nil)
