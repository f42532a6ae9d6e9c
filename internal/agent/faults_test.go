package agent_test

// Fault tests of the fleet (issue #16, "A standing adversarial suite"):
// the hub killed mid-batch, the agent's clock an hour off, the hub's disk
// full. Each checks what an operator relies on: nothing lost, nothing
// counted twice, every state visible.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// faultHubEnv makes the test binary a hub process ("DIR ADDR"): the hub
// is a separate process so the test can kill it with SIGKILL.
const faultHubEnv = "PALISADE_TEST_FAULT_HUB"

// runFaultHubChild serves a hub when the test binary was started as one
// (TestMain calls it first); it never returns then.
func runFaultHubChild() {
	v := os.Getenv(faultHubEnv)
	if v == "" {
		return
	}
	dir, addr, _ := strings.Cut(v, " ")
	if err := serveFaultHub(dir, addr); err != nil {
		fmt.Fprintln(os.Stderr, "fault hub:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

func serveFaultHub(dir, addr string) error {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "hub.db"))
	if err != nil {
		return err
	}
	// The keys are files in the data directory, as in a real hub: a hub
	// started again on the same database must find the same CA.
	keys := hub.KeyFiles{CAKey: filepath.Join(dir, "keys", "ca.key"), BundleKey: filepath.Join(dir, "keys", "bundle-signing.key")}
	h, err := hub.New(ctx, hub.Config{Store: st, Keys: keys, Logger: quietLog(), Hosts: []string{"127.0.0.1"}})
	if err != nil {
		return err
	}
	tokenFile := filepath.Join(dir, "token")
	if _, err := os.Stat(tokenFile); os.IsNotExist(err) {
		tok, _, err := h.CreateBootstrapToken(ctx, "edge-faults", time.Hour)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "fingerprint"), []byte(h.CAFingerprint()), 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(tokenFile+".tmp", []byte(tok), 0o600); err != nil {
			return err
		}
		if err := os.Rename(tokenFile+".tmp", tokenFile); err != nil {
			return err
		}
	}
	var ln net.Listener
	for i := 0; ; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil || i == 100 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("ready-%d", os.Getpid())), nil, 0o600); err != nil {
		return err
	}
	return h.Serve(ctx, ln)
}

// hubProcess is a hub in a child process on a fixed address and data
// directory, so it can be killed and started again as the same hub.
type hubProcess struct {
	t    *testing.T
	dir  string
	addr string
	cmd  *exec.Cmd
}

func startHubProcess(t *testing.T) *hubProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &hubProcess{t: t, dir: t.TempDir(), addr: addr}
	p.start()
	t.Cleanup(func() { p.kill(syscall.SIGTERM) })
	return p
}

func (p *hubProcess) start() {
	p.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), faultHubEnv+"="+p.dir+" "+p.addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.cmd = cmd
	ready := filepath.Join(p.dir, fmt.Sprintf("ready-%d", cmd.Process.Pid))
	waitFor(p.t, "hub process ready", time.Minute, func() bool {
		_, err := os.Stat(ready)
		return err == nil
	})
}

// kill stops the hub process with sig (SIGKILL: no cleanup at all).
func (p *hubProcess) kill(sig syscall.Signal) {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	_ = p.cmd.Wait()
	p.cmd = nil
}

func (p *hubProcess) read(name string) string {
	p.t.Helper()
	data, err := os.ReadFile(filepath.Join(p.dir, name))
	if err != nil {
		p.t.Fatal(err)
	}
	return string(data)
}

// admissionEvents makes n admission events with unique UIDs.
func admissionEvents(report, n int) []fleetapi.AdmissionEvent {
	out := make([]fleetapi.AdmissionEvent, n)
	for i := range out {
		out[i] = fleetapi.AdmissionEvent{Time: time.Now().UTC(), UID: fmt.Sprintf("r%04d-e%d", report, i), Operation: "CREATE",
			Decision: "denied", Message: "fault test"}
		out[i].Object.Kind, out[i].Object.Namespace, out[i].Object.Name = "Pod", "faults", fmt.Sprintf("p-%d-%d", report, i)
	}
	return out
}

