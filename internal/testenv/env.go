package testenv

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// EtcdPrefix is the key prefix the apiserver stores objects under; a Secret
// lives at EtcdPrefix+"/secrets/<namespace>/<name>".
const EtcdPrefix = "/registry"

// Env is one running control plane. Its fields are fixed for its lifetime,
// including across [Env.RestartAPIServer] (same port, same credentials);
// the one exception is a restart that finds its port taken by another
// process, which moves to a new port and updates Config.Host, APIServerURL
// and the admin kubeconfig in place.
type Env struct {
	// Config is an admin rest.Config: a client certificate for user
	// "palisade-admin" in group system:masters. Copy it (rest.CopyConfig)
	// before modifying.
	Config *rest.Config
	// KubeconfigPath is a kubeconfig file with the same admin credentials.
	KubeconfigPath string
	// APIServerURL is https://127.0.0.1:<port>.
	APIServerURL string
	// CA signs the apiserver's serving certificate and is trusted for client
	// certificates.
	CA *CA
	// AdminToken is a static bearer token for user "palisade-token-admin" in
	// system:masters, for code paths that authenticate with tokens.
	AdminToken string
	// EtcdEndpoint is http://127.0.0.1:<port>: plain HTTP on loopback, no
	// client TLS. etcd's JSON gateway is enabled (see [Env.EtcdGet]).
	EtcdEndpoint string
	// AuditLogPath is the audit log file, or "" when auditing is off.
	AuditLogPath string
	// Dir holds the instance's generated files, logs and (unless on
	// /dev/shm elsewhere) etcd data; removed by Stop.
	Dir string

	bins Binaries
	opts Options
	port int // apiserver secure port, kept across restarts

	mu        sync.Mutex // guards apiserver, etcd, stopped
	apiserver *process
	etcd      *process
	stopped   bool
	stopOnce  sync.Once
}

const instancePrefix = "palisade-testenv-"

// Start launches a dedicated instance for this test and stops it at cleanup.
// It skips (or fails, see [Require]) when the binaries are missing and fails
// the test when the control plane does not come up.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*opts.startTimeout())
	defer cancel()
	env, err := Launch(ctx, opts)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(env.Stop)
	return env
}

// Launch starts an instance without a test to tie it to (e.g. from TestMain);
// the caller must call Stop. The error wraps [ErrBinariesNotFound] when the
// binaries are missing.
func Launch(ctx context.Context, opts Options) (_ *Env, err error) {
	bins, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	base := instanceBaseDir()
	sweepStaleInstances(base)
	dir, err := os.MkdirTemp(base, instancePrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, fmt.Errorf("create instance dir in %s: %w", base, err)
	}
	env := &Env{Dir: dir, bins: bins, opts: opts}
	defer func() {
		if err != nil {
			env.Stop()
		}
	}()

	if err := env.writeCredentials(); err != nil {
		return nil, err
	}
	if err := env.startEtcd(ctx); err != nil {
		return nil, err
	}
	if err := env.startAPIServer(ctx); err != nil {
		return nil, err
	}
	return env, nil
}

// instanceBaseDir prefers /dev/shm: etcd fsyncs on every write and a tmpfs
// makes that free, which is most of the apiserver's write latency.
func instanceBaseDir() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		probe, err := os.MkdirTemp("/dev/shm", ".palisade-probe-")
		if err == nil {
			_ = os.Remove(probe)
			return "/dev/shm"
		}
	}
	return os.TempDir()
}

// sweepStaleInstances removes directories of instances whose test binary no
// longer runs (killed before its cleanup); their processes died with it
// through the parent-death signal.
func sweepStaleInstances(base string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), instancePrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() || pidAlive(pid) {
			continue
		}
		_ = os.RemoveAll(filepath.Join(base, e.Name()))
	}
}

func (e *Env) path(name string) string { return filepath.Join(e.Dir, name) }

