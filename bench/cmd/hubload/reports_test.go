package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"path/filepath"
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

// TestModelMatchesStore: the reports the generator sends, applied by the
// hub's store, leave exactly the findings its model counts, so a
// mismatch in a run is the hub's fault, not the generator's. Snapshots
// (with their cached members) and deltas of every shape are mixed.
func TestModelMatchesStore(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
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

// freshMember is gzipMember as it was: a new writer for every member.
func freshMember(p []byte) []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	_, _ = zw.Write(p)
	_ = zw.Close()
	return b.Bytes()
}

// TestGzipMemberReused: a reused compressor writes the bytes a new one
// writes, whatever it compressed before, and a batch's framing members
// are the ones it would compress each time.
func TestGzipMemberReused(t *testing.T) {
	m := newClusterModel(20)
	rng := rand.New(rand.NewPCG(3, 4))
	var reports [][]byte
	for i := range 12 {
		js, err := json.Marshal(&fleetapi.Envelope{Seq: uint64(i + 1), Kind: fleetapi.KindFindings, Findings: m.delta(rng, i%4, 2)})
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			js = js[:1+i] // short members between long ones
		}
		got, want := gzipMember(js), freshMember(js)
		if !bytes.Equal(got, want) {
			t.Fatalf("member %d: reused compressor wrote %d bytes, a new one %d", i, len(got), len(want))
		}
		reports = append(reports, got)
	}
	var want bytes.Buffer
	want.Write(freshMember([]byte(`{"dropped":0,"envelopes":[`)))
	for i, r := range reports {
		if i > 0 {
			want.Write(freshMember([]byte(",")))
		}
		want.Write(r)
	}
	want.Write(freshMember([]byte("]}")))
	if got := batchBody(reports); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("batch body differs from one compressed member by member (%d bytes, want %d)", len(got), want.Len())
	}
}

// BenchmarkDeltaBody: the load client's CPU for one delta's request body
// (the model's change, its JSON, gzip, the batch's framing), with the
// compressors reused (reused) and with a new one per member as before.
func BenchmarkDeltaBody(b *testing.B) {
	for _, c := range []struct {
		name   string
		member func([]byte) []byte
	}{{"reused", gzipMember}, {"new", freshMember}} {
		b.Run(c.name, func(b *testing.B) {
			m := newClusterModel(100)
			rng := rand.New(rand.NewPCG(5, 6))
			for b.Loop() {
				js, _ := json.Marshal(&fleetapi.Envelope{Seq: 1, Kind: fleetapi.KindFindings, Findings: m.delta(rng, 1, 2)})
				z := c.member(js)
				if c.name == "new" {
					_ = append(append(append(freshMember([]byte(`{"dropped":0,"envelopes":[`)), z...), freshMember([]byte("]}"))...), freshMember([]byte(","))...)
				} else {
					_ = batchBody([][]byte{z})
				}
			}
		})
	}
}
