// Package testregistry starts a real OCI registry for tests: Debian's
// docker-registry package (the CNCF distribution registry, 2.8), run as a
// child process on 127.0.0.1 with its storage in the test's temporary
// directory.
//
// When the binary is missing the test is skipped with a message saying how
// to install it (hack/registry/install.sh), unless PALISADE_REQUIRE_REGISTRY=1
// is set, as CI sets it: then the test fails, so a CI machine without the
// registry cannot pass silently.
package testregistry

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// DefaultBinary is where Debian's docker-registry package installs the registry.
const DefaultBinary = "/usr/bin/docker-registry"

// User and Password are the credentials of a registry started with Auth.
const (
	User     = "palisade"
	Password = "palisade-test-secret"
	// passwordHash is bcrypt (cost 5) of Password, made once with the C
	// library's crypt(3); tests need no bcrypt implementation of their own.
	passwordHash = "$2b$05$Cxa1Mu30P1FEeWik81hgVeNQx.CdNeeDZs16CSue67QqrvjH4GRQu"
)

// Options choose how the registry runs.
type Options struct {
	// Auth requires basic authentication (htpasswd) with User and Password.
	Auth bool
}

// Registry is a running registry.
type Registry struct {
	// Host is "127.0.0.1:PORT", to prefix image references with.
	Host string
	cmd  *exec.Cmd
	out  *syncBuffer
}

// Binary returns the registry binary to run: $PALISADE_REGISTRY_BIN, or
// DefaultBinary, or docker-registry on $PATH; "" if there is none.
func Binary() string {
	if b := os.Getenv("PALISADE_REGISTRY_BIN"); b != "" {
		return b
	}
	if _, err := os.Stat(DefaultBinary); err == nil {
		return DefaultBinary
	}
	if p, err := exec.LookPath("docker-registry"); err == nil {
		return p
	}
	return ""
}

// Start runs a registry for the test and stops it on cleanup.
func Start(t testing.TB, opts Options) *Registry {
	t.Helper()
	bin := Binary()
	if bin == "" {
		msg := "docker-registry not installed (run hack/registry/install.sh, or apt-get install docker-registry)"
		if os.Getenv("PALISADE_REQUIRE_REGISTRY") == "1" {
			t.Fatal(msg + "; PALISADE_REQUIRE_REGISTRY=1 makes this a failure")
		}
		t.Skip(msg)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		r, err := start(t, bin, opts)
		if err == nil {
			return r
		}
		lastErr = err
	}
	t.Fatalf("start registry: %v", lastErr)
	return nil
}

func start(t testing.TB, bin string, opts Options) (*Registry, error) {
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	host := "127.0.0.1:" + strconv.Itoa(port)
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  secret: palisade-test-%d
`, filepath.Join(dir, "storage"), host, time.Now().UnixNano())
	if opts.Auth {
		pw := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(pw, []byte(User+":"+passwordHash+"\n"), 0o600); err != nil {
			return nil, err
		}
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: palisade-test\n    path: %s\n", pw)
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	out := &syncBuffer{}
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	r := &Registry{Host: host, cmd: cmd, out: out}
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("registry exited (%v): %s", err, out.String())
		case <-ctx.Done():
			stop()
			return nil, fmt.Errorf("registry did not answer on %s within 30s: %s", host, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := http.Get("http://" + host + "/v2/")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
			break
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("registry log:\n%s", out.String())
		}
	})
	return r, nil
}

// Log returns what the registry printed so far.
func (r *Registry) Log() string { return r.out.String() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 {
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
