package agent_test

import (
	"context"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/hub"
	"github.com/palisade-sec/palisade/internal/hub/pgtest"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestPostgresRestartedUnderIngest restarts the hub's PostgreSQL (an
// immediate shutdown, as a crash or a failover would) twice while an
// agent reports. The hub answers errors while the database is down and
// recovers on its own when it is back; every report, including those
// recorded while it was down, ends up stored exactly once and none is
// dropped.
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
	pg, err := pgtest.StartWith(ctx, bin, pgtest.Options{Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	st, err := store.Open(ctx, pg.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // after the hub stops
	// While PostgreSQL is down the hub answers 503 (never 500, "internal
	// error"), and the agent sees it.
	var internalErrors, refused atomic.Int64
	h, url, tok := serveHub(ctx, t, hub.Config{Store: st, Logger: slog.New(countingHandler{msg: "internal error", n: &internalErrors})}, "edge-pg")
	a := runFaultAgent(ctx, t, agent.Config{HubURL: url, Token: tok, CAFingerprint: h.CAFingerprint(),
		Logger: slog.New(countingHandler{msg: "hub cannot store reports now; keeping them queued", n: &refused})})

	const reports, perReport = 150, 4
	restarts := map[int]bool{50: true, 100: true}
	for r := range reports {
		if err := a.RecordAdmission(admissionEvents(r, perReport)...); err != nil {
			t.Fatalf("report %d: %v", r, err)
		}
		if restarts[r] {
			// Down until the agent has met the outage: reports recorded
			// while PostgreSQL is down must be refused with 503 and kept,
			// whatever the machine's load does to the send loop's timing.
			pg.Crash()
			before := refused.Load()
			for i := range 5 {
				if err := a.RecordAdmission(admissionEvents(reports+r+i, perReport)...); err != nil {
					t.Fatalf("report recorded while PostgreSQL is down: %v", err)
				}
			}
			waitFor(t, "the agent to meet the outage (503)", time.Minute, func() bool { return refused.Load() > before })
			if err := pg.Relaunch(); err != nil {
				t.Fatalf("restart PostgreSQL: %v", err)
			}
		}
		if r%10 == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor(t, "outbox drained", 2*time.Minute, func() bool { return a.OutboxStats().Pending == 0 })
	if refused.Load() == 0 || internalErrors.Load() != 0 {
		t.Errorf("PostgreSQL restarted: the agent saw %d answers 503, the hub answered %d requests 500; want 503s only", refused.Load(), internalErrors.Load())
	}
	counts := storedEvents(t, st, a.ClusterID())
	recorded := []int{}
	for r := range reports {
		recorded = append(recorded, r)
		if restarts[r] {
			for i := range 5 {
				recorded = append(recorded, reports+r+i)
			}
		}
	}
	for _, r := range recorded {
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
