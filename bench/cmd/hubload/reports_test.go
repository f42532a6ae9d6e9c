package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// decodeReport reads a report's gzip member(s) back as the hub does.
func decodeReport(t *testing.T, z []byte) *fleetapi.Envelope {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	js, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var env fleetapi.Envelope
	if err := json.Unmarshal(js, &env); err != nil {
		t.Fatalf("%v: %.200s", err, js)
	}
	return &env
}

// enrolledStore is a SQLite store with one cluster and its agent "a",
// closed at the end of the test.
func enrolledStore(t *testing.T, now time.Time) (*store.SQLite, store.Cluster) {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c, err := st.EnsureCluster(ctx, "edge", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateBootstrapToken(ctx, store.BootstrapToken{ID: "t", ClusterID: c.ID, Hash: []byte("h"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EnrollAgent(ctx, "t", []byte("h"), store.Agent{ID: "a"}, now); err != nil {
		t.Fatal(err)
	}
	return st, c
}

// TestModelMatchesStore: the reports the generator sends, applied by the
// hub's store, leave exactly the findings its model counts, so a
// mismatch in a run is the hub's fault, not the generator's. Snapshots
// (with their cached members) and deltas of every shape are mixed.
func TestModelMatchesStore(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	st, c := enrolledStore(t, now)
	m := newClusterModel(30)
	rng := rand.New(rand.NewPCG(1, 1))
	var seq uint64
	for step, tc := range []struct {
		name string
		k, c int
		snap bool
	}{
		{"first snapshot", 0, 0, true},
		{"changes only", 0, 3, false},
		{"rollout of one", 1, 1, false},
		{"rollout of twenty", 20, 2, false},
		{"snapshot again, cached", 0, 0, true},
		{"snapshot after changes", 0, 5, true},
		{"rollout of five", 5, 3, false},
	} {
		seq++
		var env *fleetapi.Envelope
		if tc.snap {
			if tc.c > 0 {
				m.delta(rng, 0, tc.c)
			}
			z, _ := m.snapshotEnvelopeZ(seq, now)
			env = decodeReport(t, z)
		} else {
			z, _ := envelopeZ(&fleetapi.Envelope{Seq: seq, Time: now, Kind: fleetapi.KindFindings, Findings: m.delta(rng, tc.k, tc.c)})
			env = decodeReport(t, z)
		}
		applied, err := st.Ingest(ctx, "a", env, now)
		if err != nil || !applied {
			t.Fatalf("step %d (%s): applied %v, %v", step, tc.name, applied, err)
		}
		n, err := st.CountFindings(ctx, store.FindingQuery{ClusterID: c.ID})
		if err != nil || n != m.findings() {
			t.Fatalf("step %d (%s): the hub holds %d findings, the model %d (%v)", step, tc.name, n, m.findings(), err)
		}
	}
}

// TestBatchBodyDecodes: a batch body of concatenated gzip members is one
// valid fleetapi.ReportBatch, as the hub reads it.
func TestBatchBodyDecodes(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	m := newClusterModel(3)
	snap, snapJSON := m.snapshotEnvelopeZ(1, now)
	images, imagesJSON := envelopeZ(imagesEnvelope(2, now, 0))
	for _, r := range []struct {
		z    []byte
		size int
	}{{snap, snapJSON}, {images, imagesJSON}} {
		// The size batches are bounded by is the report's JSON.
		zr, err := gzip.NewReader(bytes.NewReader(r.z))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, zr); err != nil || int(n) != r.size {
			t.Fatalf("report of %d bytes of JSON said to be %d (%v)", n, r.size, err)
		}
	}
	body := batchBody([][]byte{snap, images})
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var b fleetapi.ReportBatch
	if err := json.NewDecoder(zr).Decode(&b); err != nil {
		t.Fatal(err)
	}
	if err := b.Validate(); err != nil || len(b.Envelopes) != 2 || b.Envelopes[0].Findings == nil || !b.Envelopes[0].Findings.Full || len(b.Envelopes[1].Images.Images) != 50 {
		t.Fatalf("batch: %v, %+v", err, b)
	}
}

// TestSnapshotPoolMatchesStore: snapshots sent from the pool built in
// advance leave on the hub exactly what the model holds (the pods of the
// variant sent, every finding as podFindings makes it), successive ones
// differ in exactly the changed pods, and a delta drops the pool so the
// model goes on from the last variant sent.
func TestSnapshotPoolMatchesStore(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	st, c := enrolledStore(t, now)
	const pods, variants, changed = 40, 4, 3
	m := newClusterModel(pods)
	rng := rand.New(rand.NewPCG(3, 3))
	m.newSnapshotPool(rng, variants, changed)
	var seq uint64
	var last []podState
	seen := map[string]bool{}
	for step := range 2*variants + 1 {
		seq++
		z, _ := m.snapshotEnvelopeZ(seq, now)
		env := decodeReport(t, z)
		if len(env.Findings.Objects) != len(m.pods) {
			t.Fatalf("step %d: %d objects sent, the model has %d pods", step, len(env.Findings.Objects), len(m.pods))
		}
		for i, o := range env.Findings.Objects {
			// Each object with its digest, as the agent sends it.
			wo := podFindings(m.pods[i])
			if err := fleetapi.SetDigest(&wo); err != nil || wo.Digest == "" {
				t.Fatalf("step %d: object %d: digest %q, %v", step, i, wo.Digest, err)
			}
			want, _ := json.Marshal(wo)
			got, _ := json.Marshal(o)
			if !bytes.Equal(got, want) {
				t.Fatalf("step %d: object %d sent is not the model's pod:\n%s\n%s", step, i, got, want)
			}
		}
		if last != nil {
			diff := 0
			for i := range last {
				if last[i] != m.pods[i] {
					diff++
				}
			}
			if diff != changed {
				t.Fatalf("step %d: %d pods changed since the last snapshot, want %d", step, diff, changed)
			}
		}
		last = slices.Clone(m.pods)
		seen[string(fmt.Append(nil, m.pods))] = true
		if applied, err := st.Ingest(ctx, "a", env, now); err != nil || !applied {
			t.Fatalf("step %d: applied %v, %v", step, applied, err)
		}
		if n, err := st.CountFindings(ctx, store.FindingQuery{ClusterID: c.ID}); err != nil || n != m.findings() {
			t.Fatalf("step %d: the hub holds %d findings, the model %d (%v)", step, n, m.findings(), err)
		}
	}
	if len(seen) != variants {
		t.Fatalf("%d distinct snapshots sent, want the pool's %d", len(seen), variants)
	}
	seq++
	d := m.delta(rng, 2, 1)
	if m.pool != nil {
		t.Fatal("a delta left the pool in place")
	}
	if applied, err := st.Ingest(ctx, "a", &fleetapi.Envelope{Seq: seq, Time: now, Kind: fleetapi.KindFindings, Findings: d}, now); err != nil || !applied {
		t.Fatalf("delta: applied %v, %v", applied, err)
	}
	seq++
	z, _ := m.snapshotEnvelopeZ(seq, now)
	if applied, err := st.Ingest(ctx, "a", decodeReport(t, z), now); err != nil || !applied {
		t.Fatalf("snapshot after the delta: applied %v, %v", applied, err)
	}
	if n, err := st.CountFindings(ctx, store.FindingQuery{ClusterID: c.ID}); err != nil || n != m.findings() {
		t.Fatalf("after the pool: the hub holds %d findings, the model %d (%v)", n, m.findings(), err)
	}
}
