package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// deltaPods is a simulated cluster's pods for deltaWALPages: findings of
// the shape bench/cmd/hubload sends (about 14 a pod over some twenty
// rules, 450 bytes of JSON each).
type deltaPods struct {
	next int
	pods []int
}

var deltaRules = []string{"pss/run-as-non-root", "pss/seccomp", "pss/allow-privilege-escalation", "pss/capabilities",
	"hardening/read-only-root-fs", "resources/cpu-limit", "resources/memory-limit", "resources/cpu-request",
	"resources/memory-request", "images/latest-tag", "images/digest", "probes/liveness", "probes/readiness",
	"hardening/automount-token", "pss/privileged", "pss/host-network", "pss/host-path", "hardening/uid",
	"network/no-policy", "hardening/pdb", "hardening/anti-affinity"}

func deltaPodRef(id int) finding.ObjectRef {
	return finding.ObjectRef{Kind: "Pod", Namespace: fmt.Sprintf("team-%02d", id%10), Name: fmt.Sprintf("web-%06d-7f9c8d6b5-x%03d", id, id%997)}
}

func deltaPodFindings(id int) fleetapi.ObjectFindings {
	ref := deltaPodRef(id)
	n := [4]int{15, 20, 5, 17}[id%4]
	o := fleetapi.ObjectFindings{Object: ref}
	for i := range n {
		r := deltaRules[(i+id%4*3)%len(deltaRules)]
		o.Findings = append(o.Findings, finding.Finding{RuleID: r, Severity: finding.Severity(1 + (i+id)%4),
			Title: r + " title", Message: fmt.Sprintf("container app of pod %s/%s: %s is not set as the baseline requires", ref.Namespace, ref.Name, r),
			Object: ref, Field: "spec.containers[0]." + r, Container: "app",
			Remediation: "Set the field in the pod template as the restricted profile of the Pod Security Standards requires; see the rule's references."})
	}
	return o
}

func (p *deltaPods) add() fleetapi.ObjectFindings {
	id := p.next
	p.next++
	p.pods = append(p.pods, id)
	return deltaPodFindings(id)
}

// rollout deletes k random pods and adds k new ones.
func (p *deltaPods) rollout(rng *rand.Rand, k int) *fleetapi.FindingsDelta {
	d := &fleetapi.FindingsDelta{}
	for range k {
		i := rng.IntN(len(p.pods))
		d.Deleted = append(d.Deleted, deltaPodRef(p.pods[i]))
		p.pods[i] = p.pods[len(p.pods)-1]
		p.pods = p.pods[:len(p.pods)-1]
	}
	for range k {
		d.Objects = append(d.Objects, p.add())
	}
	return d
}

// deltaWALPages seeds a SQLite store with clusters of pods and returns
// the WAL frames (pages) the commit of one delta wrote, on average over
// deltas rolling out rollout pods each, one report per commit.
func deltaWALPages(t *testing.T, clusters, pods, rollout, deltas int) float64 {
	t.Helper()
	ctx := context.Background()
	s, err := openSQLite(ctx, filepath.Join(t.TempDir(), "hub.db"), walLimits{every: time.Hour, softPages: 1 << 30, restartWait: time.Millisecond, hardPages: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	agents := make([]string, clusters)
	models := make([]*deltaPods, clusters)
	seqs := make([]uint64, clusters)
	for c := range clusters {
		cl, err := s.EnsureCluster(ctx, fmt.Sprintf("cluster-%03d", c), now)
		if err != nil {
			t.Fatal(err)
		}
		tok := fmt.Sprintf("tok-%03d", c)
		if err := s.CreateBootstrapToken(ctx, BootstrapToken{ID: tok, ClusterID: cl.ID, Hash: []byte(tok), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		agents[c] = fmt.Sprintf("agent-%03d", c)
		if _, err := s.EnrollAgent(ctx, tok, []byte(tok), Agent{ID: agents[c]}, now); err != nil {
			t.Fatal(err)
		}
		m := &deltaPods{}
		snap := &fleetapi.FindingsDelta{Full: true}
		for range pods {
			snap.Objects = append(snap.Objects, m.add())
		}
		models[c] = m
		seqs[c]++
		if _, err := s.Ingest(ctx, agents[c], &fleetapi.Envelope{Seq: seqs[c], Time: now, Kind: fleetapi.KindFindings, Findings: snap}, now); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var frames int64
	for i := range deltas {
		c := rng.IntN(clusters)
		if _, err := s.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			t.Fatal(err)
		}
		seqs[c]++
		env := &fleetapi.Envelope{Seq: seqs[c], Time: now, Kind: fleetapi.KindFindings, Findings: models[c].rollout(rng, rollout)}
		if _, err := s.Ingest(ctx, agents[c], env, now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
		var busy, log, done int64
		if err := s.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &done); err != nil {
			t.Fatal(err)
		}
		frames += log
	}
	return float64(frames) / float64(deltas)
}

// TestDeltaWALPages bounds the pages a durable commit of a delta writes
// on SQLite (each a WAL frame, written and synced): a rollout of one pod
// (its 5–20 findings deleted, a new pod's added) in a fleet of 30
// clusters of 100 pods. Measured at 50 pages with the index on findings
// (rule_id, cluster_id), 24 without it (its entries for one pod's
// findings are spread over the fleet's); the index is kept for the
// dashboard's reads of one rule across the fleet (8× slower without it,
// bench/hub/README.md), so the bound guards against growth beyond that.
func TestDeltaWALPages(t *testing.T) {
	const bound = 64
	if got := deltaWALPages(t, 30, 100, 1, 40); got > bound {
		t.Errorf("a delta rolling out one pod wrote %.1f pages on average, want at most %d", got, bound)
	} else {
		t.Logf("%.1f pages per delta", got)
	}
}