// writeCredentials generates the CA, the apiserver's serving pair, the admin
// client pair, the service-account key pair, the token file and the admin
// kubeconfig. They stay the same across apiserver restarts.
func (e *Env) writeCredentials() error {
	ca, err := NewCA("palisade-testenv-ca")
	if err != nil {
		return err
	}
	e.CA = ca
	servingCert, servingKey, err := ca.IssueServing("127.0.0.1", "localhost", "::1", "kubernetes.default.svc")
	if err != nil {
		return err
	}
	adminCert, adminKey, err := ca.IssueClient("palisade-admin", "system:masters")
	if err != nil {
		return err
	}
	saKey, err := newKey()
	if err != nil {
		return err
	}
	saKeyPEM, err := encodeKey(saKey)
	if err != nil {
		return err
	}
	saPubDER, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return fmt.Errorf("marshal service-account public key: %w", err)
	}
	files := map[string][]byte{
		"ca.crt":         ca.CertPEM,
		"ca.key":         ca.KeyPEM,
		"apiserver.crt":  servingCert,
		"apiserver.key":  servingKey,
		"admin.crt":      adminCert,
		"admin.key":      adminKey,
		"sa.key":         saKeyPEM,
		"sa.pub":         pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPubDER}),
		"cert-dir/.keep": nil,
	}
	for name, data := range files {
		if err := os.MkdirAll(filepath.Dir(e.path(name)), 0o700); err != nil {
			return fmt.Errorf("create dir for %s: %w", name, err)
		}
		if err := os.WriteFile(e.path(name), data, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	e.AdminToken = randomToken()
	tokens := append([]StaticToken{{Token: e.AdminToken, User: "palisade-token-admin", Groups: []string{"system:masters"}}}, e.opts.Tokens...)
	if err := writeTokenFile(e.path("tokens.csv"), tokens); err != nil {
		return err
	}

	port, err := freePort()
	if err != nil {
		return err
	}
	e.port = port
	e.APIServerURL = "https://127.0.0.1:" + strconv.Itoa(port)
	e.Config = &rest.Config{
		Host: e.APIServerURL,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   ca.CertPEM,
			CertData: adminCert,
			KeyData:  adminKey,
		},
		// Tests issue bursts of requests; client-side throttling would
		// only add flaky latency against a private apiserver.
		QPS:   500,
		Burst: 1000,
	}
	e.KubeconfigPath = e.path("admin.kubeconfig")
	if err := WriteKubeconfig(e.KubeconfigPath, e.Config); err != nil {
		return err
	}
	return nil
}

// freePort asks the kernel for an unused loopback port. Another process can
// grab it before ours binds; the starters retry on "address already in use".
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

const portRetries = 3

func addrInUse(p *process) bool {
	return strings.Contains(p.logTail(200), "address already in use")
}

func (e *Env) startEtcd(ctx context.Context) error {
	var lastErr error
	for attempt := 0; attempt < portRetries; attempt++ {
		clientPort, err := freePort()
		if err != nil {
			return err
		}
		peerPort, err := freePort()
		if err != nil {
			return err
		}
		client := "http://127.0.0.1:" + strconv.Itoa(clientPort)
		peer := "http://127.0.0.1:" + strconv.Itoa(peerPort)
		dataDir := e.path("etcd-data")
		_ = os.RemoveAll(dataDir) // from a failed attempt
		args := []string{
			"--name=testenv",
			"--data-dir=" + dataDir,
			"--listen-client-urls=" + client,
			"--advertise-client-urls=" + client,
			"--listen-peer-urls=" + peer,
			"--initial-advertise-peer-urls=" + peer,
			"--initial-cluster=testenv=" + peer,
			"--initial-cluster-state=new",
			// Data is throwaway; skipping fsync matters when /dev/shm is
			// unavailable and the data dir is on a real disk.
			"--unsafe-no-fsync",
			"--log-level=warn",
		}
		if e.bins.EtcdLegacy {
			// etcd < 3.6 lacks RequestWatchProgress; without periodic
			// progress notifications the apiserver's watches on idle
			// resources fail with "Too large resource version".
			args = append(args, "--experimental-watch-progress-notify-interval=200ms")
		}
		p, err := startProcess("etcd", e.bins.Etcd, args, e.path("etcd.log"))
		if err != nil {
			return err
		}
		e.mu.Lock()
		e.etcd = p
		e.mu.Unlock()
		e.EtcdEndpoint = client
		err = waitReady(ctx, p, e.opts.startTimeout(), func(ctx context.Context) bool {
			return httpOK(ctx, http.DefaultClient, client+"/health")
		})
		if err == nil {
			return nil
		}
		lastErr = err
		p.stop(5 * time.Second)
		if !addrInUse(p) {
			break
		}
	}
	return lastErr
}

