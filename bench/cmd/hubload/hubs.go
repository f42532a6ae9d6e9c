package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/palisade-sec/palisade/bench/internal/procstatus"
	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// hubProc is one `palisade hub serve` process.
type hubProc struct {
	cmd  *exec.Cmd
	addr string
	log  *os.File
	done chan struct{}
}

// fleetHubs is the hub replicas under test, the database they share and
// the address agents use (a replica's, or the load balancer's).
type fleetHubs struct {
	bin, dataDir, database string
	procs                  []*hubProc
	url                    string
	caPin                  []byte
	lb                     *tcpBalancer
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startHubs starts n replicas one after the other (the first creates the
// CA in an empty database; the others load it) and, for n > 1, a TCP load
// balancer in front of them.
func startHubs(ctx context.Context, bin, dataDir, database string, n int, extra, env []string) (*fleetHubs, error) {
	f := &fleetHubs{bin: bin, dataDir: dataDir, database: database}
	for i := range n {
		addr, err := freeAddr()
		if err != nil {
			return f, err
		}
		logf, err := os.Create(filepath.Join(dataDir, fmt.Sprintf("hub-%d.log", i)))
		if err != nil {
			return f, err
		}
		args := append([]string{"hub", "serve", "--listen", addr, "--tls-san", "127.0.0.1"}, f.dbArgs()...)
		cmd := exec.Command(bin, append(args, extra...)...)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			logf.Close()
			return f, fmt.Errorf("start %s: %w", bin, err)
		}
		p := &hubProc{cmd: cmd, addr: addr, log: logf, done: make(chan struct{})}
		go func() { _ = cmd.Wait(); close(p.done) }()
		f.procs = append(f.procs, p)
		if err := waitReady(ctx, p); err != nil {
			return f, fmt.Errorf("hub %d: %w\n%s", i, err, tail(logf.Name()))
		}
	}
	if n == 1 {
		f.url = "https://" + f.procs[0].addr
	} else {
		var backends []string
		for _, p := range f.procs {
			backends = append(backends, p.addr)
		}
		lb, err := startBalancer(backends)
		if err != nil {
			return f, err
		}
		f.lb = lb
		f.url = "https://" + lb.addr
	}
	fp, err := f.caFingerprint()
	if err != nil {
		return f, err
	}
	f.caPin = fp
	return f, nil
}

func (f *fleetHubs) dbArgs() []string {
	return []string{"--data-dir", f.dataDir, "--database", f.database}
}

func waitReady(ctx context.Context, p *hubProc) error {
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 2 * time.Second} //nolint:gosec // readiness only
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return errors.New("hub exited")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := c.Get("https://" + p.addr + fleetapi.PathHealth)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("not ready after 60s")
}

var fingerprintLine = regexp.MustCompile(`(?m)^ca-fingerprint:\s+sha256:([0-9a-f]{64})$`)

// caFingerprint is the pin an operator passes to the agent: from the
// first bootstrap token the CLI prints (a throwaway cluster).
func (f *fleetHubs) caFingerprint() ([]byte, error) {
	out, err := f.cli(context.Background(), nil, "token", "create", "--cluster", "hubload-pin", "--ttl", "1m")
	if err != nil {
		return nil, err
	}
	m := fingerprintLine.FindStringSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("no ca-fingerprint in %q", out)
	}
	return hex.DecodeString(m[1])
}

