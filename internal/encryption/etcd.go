package encryption

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
)

// KeyValue is one stored key and its raw value (nil in keys-only reads).
type KeyValue struct {
	Key   string
	Value []byte
}

// KV is the read-only view of etcd the scan needs; tests substitute a map.
type KV interface {
	// Count returns how many keys start with prefix, reading no values.
	Count(ctx context.Context, prefix string) (int64, error)
	// Page returns up to limit keys in [from, end) in key order, at
	// revision rev (0 for the latest), with their values unless keysOnly.
	// It returns the revision it read at, so later pages read the same
	// snapshot, and whether more keys follow.
	Page(ctx context.Context, from, end string, limit, rev int64, keysOnly bool) (kvs []KeyValue, more bool, readRev int64, err error)
}

// EtcdOptions say how to reach etcd.
type EtcdOptions struct {
	Endpoints []string
	// CAFile, CertFile and KeyFile are PEM files; CertFile and KeyFile
	// go together. A https:// endpoint without CAFile uses the system roots.
	CAFile, CertFile, KeyFile string
	// DialTimeout bounds connecting and the first request (default 5s).
	DialTimeout time.Duration
}

// EtcdKV reads etcd through the v3 client.
type EtcdKV struct {
	client  *clientv3.Client
	timeout time.Duration
}

// DialEtcd connects to etcd and checks, within the dial timeout, that an
// endpoint answers; a wrong URL scheme, a TLS failure or an unreachable
// endpoint is an error then, not a hang later.
func DialEtcd(ctx context.Context, o EtcdOptions) (*EtcdKV, error) {
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
		if tlsConfig, err = etcdTLS(o); err != nil {
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
	kv := &EtcdKV{client: client, timeout: o.DialTimeout}
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

func etcdTLS(o EtcdOptions) (*tls.Config, error) {
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
func (e *EtcdKV) Close() error { return e.client.Close() }

// Count implements KV.
func (e *EtcdKV) Count(ctx context.Context, prefix string) (int64, error) {
	resp, err := e.client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("etcd count %s: %w", prefix, err)
	}
	return resp.Count, nil
}

// Page implements KV.
func (e *EtcdKV) Page(ctx context.Context, from, end string, limit, rev int64, keysOnly bool) ([]KeyValue, bool, int64, error) {
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
	out := make([]KeyValue, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, KeyValue{Key: string(kv.Key), Value: kv.Value})
	}
	return out, resp.More, resp.Header.Revision, nil
}

// prefixEnd returns the smallest key greater than every key with prefix.
func prefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return "\x00"
}
