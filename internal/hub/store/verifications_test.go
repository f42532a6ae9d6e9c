package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestImageVerifications: the hub answers "which clusters run images
// without provenance from our builder" from the images each cluster runs
// and the verification its agent reported (an image with none reported is
// not-checked), on both backends; retention bounds the rows like scans.
func TestImageVerifications(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		a := enrolled(t, s, "a", "agent-a")
		b := enrolled(t, s, "b", "agent-b")
		c := enrolled(t, s, "c", "agent-c")
		const dShop, dBase, dOld = "sha256:aaaa", "sha256:bbbb", "sha256:cccc"
		imgs := func(seq uint64, uses ...fleetapi.ImageUse) *fleetapi.Envelope {
			return &fleetapi.Envelope{Seq: seq, Kind: fleetapi.KindImages, Images: &fleetapi.ImageSet{Images: uses}}
		}
		verif := func(seq uint64, digest string, state fleetapi.VerificationState, signers ...string) *fleetapi.Envelope {
			return &fleetapi.Envelope{Seq: seq, Kind: fleetapi.KindImageVerification, ImageVerification: &fleetapi.ImageVerification{
				Digest: digest, Ref: "r", State: state, Policy: "prod v1", Rule: "shop", Signers: signers, CheckedAt: t0,
				Reason: map[bool]string{true: "", false: "no cosign signature found"}[state == fleetapi.VerificationVerified]}}
		}
		const builder = "signature: https://github.com/acme/builder/.github/workflows/build.yml@refs/heads/main from https://token.actions.githubusercontent.com"
		for _, step := range []struct {
			agent string
			env   *fleetapi.Envelope
		}{
			{"agent-a", imgs(1, fleetapi.ImageUse{Ref: "shop:1", Digest: dShop, Workloads: 2}, fleetapi.ImageUse{Ref: "base:1", Digest: dBase, Workloads: 1})},
			{"agent-a", verif(2, dShop, fleetapi.VerificationVerified, builder)},
			{"agent-a", verif(3, dBase, fleetapi.VerificationVerified, "signature: mirror key")},
			{"agent-b", imgs(1, fleetapi.ImageUse{Ref: "shop:1", Digest: dShop, Workloads: 1})},
			{"agent-b", verif(2, dShop, fleetapi.VerificationUnsigned)},
			// c runs shop with no verification reported, and once ran dOld.
			{"agent-c", imgs(1, fleetapi.ImageUse{Ref: "shop:1", Digest: dShop, Workloads: 1})},
			{"agent-c", verif(2, dOld, fleetapi.VerificationFailed)},
		} {
			if _, err := s.Ingest(ctx, step.agent, step.env, t0); err != nil {
				t.Fatal(err)
			}
		}
		type want struct {
			total    int
			clusters []string
		}
		for _, tt := range []struct {
			name string
			q    store.VerificationQuery
			want want
		}{
			{"all images in use", store.VerificationQuery{}, want{4, []string{a.ID, b.ID, c.ID}}},
			{"without provenance from the builder", store.VerificationQuery{Missing: true, Signer: "acme/builder"}, want{3, []string{a.ID, b.ID, c.ID}}},
			{"without any verified provenance", store.VerificationQuery{Missing: true}, want{2, []string{b.ID, c.ID}}},
			{"verified by the builder", store.VerificationQuery{Signer: "ACME/Builder"}, want{1, []string{a.ID}}},
			{"unsigned", store.VerificationQuery{State: fleetapi.VerificationUnsigned}, want{1, []string{b.ID}}},
			{"never checked", store.VerificationQuery{State: fleetapi.VerificationNotChecked}, want{1, []string{c.ID}}},
			{"one cluster", store.VerificationQuery{ClusterID: a.ID, Missing: true, Signer: "builder"}, want{1, []string{a.ID}}},
			{"a signer with LIKE wildcards is literal", store.VerificationQuery{Signer: "%"}, want{0, nil}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				rows, total, sums, err := s.QueryImageVerifications(ctx, tt.q)
				if err != nil {
					t.Fatal(err)
				}
				var clusters []string
				n := 0
				for _, sm := range sums {
					clusters = append(clusters, sm.ClusterID)
					n += sm.Images
				}
				if total != tt.want.total || n != total || len(rows) != total || !sameSet(clusters, tt.want.clusters) {
					t.Fatalf("total %d (summed %d), %d rows, clusters %v; want %d in %v", total, n, len(rows), clusters, tt.want.total, tt.want.clusters)
				}
			})
		}
		rows, _, _, err := s.QueryImageVerifications(ctx, store.VerificationQuery{ClusterID: a.ID, Signer: "builder"})
		if err != nil || len(rows) != 1 || rows[0].Digest != dShop || rows[0].Rule != "shop" || rows[0].Policy != "prod v1" ||
			len(rows[0].Signers) != 1 || rows[0].Signers[0] != builder || !rows[0].CheckedAt.Equal(t0) || rows[0].Workloads != 2 {
			t.Fatalf("row %+v %v", rows, err)
		}
		rows, _, _, _ = s.QueryImageVerifications(ctx, store.VerificationQuery{ClusterID: c.ID})
		if len(rows) != 1 || rows[0].State != fleetapi.VerificationNotChecked || rows[0].Reason == "" {
			t.Fatalf("unreported image %+v", rows)
		}
		// c's verification of an image it no longer runs goes after the
		// retention; quota: a keeps one.
		n, err := s.PruneImageVerifications(ctx, store.ImageScanRetention{Unused: time.Hour, PerCluster: 1}, t0.Add(2*time.Hour))
		if err != nil || n.Unused != 1 || n.Quota != 1 {
			t.Fatalf("pruned %+v %v", n, err)
		}
		rows, _, _, _ = s.QueryImageVerifications(ctx, store.VerificationQuery{ClusterID: a.ID, State: fleetapi.VerificationVerified})
		if len(rows) != 1 {
			t.Fatalf("after the quota a has %d verified images, want 1", len(rows))
		}
	})
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, x := range a {
		m[x] = true
	}
	for _, x := range b {
		if !m[x] {
			return false
		}
	}
	return true
}