// storedEvents counts the cluster's stored admission events by UID.
func storedEvents(t *testing.T, st store.Store, clusterID string) map[string]int {
	t.Helper()
	evs, err := st.ListAdmissionEvents(context.Background(), store.AdmissionQuery{ClusterID: clusterID, Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range evs {
		out[e.UID]++
	}
	return out
}

// TestHubKilledMidBatch kills a real hub process with SIGKILL three times
// while an agent sends batches of reports, restarting it each time on the
// same database. Every report must end up stored exactly once (its events
// once each, the agent's sequence number where the outbox ended), none
// left in the outbox, none dropped.
func TestHubKilledMidBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts hub processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	p := startHubProcess(t)
	a := runFaultAgent(ctx, t, agent.Config{HubURL: "https://" + p.addr, Token: p.read("token"), CAFingerprint: p.read("fingerprint")})

	const reports, perReport = 240, 5
	kills := map[int]bool{60: true, 120: true, 180: true}
	for r := range reports {
		if err := a.RecordAdmission(admissionEvents(r, perReport)...); err != nil {
			t.Fatalf("report %d: %v", r, err)
		}
		if kills[r] {
			// Kill while batches are in flight (the outbox holds what was
			// queued since), then start the same hub again.
			waitFor(t, "a batch in flight", 30*time.Second, func() bool { return a.OutboxStats().Pending < r })
			t.Logf("SIGKILL after report %d with %d reports queued", r, a.OutboxStats().Pending)
			p.kill(syscall.SIGKILL)
			time.Sleep(200 * time.Millisecond)
			p.start()
		}
		if r%20 == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor(t, "outbox drained", 2*time.Minute, func() bool { return a.OutboxStats().Pending == 0 })
	outbox := a.OutboxStats()
	p.kill(syscall.SIGTERM)

	st, err := store.OpenSQLite(ctx, filepath.Join(p.dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	counts := storedEvents(t, st, a.ClusterID())
	for r := range reports {
		for _, e := range admissionEvents(r, perReport) {
			if n := counts[e.UID]; n != 1 {
				t.Errorf("event %s stored %d times", e.UID, n)
			}
		}
	}
	if len(counts) != reports*perReport {
		t.Errorf("%d events stored, want %d", len(counts), reports*perReport)
	}
	ag, err := st.GetAgent(ctx, a.AgentID())
	if err != nil {
		t.Fatal(err)
	}
	if ag.LastSeq != outbox.LastSeq || outbox.Dropped != 0 {
		t.Errorf("hub applied up to seq %d, the agent queued up to %d (dropped %d)", ag.LastSeq, outbox.LastSeq, outbox.Dropped)
	}
}

// countingHandler counts log records with a message.
type countingHandler struct {
	msg string
	n   *atomic.Int64
}

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// TestAgentClockAnHourOff runs an agent whose clock is an hour ahead of
// and an hour behind the hub's, with 90-minute client certificates
// (renewed at two thirds of their life). Enrolment, reports and
// heartbeats work; the cluster is online by the hub's clock; report and
// event times are kept as the agent sent them; and the certificate is
// renewed once per life, not again and again (an hour ahead, each new
// certificate looked two thirds gone at once) nor after it expired (an
// hour behind).
func TestAgentClockAnHourOff(t *testing.T) {
	for _, skew := range []time.Duration{time.Hour, -time.Hour} {
		t.Run(fmt.Sprintf("agent %+v", skew), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hub.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() }) // after the hub stops
			const ttl = 90 * time.Minute
			h, url, tok := serveHub(ctx, t, hub.Config{Store: st, CertTTL: ttl, StaleAfter: 3 * time.Second, OfflineAfter: 10 * time.Second}, "edge-skew")
			// The agent's clock runs from an offset; moved forward below to
			// where renewal is due.
			var offset atomic.Int64
			offset.Store(int64(skew))
			agentNow := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
			var renewals atomic.Int64
			a := runFaultAgent(ctx, t, agent.Config{HubURL: url, Token: tok, CAFingerprint: h.CAFingerprint(), Now: agentNow,
				Logger: slog.New(countingHandler{msg: "client certificate renewed", n: &renewals})})

			sent := admissionEvents(1, 3)
			if err := a.RecordAdmission(sent...); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "reports applied", time.Minute, func() bool { return a.OutboxStats().Pending == 0 && a.Online() })
			// Long enough for a renewal loop to show (each is a round trip).
			time.Sleep(2 * time.Second)
			if n := renewals.Load(); n != 0 {
				t.Errorf("certificate renewed %d times within seconds of enrolment", n)
			}
			// Online by the hub's clock: heartbeats every 200 ms, stale
			// after 3 s. Polled, since one heartbeat can be late on a
			// loaded machine; an hour behind never gets there.
			var cs []store.Cluster
			deadline := time.Now().Add(time.Minute)
			for {
				if cs, err = st.ListClusters(ctx); err != nil || len(cs) != 1 {
					t.Fatalf("clusters %v, %v", cs, err)
				}
				if cs[0].State(time.Now(), 3*time.Second, 10*time.Second) == fleetapi.StateOnline {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("cluster %s by the hub's clock for a minute, want online (last seen %s)", cs[0].State(time.Now(), 3*time.Second, 10*time.Second), cs[0].LastSeen)
				}
				time.Sleep(100 * time.Millisecond)
			}
			evs, err := st.ListAdmissionEvents(ctx, store.AdmissionQuery{ClusterID: a.ClusterID()})
			if err != nil || len(evs) != len(sent) {
				t.Fatalf("%d events stored, want %d (%v)", len(evs), len(sent), err)
			}
			for _, e := range evs {
				for _, s := range sent {
					if s.UID == e.UID && !s.Time.Equal(e.Time) {
						t.Errorf("event %s: stored time %s, sent %s", e.UID, e.Time, s.Time)
					}
				}
			}

			if skew > 0 {
				return // the renewal below takes a minute of the agent's polling
			}
			// Two thirds of the certificate's life later on the agent's
			// clock (an hour behind: a third of its life left on the hub's):
			// one renewal, and the agent keeps reporting with the new
			// certificate.
			offset.Add(int64(ttl * 2 / 3))
			waitFor(t, "certificate renewed", time.Minute, func() bool { return renewals.Load() >= 1 })
			time.Sleep(2 * time.Second)
			if n := renewals.Load(); n != 1 {
				t.Errorf("certificate renewed %d times, want once", n)
			}
			if err := a.RecordAdmission(admissionEvents(2, 1)...); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "report after renewal applied", time.Minute, func() bool { return a.OutboxStats().Pending == 0 && a.Online() })
		})
	}
}

