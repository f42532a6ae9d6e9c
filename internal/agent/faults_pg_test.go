package agent_test

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/hub"
	"github.com/palisade-sec/palisade/internal/hub/pgtest"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestPostgresRestartedUnderIngest restarts the hub's PostgreSQL (an
// immediate shutdown, as a crash or a failover would) twice while an
// agent reports. The hub answers errors while the database is down and
// recovers on its own when it is back; every report ends up stored
// exactly once and none is dropped.
func TestPostgresRestartedUnderIngest(t *testing.T) {
	bin, err := pgtest.BinDir()
	if err != nil {
		if os.Getenv("PALISADE_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("%v (PALISADE_REQUIRE_POSTGRES=1)", err)
		}
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// Its own server, restarted below, committing durably as PostgreSQL
	// ships (pgtest's faster default loses the last commits in a crash).
	pg, err := pgtest.StartDurable(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	st, err := store.Open(ctx, pg.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h, err := hub.New(ctx, hub.Config{Store: st, Logger: quietLog(), Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stopHub := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() { _ = h.Serve(sctx, ln); close(served) }()
	defer func() { stopHub(); <-served }()
	tok, _, err := h.CreateBootstrapToken(ctx, "edge-pg", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := agent.Config{HubURL: "https://" + ln.Addr().String(), Token: tok, CAFingerprint: h.CAFingerprint(),
		StateDir: t.TempDir(), Client: fake.NewClientset(), Namespace: "faults",
		Debounce: 50 * time.Millisecond, MaxDelay: 200 * time.Millisecond, HeartbeatInterval: 200 * time.Millisecond, Logger: quietLog()}
	a, err := agent.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	actx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = a.Run(actx); close(done) }()
	defer func() { stop(); <-done; a.Close() }()

	const reports, perReport = 150, 4
	restarts := map[int]bool{50: true, 100: true}
	for r := range reports {
		if err := a.RecordAdmission(admissionEvents(r, perReport)...); err != nil {
			t.Fatalf("report %d: %v", r, err)
		}
		if restarts[r] {
			if err := pg.Restart(time.Second); err != nil {
				t.Fatalf("restart PostgreSQL: %v", err)
			}
		}
		if r%10 == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor(t, "outbox drained", 2*time.Minute, func() bool { return a.OutboxStats().Pending == 0 })
	counts := storedEvents(t, st, a.ClusterID())
	for r := range reports {
		for _, e := range admissionEvents(r, perReport) {
			if counts[e.UID] != 1 {
				t.Errorf("event %s stored %d times", e.UID, counts[e.UID])
			}
		}
	}
	outbox := a.OutboxStats()
	ag, err := st.GetAgent(ctx, a.AgentID())
	if err != nil {
		t.Fatal(err)
	}
	if ag.LastSeq != outbox.LastSeq || outbox.Dropped != 0 {
		t.Errorf("hub applied up to seq %d, the agent queued up to %d (dropped %d)", ag.LastSeq, outbox.LastSeq, outbox.Dropped)
	}
}
