package hubbench

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// seedClusters enrols one agent in each of clusters clusters (edge-N,
// agent ag-N) and stores its first full snapshot of pods pods web-0 …
// built by pod, for the store-level delta benchmarks.
func seedClusters(ctx context.Context, t *testing.T, s store.Store, clusters, pods int, t0 time.Time, pod func(name, message string) fleetapi.ObjectFindings) {
	t.Helper()
	for c := range clusters {
		cl, err := s.EnsureCluster(ctx, fmt.Sprintf("edge-%d", c), t0)
		if err != nil {
			t.Fatal(err)
		}
		secret := sha256.Sum256(fmt.Appendf(nil, "secret-%d", c))
		tok := store.BootstrapToken{ID: fmt.Sprintf("tok-%d", c), ClusterID: cl.ID, Hash: secret[:], CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := s.CreateBootstrapToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if _, err := s.EnrollAgent(ctx, tok.ID, secret[:], store.Agent{ID: fmt.Sprintf("ag-%d", c)}, t0); err != nil {
			t.Fatal(err)
		}
		var objs []fleetapi.ObjectFindings
		for p := range pods {
			objs = append(objs, pod(fmt.Sprintf("web-%d", p), ""))
		}
		env := &fleetapi.Envelope{Seq: 1, Time: t0, Kind: fleetapi.KindFindings, Findings: &fleetapi.FindingsDelta{Full: true, Objects: objs}}
		if _, err := s.Ingest(ctx, fmt.Sprintf("ag-%d", c), env, t0); err != nil {
			t.Fatal(err)
		}
	}
}
