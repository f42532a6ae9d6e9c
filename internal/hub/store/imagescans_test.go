package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestPruneImageScans: an agent that names ever new digests cannot grow
// its cluster's image scans without end: scans of images it does not run
// go after the retention, the rest beyond the quota oldest first, each
// with its vulnerabilities; the images it runs and other clusters' scans
// stay.
func TestPruneImageScans(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		a := enrolled(t, s, "a", "agent-a")
		b := enrolled(t, s, "b", "agent-b")
		vuln := finding.Finding{RuleID: "vuln/CVE-2026-9", Severity: finding.SeverityHigh, Vulnerability: &finding.Vulnerability{ID: "CVE-2026-9", Aliases: []string{"GHSA-9"},
			Package: finding.VulnerablePackage{Name: "zlib", Ecosystem: "deb"}, Installed: "1", Fixed: "2"}}
		send := envelopeSender(t, s)
		scan := func(agent, digest string, at time.Time) {
			send(agent, &fleetapi.Envelope{Kind: fleetapi.KindImageScan, ImageScan: &fleetapi.ImageScan{Digest: digest, Ref: "x", ScannedAt: at, Vulnerabilities: []finding.Finding{vuln}}})
		}
		send("agent-a", &fleetapi.Envelope{Kind: fleetapi.KindImages, Images: &fleetapi.ImageSet{Images: []fleetapi.ImageUse{{Ref: "app:1", Digest: "sha256:run", Workloads: 1}}}})
		scan("agent-a", "sha256:run", t0.Add(-30*24*time.Hour)) // runs: kept however old
		for i := range 6 {                                      // forged digests, oldest first
			scan("agent-a", fmt.Sprintf("sha256:forged%d", i), t0.Add(time.Duration(i-5)*time.Hour))
		}
		scan("agent-a", "sha256:old", t0.Add(-10*24*time.Hour))
		scan("agent-b", "sha256:b-old", t0.Add(-10*24*time.Hour)) // b has only this one: unused, old
		n, err := s.PruneImageScans(ctx, store.ImageScanRetention{Unused: 7 * 24 * time.Hour, PerCluster: 4, MaxDeletes: 100}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if n.Unused != 2 || n.Quota != 3 {
			t.Fatalf("pruned %+v, want 2 unused (old, b-old) and 3 over a's quota (the oldest forged, not the image it runs)", n)
		}
		imgs, err := s.ListImages(ctx, a.ID)
		if err != nil || len(imgs) != 1 || imgs[0].Digest != "sha256:run" || imgs[0].Vulnerabilities["HIGH"] != 1 {
			t.Fatalf("a's images in use: %+v %v", imgs, err)
		}
		for digest, want := range map[string]int{"sha256:run": 1, "sha256:forged0": 0, "sha256:forged1": 0, "sha256:forged2": 0, "sha256:forged3": 1, "sha256:forged5": 1, "sha256:old": 0} {
			vs, err := s.ImageVulnerabilities(ctx, a.ID, digest)
			if err != nil || len(vs) != want {
				t.Errorf("a %s: %d vulnerabilities (%v), want %d", digest, len(vs), err, want)
			}
		}
		if vs, _ := s.ImageVulnerabilities(ctx, b.ID, "sha256:b-old"); len(vs) != 0 {
			t.Errorf("b's unused old scan kept")
		}
		// Bounded per call.
		for i := range 5 {
			scan("agent-b", fmt.Sprintf("sha256:b%d", i), t0)
		}
		n, err = s.PruneImageScans(ctx, store.ImageScanRetention{PerCluster: 1, MaxDeletes: 3}, t0)
		if err != nil || n.Quota != 3 {
			t.Fatalf("bounded prune: %+v %v, want 3", n, err)
		}
	})
}

// TestImageCoverage: the images in use whose vulnerabilities the fleet
// cannot know are counted by why: catalogued without a vulnerability
// database (not matched), not scanned (no scan yet, or no digest to scan)
// and failed; matched images, with vulnerabilities or without, are not.
func TestImageCoverage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		enrolled(t, s, "a", "agent-a")
		enrolled(t, s, "b", "agent-b")
		send := envelopeSender(t, s)
		const stamp = "2026-12-01T00:00:00Z/0123456789ab"
		send("agent-a", &fleetapi.Envelope{Kind: fleetapi.KindImages, Images: &fleetapi.ImageSet{Images: []fleetapi.ImageUse{
			{Ref: "unscanned:1", Digest: "sha256:u"}, {Ref: "catalogued:1", Digest: "sha256:c"}, {Ref: "failed:1", Digest: "sha256:f"},
			{Ref: "matched:1", Digest: "sha256:m"}, {Ref: "nodigest:1"}, {Ref: "nostamp:1", Digest: "sha256:n"}}}})
		send("agent-b", &fleetapi.Envelope{Kind: fleetapi.KindImages, Images: &fleetapi.ImageSet{Images: []fleetapi.ImageUse{
			{Ref: "catalogued:1", Digest: "sha256:c"}}}})
		for _, sc := range []struct {
			agent string
			scan  fleetapi.ImageScan
		}{
			{"agent-a", fleetapi.ImageScan{Digest: "sha256:c", Error: fleetapi.ImageScanNotMatched}},
			{"agent-a", fleetapi.ImageScan{Digest: "sha256:f", DBStamp: stamp, Error: "image f: pull: 500"}},
			{"agent-a", fleetapi.ImageScan{Digest: "sha256:m", DBStamp: stamp}},
			{"agent-a", fleetapi.ImageScan{Digest: "sha256:n"}},                 // no stamp, no error: as stored before, a match
			{"agent-b", fleetapi.ImageScan{Digest: "sha256:c", DBStamp: stamp}}, // b has a database
			{"agent-b", fleetapi.ImageScan{Digest: "sha256:gone", Error: fleetapi.ImageScanNotMatched}},
		} {
			sc.scan.ScannedAt, sc.scan.Vulnerabilities = t0, []finding.Finding{}
			send(sc.agent, &fleetapi.Envelope{Kind: fleetapi.KindImageScan, ImageScan: &sc.scan})
		}
		got, err := s.ImageCoverage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := (store.ImageCoverage{InUse: 7, NotMatched: 1, Unscanned: 2, Failed: 1}); got != want {
			t.Fatalf("coverage %+v, want %+v", got, want)
		}
	})
}

// envelopeSender ingests envelopes as each agent's next in sequence.
func envelopeSender(t *testing.T, s store.Store) func(agent string, env *fleetapi.Envelope) {
	seq := map[string]uint64{}
	return func(agent string, env *fleetapi.Envelope) {
		t.Helper()
		seq[agent]++
		env.Seq = seq[agent]
		if _, err := s.Ingest(context.Background(), agent, env, t0); err != nil {
			t.Fatal(err)
		}
	}
}
