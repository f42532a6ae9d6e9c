package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestDecodersStoreTheSame: reports decoded by the hub's hand-written
// decoders (fleetapi.DecodeReport) and by the reflective decoder alone
// (fleetapi.DecodeReportReflective, the path before them) leave exactly
// the same rows — every column — and counters: a first snapshot, deltas
// that add, change and remove findings and objects, snapshots again with
// some pods changed, suppressed findings, findings the hand-written
// decoder leaves to the reflective one (a vulnerability, an expiry, an
// unknown member), each report's body encoded as the agent encodes it.
func TestDecodersStoreTheSame(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 1))
	type pod struct{ id, gen int }
	var pods []pod
	for i := range 40 {
		pods = append(pods, pod{id: i})
	}
	// special: findings the hand-written decoder leaves to the
	// reflective one, in the odd reports only; the even ones are read by
	// hand whole (TestDecodeReportFast).
	special := false
	podFindings := func(p pod) fleetapi.ObjectFindings {
		ref := finding.ObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: "team", Name: fmt.Sprintf("web-%d", p.id)}
		o := fleetapi.ObjectFindings{Object: ref, Findings: []finding.Finding{}}
		for i := range 3 + p.id%4 + p.gen%2 {
			f := finding.Finding{RuleID: fmt.Sprintf("pss/rule-%d", i), Severity: finding.Severity(1 + (i+p.id)%4), Title: fmt.Sprintf("Rule %d", i),
				Message: fmt.Sprintf("container %q of pod %s: <rule %d> & gen %d", "app", ref.Name, i, p.gen), Object: ref,
				Field: "spec.containers[0].securityContext", Container: "app", Remediation: "Set it.\n"}
			switch (p.id + i) % 7 {
			case 1:
				f.Suppressed, f.Suppression = true, &finding.Suppression{Kind: "annotation", Reason: "accepted"}
			case 2:
				if !special {
					break
				}
				exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
				f.Suppressed, f.Suppression = true, &finding.Suppression{Kind: "policy", Reason: "until then", Expires: &exp}
			case 3:
				if !special {
					break
				}
				f.Vulnerability = &finding.Vulnerability{ID: "CVE-2026-1", Installed: "1.0", Package: finding.VulnerablePackage{Name: "openssl"}}
			}
			o.Findings = append(o.Findings, f)
		}
		return o
	}
	var bodies [][]byte
	add := func(seq uint64, d *fleetapi.FindingsDelta) {
		body, err := json.Marshal(&fleetapi.ReportBatch{Envelopes: []fleetapi.Envelope{{Seq: seq, Time: t0, Kind: fleetapi.KindFindings, Findings: d}}})
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, body)
	}
	// Snapshots carry the agent's digests (read partially by
	// DecodeReportBodyPartial) but for the first and every fourth; one
	// names an object twice (read partially, then whole).
	snapshot := func(seq uint64) *fleetapi.FindingsDelta {
		d := &fleetapi.FindingsDelta{Full: true}
		for _, p := range pods {
			o := podFindings(p)
			if seq != 1 && seq%4 != 0 {
				if err := fleetapi.SetDigest(&o); err != nil {
					t.Fatal(err)
				}
			}
			d.Objects = append(d.Objects, o)
		}
		if seq == 18 {
			d.Objects = append(d.Objects, d.Objects[3])
		}
		return d
	}
	next := 40
	for seq := uint64(1); seq <= 30; seq++ {
		special = seq%2 == 1
		if seq == 1 || seq == 2 || seq%6 == 0 {
			add(seq, snapshot(seq))
			continue
		}
		d := &fleetapi.FindingsDelta{}
		for range rng.IntN(3) { // a rollout
			i := rng.IntN(len(pods))
			d.Deleted = append(d.Deleted, finding.ObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: "team", Name: fmt.Sprintf("web-%d", pods[i].id)})
			pods[i] = pod{id: next}
			next++
			d.Objects = append(d.Objects, podFindings(pods[i]))
		}
		for range 1 + rng.IntN(3) { // changed pods
			i := rng.IntN(len(pods))
			pods[i].gen++
			d.Objects = append(d.Objects, podFindings(pods[i]))
		}
		add(seq, d)
	}
	// The unknown member: the reflective decoder ignores it; the stored
	// bytes keep it.
	bodies[len(bodies)-1] = bytes.Replace(bodies[len(bodies)-1], []byte(`"ruleID":"pss/rule-0"`), []byte(`"x-new":[1],"ruleID":"pss/rule-0"`), 1)

	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		byHand := enrolled(t, s, "by-hand", "hand")
		reflective := enrolled(t, s, "reflective", "refl")
		partial := enrolled(t, s, "partially", "part")
		for i, body := range bodies {
			now := t0.Add(time.Duration(i) * 20 * time.Minute) // past the hourly last_seen refresh now and then
			for _, c := range []struct {
				agent  string
				decode func(*bytes.Reader, any) error
			}{
				{"hand", func(r *bytes.Reader, v any) error { return fleetapi.DecodeReport(r, v) }},
				{"refl", func(r *bytes.Reader, v any) error { return fleetapi.DecodeReportReflective(r, v) }},
				// As the hub reads a report (readAgentReport).
				{"part", func(r *bytes.Reader, v any) error {
					return fleetapi.DecodeReportBodyPartial(body, fleetapi.MaxReportItems, v)
				}},
			} {
				var b fleetapi.ReportBatch
				if err := c.decode(bytes.NewReader(body), &b); err != nil {
					t.Fatalf("report %d, %s: %v", i, c.agent, err)
				}
				if c.agent == "part" {
					partials := 0
					for _, o := range b.Envelopes[0].Findings.Objects {
						if o.Partial {
							partials++
						}
					}
					if d := b.Envelopes[0].Findings; d.Full && i != len(bodies)-1 && (partials == 0) != (d.Objects[0].Digest == "") { // the last: read reflectively (its unknown member)
						t.Fatalf("report %d: %d of %d objects read partially", i, partials, len(d.Objects))
					}
				}
				envs := []*fleetapi.Envelope{&b.Envelopes[0]}
				res, err := s.IngestBatch(ctx, c.agent, envs, now)
				if err != nil {
					t.Fatalf("report %d, %s: %v", i, c.agent, err)
				}
				if len(res) != 1 || !res[0] {
					t.Fatalf("report %d, %s: answered %v", i, c.agent, res)
				}
			}
			got, want := store.AllFindingRows(t, s, byHand.ID), store.AllFindingRows(t, s, reflective.ID)
			if len(got) == 0 || !reflect.DeepEqual(got, want) {
				t.Fatalf("report %d: %d rows stored from the hand-written decoders, %d from the reflective one; first difference: %s", i, len(got), len(want), firstDiff(got, want))
			}
			if part := store.AllFindingRows(t, s, partial.ID); !reflect.DeepEqual(part, want) {
				t.Fatalf("report %d: %d rows stored from partial decoding, %d from the reflective one; first difference: %s", i, len(part), len(want), firstDiff(part, want))
			}
			if pc, err := s.GetCluster(ctx, partial.ID); err != nil {
				t.Fatal(err)
			} else if rc, err := s.GetCluster(ctx, reflective.ID); err != nil {
				t.Fatal(err)
			} else if !reflect.DeepEqual(pc.Findings, rc.Findings) || pc.FindingRows != rc.FindingRows {
				t.Fatalf("report %d: counters %v (%d rows) from partial decoding, %v (%d) from the reflective one", i, pc.Findings, pc.FindingRows, rc.Findings, rc.FindingRows)
			}
			gc, err := s.GetCluster(ctx, byHand.ID)
			if err != nil {
				t.Fatal(err)
			}
			rc, err := s.GetCluster(ctx, reflective.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gc.Findings, rc.Findings) || gc.FindingRows != rc.FindingRows {
				t.Fatalf("report %d: counters %v (%d rows) from the hand-written decoders, %v (%d) from the reflective one", i, gc.Findings, gc.FindingRows, rc.Findings, rc.FindingRows)
			}
		}
	})
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("\n%s\n%s", a[i], b[i])
		}
	}
	return "(one is longer)"
}