// cli runs `palisade hub ARGS` against the hubs' database.
func (f *fleetHubs) cli(ctx context.Context, stdin []byte, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, f.bin, append(append([]string{"hub"}, args...), f.dbArgs()...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("palisade hub %s: %w: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

var tokenLine = regexp.MustCompile(`(?m)^token:\s+(\S+)$`)

// bootstrapToken creates a cluster's bootstrap token with the CLI, as an
// operator does.
func (f *fleetHubs) bootstrapToken(ctx context.Context, cluster string) (string, error) {
	out, err := f.cli(ctx, nil, "token", "create", "--cluster", cluster, "--ttl", "2h")
	if err != nil {
		return "", err
	}
	m := tokenLine.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("cluster %s: no token in the CLI's output", cluster)
	}
	return m[1], nil
}

// rss is the resident set of each replica, KiB.
func (f *fleetHubs) rss() []int {
	out := make([]int, len(f.procs))
	for i, p := range f.procs {
		out[i] = int(procstatus.KiB(p.cmd.Process.Pid, "VmRSS"))
	}
	return out
}

func (f *fleetHubs) stop() {
	if f.lb != nil {
		f.lb.close()
	}
	for _, p := range f.procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		p.log.Close()
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// pinnedTLS trusts the hub whose chain holds the CA with the pinned
// fingerprint (as the agent's --hub-ca-fingerprint does).
func pinnedTLS(pin []byte) *tls.Config {
	return &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // VerifyConnection checks the pinned CA
		VerifyConnection: func(cs tls.ConnectionState) error {
			for _, c := range cs.PeerCertificates {
				if s := sha256.Sum256(c.Raw); bytes.Equal(s[:], pin) && c.IsCA {
					roots := x509.NewCertPool()
					roots.AddCert(c)
					_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
					return err
				}
			}
			return errors.New("hub chain without the pinned CA")
		},
	}
}

// enrol exchanges a bootstrap token for a certificate through the
// enrolment API, retrying the guessing limit's 429 after its Retry-After.
func (f *fleetHubs) enrol(ctx context.Context, token string) (*agentIdentity, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(fleetapi.EnrollRequest{Token: token, CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))})
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: pinnedTLS(f.caPin)}, Timeout: time.Minute}
	defer anon.CloseIdleConnections()
	var er fleetapi.EnrollResponse
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.url+fleetapi.PathEnroll, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := anon.Do(req)
		if err != nil {
			return nil, fmt.Errorf("enrol: %w", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests && attempt < 10 {
			time.Sleep(retryAfter(resp))
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("enrol: %d %s", resp.StatusCode, b)
		}
		if err := json.Unmarshal(b, &er); err != nil {
			return nil, fmt.Errorf("enrol: %w", err)
		}
		break
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair([]byte(er.Certificate), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(er.CA)) {
		return nil, errors.New("enrol: no CA in the answer")
	}
	return &agentIdentity{clusterID: er.ClusterID, agentID: er.AgentID, tls: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: "127.0.0.1"}}, nil
}

func retryAfter(resp *http.Response) time.Duration {
	s, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || s < 1 {
		s = 1
	}
	return time.Duration(min(s, 60)) * time.Second
}

type agentIdentity struct {
	clusterID, agentID string
	tls                *tls.Config
}

// adminTokens creates bootstrap tokens through the admin API (POST
// /api/v1/clusters) with an API token the CLI created, as automation
// enrolling many clusters does: a CLI process per token opens the
// database and derives the hub's keys, about 3 per second on a loaded
// 2-core machine, too slow for 10,000 clusters.
type adminTokens struct {
	c     *http.Client
	url   string
	token string
}

func (f *fleetHubs) newAdminTokens(ctx context.Context) (*adminTokens, error) {
	out, err := f.cli(ctx, nil, "token", "create-api", "--name", "hubload", "--role", "admin", "--expires", "1d")
	if err != nil {
		return nil, err
	}
	// The token is the last line (a notice may come before it).
	lines := strings.Fields(out)
	if len(lines) == 0 {
		return nil, errors.New("palisade hub token create-api printed no token")
	}
	return &adminTokens{c: &http.Client{Transport: &http.Transport{TLSClientConfig: pinnedTLS(f.caPin)}, Timeout: time.Minute}, url: f.url, token: lines[len(lines)-1]}, nil
}

func (a *adminTokens) bootstrapToken(ctx context.Context, cluster string) (string, error) {
	body, _ := json.Marshal(map[string]string{"name": cluster, "ttl": "2h"})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.url+"/api/v1/clusters", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Token string `json:"token"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &out) != nil || out.Token == "" {
		return "", fmt.Errorf("cluster %s: POST /api/v1/clusters: %d %s", cluster, resp.StatusCode, b)
	}
	return out.Token, nil
}

// enrolFleet creates n clusters' bootstrap tokens, with the CLI (cliJobs
// at a time; each is a process that opens the database) or, when api is
// set, through the admin API, and enrols them (at most 8 enrolments in
// flight: the hub's guessing limit counts attempts in flight per address,
// 10 by default).
func (f *fleetHubs) enrolFleet(ctx context.Context, n, cliJobs int, api *adminTokens, progress func(done int)) ([]*agentIdentity, error) {
	ids := make([]*agentIdentity, n)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	sem := make(chan struct{}, cliJobs)
	enrolSem := make(chan struct{}, 8)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i := range n {
		sem <- struct{}{}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var tok string
			var err error
			if api != nil {
				tok, err = api.bootstrapToken(ctx, fmt.Sprintf("edge-%05d", i))
			} else {
				tok, err = f.bootstrapToken(ctx, fmt.Sprintf("edge-%05d", i))
			}
			<-sem
			if err == nil {
				enrolSem <- struct{}{}
				ids[i], err = f.enrol(ctx, tok)
				<-enrolSem
			}
			if err != nil {
				select {
				case errs <- fmt.Errorf("cluster edge-%05d: %w", i, err):
				default:
				}
				cancel()
				return
			}
			mu.Lock()
			done++
			if done%500 == 0 {
				progress(done)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	return ids, nil
}
