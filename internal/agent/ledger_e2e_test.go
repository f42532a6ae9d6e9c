package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/admission"
	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
	"github.com/palisade-sec/palisade/internal/testenv"
)

// TestBreakGlassLedgerOutlivesEvents: on the real API server, break-glass
// uses whose Events are gone (the API server keeps them about an hour; an
// agent down longer missed them) still reach the hub from the webhook's
// ledger ConfigMap, each once, with user, reason and groups; a restarted
// agent does not send them again; the ledger keeps the newest 256 entries
// whatever the number of uses; and webhook replicas appending at once
// lose none (optimistic concurrency on the ConfigMap).
func TestBreakGlassLedgerOutlivesEvents(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := env.AdminClient(t)
	ns := env.CreateNamespace(ctx, t, "bgl-", nil).Name
	system := env.CreateNamespace(ctx, t, "bgl-system-", nil).Name
	if _, err := client.CoreV1().ConfigMaps(system).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fleetapi.BreakGlassLedgerName}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ledger := &admission.BreakGlassLedger{Client: client, Namespace: system, Name: fleetapi.BreakGlassLedgerName}

	sink := admission.NewKubeEventSink(client, quietLog(), 100, 100, "webhook-0").WithLedger(ledger)
	h := breakGlassWebhook(t, ctx, sink)
	if r := review(t, h, breakGlassReview(t, ns, "refused", "mallory", "dev")); r.Allowed {
		t.Fatal("break-glass by a requester outside breakGlassGroups was admitted")
	}
	for _, name := range []string{"first", "second"} {
		if r := review(t, h, breakGlassReview(t, ns, name, "alice", "sre")); !r.Allowed {
			t.Fatalf("break-glass %s denied: %+v", name, r.Result)
		}
	}
	waitFor(t, "3 Events written", time.Minute, func() bool { return sink.Created() == 3 })
	entries := func() []string {
		cm, err := client.CoreV1().ConfigMaps(system).Get(ctx, fleetapi.BreakGlassLedgerName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		keys := make([]string, 0, len(cm.Data))
		for k := range cm.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys
	}
	if got := entries(); len(got) != 3 {
		t.Fatalf("ledger entries %v, want 3", got)
	}
	// The agent was down for more than an hour: the Events are gone.
	if err := client.CoreV1().Events(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}

	p := newHubProc(t)
	state := t.TempDir()
	withLedger := func(c *agent.Config) {
		c.AdmissionEvents, c.BreakGlassLedger = true, system+"/"+fleetapi.BreakGlassLedgerName
	}
	a, stop := runAgent(t, ctx, p, "bgl-edge", client, ns, state, withLedger)
	hubEvents := hubAdmissionEvents(t, ctx, p, a)
	waitFor(t, "the ledger's events on the hub", time.Minute, func() bool { return len(hubEvents(store.AdmissionQuery{})) == 3 })
	bg := hubEvents(store.AdmissionQuery{BreakGlassOnly: true})
	if len(bg) != 2 {
		t.Fatalf("break-glass events on the hub: %+v", bg)
	}
	for _, e := range bg {
		if e.User != "alice" || e.Decision != "allowed" || e.Object.Namespace != ns || !strings.Contains(e.Message, "INC-42 restore") || !strings.Contains(e.Message, "sre") {
			t.Errorf("hub's break-glass event from the ledger: %+v", e)
		}
	}
	waitFor(t, "the agent's outbox drained", time.Minute, func() bool { return a.OutboxStats().Pending == 0 })
	sent := a.OutboxStats().LastSeq
	stop()
	var remembered []string
	if data, err := os.ReadFile(filepath.Join(state, "break-glass-ledger.json")); err != nil || json.Unmarshal(data, &remembered) != nil || len(remembered) != 3 {
		t.Errorf("agent's ledger state: %q (%v), want the 3 keys", data, err)
	}

	// Restarted on its state: nothing of the ledger is recorded again.
	var recorded atomic.Int64
	a2, _ := runAgent(t, ctx, p, "", client, ns, state, withLedger, func(c *agent.Config) {
		c.Logger = slog.New(countingHandler{msg: "break-glass events recorded from the ledger", n: &recorded})
	})
	waitFor(t, "the restarted agent reporting", time.Minute, func() bool { return a2.OutboxStats().LastSeq > sent && a2.OutboxStats().Pending == 0 })
	time.Sleep(time.Second) // the first ledger read happens at start
	if n := recorded.Load(); n != 0 || a2.AdmissionEventsDropped() != 0 {
		t.Errorf("restarted agent recorded ledger entries %d times (dropped %d), want none", n, a2.AdmissionEventsDropped())
	}
	if got := hubEvents(store.AdmissionQuery{}); len(got) != 3 {
		t.Errorf("%d events on the hub after a restart, want 3", len(got))
	}

	// Bounded: the newest 256 of 300 uses stay.
	for i := range 300 {
		e := &admission.Event{Time: time.Unix(2_000_000_000, int64(i)), Type: admission.EventBreakGlass, UID: fmt.Sprintf("bulk-%03d", i), User: "alice", BreakGlassReason: "drill"}
		if err := ledger.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got := entries()
	if len(got) != fleetapi.MaxLedgerEntries || !strings.HasSuffix(got[len(got)-1], "bulk-299") || !strings.HasSuffix(got[0], "bulk-044") {
		t.Fatalf("ledger after 300 more uses: %d entries from %s to %s, want the newest %d", len(got), got[0], got[len(got)-1], fleetapi.MaxLedgerEntries)
	}

	// Two replicas appending at once lose nothing.
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				e := &admission.Event{Time: time.Unix(2_100_000_000, int64(r*100+i)), Type: admission.EventBreakGlass, UID: fmt.Sprintf("race-%d-%02d", r, i), User: "bob", BreakGlassReason: "drill"}
				if err := ledger.Append(ctx, e); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	races := 0
	for _, k := range entries() {
		if strings.Contains(k, "race-") {
			races++
		}
	}
	if races != 40 {
		t.Errorf("%d of 40 concurrent appends in the ledger", races)
	}
}
