package agent_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// smallDisk mounts a tmpfs of size bytes (a disk that fills up) and
// unmounts it at cleanup. It needs root; without, the test is skipped
// (CI runs as root).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fileSizes lists the files in dir with their sizes (for the log).
func fileSizes(dir string) string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			fmt.Fprintf(&b, "%s %d B; ", e.Name(), fi.Size())
		}
	}
	return b.String()
}

// fill writes a file in dir until the file system is full; removing it
// gives the space back.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatal(err)
		}
	}
}

// TestDiskFull fills the hub's data directory (SQLite on a 6 MiB tmpfs)
// while an agent reports, then the agent's state directory. With the
// hub's disk full the hub answers errors, the agent keeps every report in
// its outbox (none dropped) and the cluster's earlier data stays
// readable; with space back, every report is stored once and the database
// passes SQLite's integrity check. With the agent's disk full, recording
// fails with an error or fits in the outbox's free pages (no panic), every
// accepted report is delivered once, and recording works again once there
// is space.
func TestDiskFull(t *testing.T) {
	hubDisk := smallDisk(t, "6m")
	agentDisk := smallDisk(t, "4m")
	ctx, cancel := context.WithTimeout(context.Background(), 7*time.Minute)
	defer cancel()
	dbPath := filepath.Join(hubDisk, "hub.db")
	st, err := store.OpenSQLite(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // after the hub stops
	// The hub must answer a full disk 503 (never 500, "internal error"),
	// and the agent see it (and keep its reports).
	var internalErrors, refused atomic.Int64
	h, url, tok := serveHub(ctx, t, hub.Config{Store: st, Logger: slog.New(countingHandler{msg: "internal error", n: &internalErrors})}, "edge-disk")
	a := runFaultAgent(ctx, t, agent.Config{HubURL: url, Token: tok, CAFingerprint: h.CAFingerprint(), StateDir: agentDisk, OutboxMaxBytes: 1 << 20,
		Logger: slog.New(countingHandler{msg: "hub cannot store reports now; keeping them queued", n: &refused})})

	report := 0
	record := func(n int) {
		t.Helper()
		for range n {
			// 16 KB of events a report: more than SQLite's slack in its
			// files, so a full disk shows.
			evs := admissionEvents(report, 4)
			for i := range evs {
				evs[i].Message = strings.Repeat("m", 4000)
			}
			if err := a.RecordAdmission(evs...); err != nil {
				t.Fatalf("report %d: %v", report, err)
			}
			report++
		}
	}
	record(5)
	waitFor(t, "first reports applied", time.Minute, func() bool { return a.OutboxStats().Pending == 0 })

	// The hub's disk fills up. SQLite keeps slack in its files (WAL
	// frames it writes again once they are checkpointed, free pages of
	// the database), so the first reports after that may still be
	// stored: how many depends on the checkpointer's timing (a CI machine
	// stored all of 40). Keep recording, a few at a time and within the
	// outbox's bound, until the hub refuses reports (503) again and again
	// for 2 s with reports waiting; the disk (6 MiB, at least 16 KB a
	// report) cannot take more than a few hundred. Whether the agent
	// shows online is no sign: the hub keeps heartbeats in memory when it
	// cannot write them (for a minute), and answers them 200.
	filler := fill(t, hubDisk)
	t.Logf("hub's disk full: %s", fileSizes(hubDisk))
	deadline := time.Now().Add(2 * time.Minute)
	var refusing time.Time // since when the hub refuses with reports waiting
	var refusedThen int64  // 503s seen then
	for {
		s := a.OutboxStats()
		if s.Dropped != 0 {
			t.Fatalf("with the hub's disk full: outbox %+v, want none dropped", s)
		}
		if n := refused.Load(); n > 0 && s.Pending > 0 {
			if refusing.IsZero() {
				refusing, refusedThen = time.Now(), n
			}
			if time.Since(refusing) >= 2*time.Second && n > refusedThen { // refused again, reports still kept
				break
			}
		} else {
			refusing = time.Time{}
			if s.Pending < 16 {
				record(4)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("with the hub's disk full, after %d reports: outbox %+v, online %v, %d answers 503 seen; want the hub refusing and reports kept", report, s, a.Online(), refused.Load())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("the hub refuses after %d reports: outbox %+v", report, a.OutboxStats())
	if got := storedEvents(t, st, a.ClusterID()); len(got) < 5*4 {
		t.Errorf("earlier events unreadable with the disk full: %d", len(got))
	}
	if refused.Load() == 0 || internalErrors.Load() != 0 {
		t.Errorf("with the hub's disk full: the agent saw %d answers 503, the hub answered %d requests 500; want 503s only", refused.Load(), internalErrors.Load())
	}
	if c, err := st.GetCluster(ctx, a.ClusterID()); err != nil {
		t.Error(err)
	} else if v := h.ClusterView(c); v.State != fleetapi.StateRefused || v.RefusedReason != "database unavailable" {
		t.Errorf("cluster shown %s (%q) while its reports are refused, want %s", v.State, v.RefusedReason, fleetapi.StateRefused)
	}

	// Space comes back: everything is stored, once.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "outbox drained after space came back", 2*time.Minute, func() bool { return a.OutboxStats().Pending == 0 })
	if c, err := st.GetCluster(ctx, a.ClusterID()); err == nil && h.ClusterView(c).State != fleetapi.StateOnline {
		t.Errorf("cluster shown %s once its reports are stored again, want online", h.ClusterView(c).State)
	}
	counts := storedEvents(t, st, a.ClusterID())
	for r := range report {
		for _, e := range admissionEvents(r, 4) {
			if counts[e.UID] != 1 {
				t.Errorf("event %s stored %d times", e.UID, counts[e.UID])
			}
		}
	}

	// The agent's own disk fills up. A report fits while the outbox file
	// has free pages inside (reused after acknowledgements), and fails
	// with an error once it must grow; never a panic, and what was
	// accepted is delivered, once.
	agentFiller := fill(t, agentDisk)
	var accepted []int
	failed := 0
	for i := range 200 {
		if err := a.RecordAdmission(admissionEvents(1000+i, 4)...); err != nil {
			failed++
		} else {
			accepted = append(accepted, 1000+i)
		}
	}
	t.Logf("agent's disk full: %d reports accepted, %d refused with an error", len(accepted), failed)
	if err := os.Remove(agentFiller); err != nil {
		t.Fatal(err)
	}
	if err := a.RecordAdmission(admissionEvents(2000, 4)...); err != nil {
		t.Errorf("recording after space came back: %v", err)
	}
	accepted = append(accepted, 2000)
	waitFor(t, "outbox drained after the agent's disk had space again", 2*time.Minute, func() bool { return a.OutboxStats().Pending == 0 })
	counts = storedEvents(t, st, a.ClusterID())
	for _, r := range accepted {
		for _, e := range admissionEvents(r, 4) {
			if counts[e.UID] != 1 {
				t.Errorf("accepted event %s stored %d times", e.UID, counts[e.UID])
			}
		}
	}

	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || !strings.EqualFold(check, "ok") {
		t.Errorf("integrity_check: %q, %v", check, err)
	}
}