// serveHub serves a hub of cfg on a loopback port until the test ends and
// enrols a cluster: it returns the hub, its URL and a bootstrap token.
func serveHub(ctx context.Context, t *testing.T, cfg hub.Config, cluster string) (*hub.Hub, string, string) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLog()
	}
	cfg.Hosts = []string{"127.0.0.1"}
	h, err := hub.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() { _ = h.Serve(sctx, ln); close(served) }()
	t.Cleanup(func() { stop(); <-served })
	tok, _, err := h.CreateBootstrapToken(ctx, cluster, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return h, "https://" + ln.Addr().String(), tok
}

// runFaultAgent starts an agent (fake cluster, fast timers, quiet log
// unless cfg says otherwise) and runs it until the test ends.
func runFaultAgent(ctx context.Context, t *testing.T, cfg agent.Config) *agent.Agent {
	t.Helper()
	if cfg.StateDir == "" {
		cfg.StateDir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLog()
	}
	if cfg.Client == nil {
		cfg.Client, cfg.Namespace = fake.NewClientset(), "faults"
	}
	cfg.Debounce, cfg.MaxDelay, cfg.HeartbeatInterval = 50*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond
	a, err := agent.New(ctx, cfg)
	if err != nil {
		t.Fatalf("agent: %v", err)
	}
	actx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = a.Run(actx); close(done) }()
	t.Cleanup(func() { stop(); <-done; a.Close() })
	return a
}

// TestTokenFile: an agent enrols with the token read from --token-file (a
// mounted Secret), and a file that is not a token is refused by name.
func TestTokenFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h, url, tok := serveHub(ctx, t, hub.Config{Store: st}, "edge-token-file")
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("pbt_a\npbt_b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.New(ctx, agent.Config{HubURL: url, TokenFile: bad, CAFingerprint: h.CAFingerprint(), StateDir: t.TempDir(),
		Client: fake.NewClientset(), Logger: quietLog()}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("two-line token file: %v", err)
	}
	good := filepath.Join(dir, "token")
	if err := os.WriteFile(good, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := runFaultAgent(ctx, t, agent.Config{HubURL: url, TokenFile: good, CAFingerprint: h.CAFingerprint()})
	if a.ClusterID() == "" {
		t.Error("not enrolled")
	}
}