// apiserverArgs builds kube-apiserver's command line from the options and
// writes the option-dependent config files.
func (e *Env) apiserverArgs() ([]string, error) {
	o := e.opts
	args := []string{
		"--advertise-address=127.0.0.1",
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(e.port),
		"--etcd-servers=" + e.EtcdEndpoint,
		"--etcd-prefix=" + EtcdPrefix,
		"--cert-dir=" + e.path("cert-dir"),
		"--tls-cert-file=" + e.path("apiserver.crt"),
		"--tls-private-key-file=" + e.path("apiserver.key"),
		"--client-ca-file=" + e.path("ca.crt"),
		"--token-auth-file=" + e.path("tokens.csv"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + e.path("sa.pub"),
		"--service-account-signing-key-file=" + e.path("sa.key"),
		"--authorization-mode=Node,RBAC",
		// Only a string the apiserver allocates Service IPs from; nothing
		// is routed.
		"--service-cluster-ip-range=10.96.0.0/24",
		// The default reconciler writes the kubernetes Endpoints with the
		// advertise address and refuses loopback ones.
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		"--profiling=false",
		"--v=1",
	}
	enable := slices.Clone(o.EnableAdmissionPlugins)
	disable := slices.Clone(o.DisableAdmissionPlugins)
	if !slices.Contains(enable, "ServiceAccount") && !slices.Contains(disable, "ServiceAccount") {
		// No controller-manager creates the "default" ServiceAccount, and
		// the plugin would reject every Pod without one.
		disable = append(disable, "ServiceAccount")
	}
	if len(enable) > 0 {
		args = append(args, "--enable-admission-plugins="+strings.Join(enable, ","))
	}
	if len(disable) > 0 {
		args = append(args, "--disable-admission-plugins="+strings.Join(disable, ","))
	}
	if o.Encryption != nil {
		data, err := o.Encryption.marshal()
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(e.path("encryption.yaml"), data, 0o600); err != nil {
			return nil, fmt.Errorf("write encryption config: %w", err)
		}
		args = append(args, "--encryption-provider-config="+e.path("encryption.yaml"))
	}
	e.AuditLogPath = ""
	if o.Audit != nil {
		policy := o.Audit.Policy
		if policy == "" {
			policy = DefaultAuditPolicy
		}
		if err := os.WriteFile(e.path("audit-policy.yaml"), []byte(policy), 0o600); err != nil {
			return nil, fmt.Errorf("write audit policy: %w", err)
		}
		e.AuditLogPath = e.path("audit.log")
		args = append(args,
			"--audit-policy-file="+e.path("audit-policy.yaml"),
			"--audit-log-path="+e.AuditLogPath,
			"--audit-log-format=json",
			// Write each event as it happens so tests can read the file
			// right after the request.
			"--audit-log-mode=blocking",
		)
		if len(o.Audit.WebhookKubeconfig) > 0 {
			if err := os.WriteFile(e.path("audit-webhook.kubeconfig"), o.Audit.WebhookKubeconfig, 0o600); err != nil {
				return nil, fmt.Errorf("write audit webhook config: %w", err)
			}
			mode := o.Audit.WebhookMode
			if mode == "" {
				mode = "blocking"
			}
			args = append(args,
				"--audit-webhook-config-file="+e.path("audit-webhook.kubeconfig"),
				"--audit-webhook-mode="+mode,
			)
		}
	}
	return append(args, o.ExtraAPIServerFlags...), nil
}

func (e *Env) startAPIServer(ctx context.Context) error {
	args, err := e.apiserverArgs()
	if err != nil {
		return err
	}
	// The admin certificate for the readiness probe: /readyz needs no
	// authentication by default, but RBAC bootstrap completing is what
	// makes the admin usable, and /readyz covers that hook.
	probe, err := e.httpClient()
	if err != nil {
		return err
	}
	var lastErr error
	for attempt := 0; attempt < portRetries; attempt++ {
		p, err := startProcess("kube-apiserver", e.bins.APIServer, args, e.path("kube-apiserver.log"))
		if err != nil {
			return err
		}
		e.mu.Lock()
		e.apiserver = p
		e.mu.Unlock()
		err = waitReady(ctx, p, e.opts.startTimeout(), func(ctx context.Context) bool {
			return httpOK(ctx, probe, e.APIServerURL+"/readyz")
		})
		if err == nil {
			return nil
		}
		lastErr = err
		p.stop(5 * time.Second)
		if !addrInUse(p) {
			break
		}
		// Our port was taken between reservation and bind; move to another
		// one. Config and kubeconfig must follow.
		if e.port, err = freePort(); err != nil {
			return err
		}
		e.APIServerURL = "https://127.0.0.1:" + strconv.Itoa(e.port)
		e.Config.Host = e.APIServerURL
		if err := WriteKubeconfig(e.KubeconfigPath, e.Config); err != nil {
			return err
		}
		if args, err = e.apiserverArgs(); err != nil {
			return err
		}
	}
	return lastErr
}

func (e *Env) httpClient() (*http.Client, error) {
	tlsCfg, err := rest.TLSConfigFor(e.Config)
	if err != nil {
		return nil, fmt.Errorf("admin TLS config: %w", err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}, Timeout: 5 * time.Second}, nil
}

func httpOK(ctx context.Context, c *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitReady polls ready until it reports true, the process exits, timeout
// passes or ctx ends; failures carry the log tail because that is where the
// reason is (bad flag, port in use, etcd unreachable).
func waitReady(ctx context.Context, p *process, timeout time.Duration, ready func(context.Context) bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if ready(ctx) {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited during startup (%v); log tail (%s):\n%s", p.name, p.waitErr, p.logPath, p.logTail(40))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %w; log tail (%s):\n%s", p.name, time.Since(start).Round(time.Millisecond), ctx.Err(), p.logPath, p.logTail(40))
		case <-tick.C:
		}
	}
}