// TestOldestTrustedRoots: per cluster, the oldest trusted root among the
// verifications of the images it runs now, on both backends; clusters
// with none reported, and images no longer run, do not count.
func TestOldestTrustedRoots(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		a := enrolled(t, s, "a", "agent-a")
		enrolled(t, s, "b", "agent-b")
		const dShop, dBase, dOld = "sha256:aaaa", "sha256:bbbb", "sha256:cccc"
		verif := func(seq uint64, digest string, root time.Time) *fleetapi.Envelope {
			return &fleetapi.Envelope{Seq: seq, Kind: fleetapi.KindImageVerification, ImageVerification: &fleetapi.ImageVerification{
				Digest: digest, Ref: "r", State: fleetapi.VerificationVerified, Policy: "prod v1", Rule: "shop", Signers: []string{"signature: key"}, CheckedAt: t0, TrustedRootUpdated: root}}
		}
		for _, env := range []*fleetapi.Envelope{
			{Seq: 1, Kind: fleetapi.KindImages, Images: &fleetapi.ImageSet{Images: []fleetapi.ImageUse{{Ref: "shop:1", Digest: dShop, Workloads: 1}, {Ref: "base:1", Digest: dBase, Workloads: 1}}}},
			verif(2, dShop, t0.Add(-48*time.Hour)),
			verif(3, dBase, t0.Add(-2*time.Hour)),
			verif(4, dOld, t0.Add(-900*time.Hour)), // not run
		} {
			if _, err := s.Ingest(ctx, "agent-a", env, t0); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.OldestTrustedRoots(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !got[a.ID].Equal(t0.Add(-48*time.Hour)) {
			t.Fatalf("oldest roots %v, want %s for %s only", got, t0.Add(-48*time.Hour), a.ID)
		}
	})
}