// RestartAPIServer stops the apiserver, applies mutate to the options (e.g.
// a new Encryption for key rotation, or different flags) and starts it again
// on the same port against the same etcd, with the same credentials.
func (e *Env) RestartAPIServer(t testing.TB, mutate func(*Options)) {
	t.Helper()
	if err := e.restartAPIServer(mutate); err != nil {
		t.Fatalf("testenv: restart apiserver: %v", err)
	}
}

func (e *Env) restartAPIServer(mutate func(*Options)) error {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return errors.New("instance is stopped")
	}
	old := e.apiserver
	e.mu.Unlock()
	old.stop(15 * time.Second)
	if mutate != nil {
		mutate(&e.opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*e.opts.startTimeout())
	defer cancel()
	return e.startAPIServer(ctx)
}

// APIServerLogTail returns the last n lines of the apiserver's log, for
// failure messages in tests.
func (e *Env) APIServerLogTail(n int) string {
	return fileTail(e.path("kube-apiserver.log"), n)
}

// Stop kills the apiserver and etcd and removes the instance directory
// (unless PALISADE_TESTENV_KEEP_DIR=1). It is idempotent and safe to call
// concurrently; every call returns only once the instance is gone, so a
// caller that exits right after (Main on a signal) leaves nothing behind.
func (e *Env) Stop() { e.stopOnce.Do(e.stop) }

func (e *Env) stop() {
	e.mu.Lock()
	e.stopped = true
	apiserver, etcd := e.apiserver, e.etcd
	e.mu.Unlock()

	// Everything is thrown away, so there is nothing for a graceful
	// shutdown to protect; SIGKILL saves about a second per instance (the
	// apiserver drains for that long on SIGTERM). Apiserver first, so it
	// never runs against a dead etcd.
	apiserver.stop(0)
	etcd.stop(0)
	if os.Getenv(EnvKeepDir) == "1" {
		fmt.Fprintf(os.Stderr, "testenv: keeping instance dir %s (%s=1)\n", e.Dir, EnvKeepDir)
		return
	}
	_ = os.RemoveAll(e.Dir)
}
