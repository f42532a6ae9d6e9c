package agent

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
)

func admissionEnv(msg string) *fleetapi.Envelope {
	return &fleetapi.Envelope{Kind: fleetapi.KindAdmission, Admission: []fleetapi.AdmissionEvent{{Operation: "CREATE", Decision: "denied", Message: msg}}}
}

func TestOutboxDurableAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o, err := OpenOutbox(path, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		seq, err := o.Append(admissionEnv("m"))
		if err != nil || seq != uint64(i+1) {
			t.Fatalf("append %d: seq %d, %v", i, seq, err)
		}
	}
	if err := o.Ack(2); err != nil {
		t.Fatal(err)
	}
	o.Close()

	o, err = OpenOutbox(path, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	st := o.Stats()
	if st.Pending != 3 || st.LastSeq != 5 {
		t.Fatalf("after restart: %+v", st)
	}
	got, _ := o.Oldest(10)
	if len(got) != 3 || got[0].Seq != 3 || got[2].Seq != 5 {
		t.Fatalf("oldest: %+v", got)
	}
	// Sequence numbers continue after a restart: never reused.
	if seq, _ := o.Append(admissionEnv("m")); seq != 6 {
		t.Fatalf("seq after restart %d, want 6", seq)
	}
}

func TestOutboxDropsOldestAndCounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	big := strings.Repeat("x", 400)
	o, err := OpenOutbox(path, 2000) // room for about four reports
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := o.Append(admissionEnv(big)); err != nil {
			t.Fatal(err)
		}
	}
	st := o.Stats()
	if st.Bytes > 2000 || st.Dropped == 0 || st.Pending+int(st.Dropped) != 10 {
		t.Fatalf("stats %+v", st)
	}
	got, _ := o.Oldest(100)
	if got[len(got)-1].Seq != 10 || got[0].Seq != st.Dropped+1 {
		t.Fatalf("kept %d..%d, dropped %d", got[0].Seq, got[len(got)-1].Seq, st.Dropped)
	}
	o.Close()
	o, _ = OpenOutbox(path, 2000)
	defer o.Close()
	if o.Stats().Dropped != st.Dropped {
		t.Fatalf("drop counter not persisted: %d", o.Stats().Dropped)
	}
	if _, err := o.Append(admissionEnv(strings.Repeat("y", 3000))); err == nil {
		t.Fatal("report larger than the outbox accepted")
	}
}

func TestOutboxCompressedAndLegacyReports(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o, err := OpenOutbox(path, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	// A report queued by an earlier agent: plain JSON.
	legacy, _ := json.Marshal(&fleetapi.Envelope{Seq: 1, Kind: fleetapi.KindAdmission, Admission: []fleetapi.AdmissionEvent{{Operation: "CREATE", Decision: "denied", Message: "old"}}})
	if err := o.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketQueue).Put(u64(1), legacy); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyNextSeq, u64(2))
	}); err != nil {
		t.Fatal(err)
	}
	o.Close()
	if o, err = OpenOutbox(path, 1<<20); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	big := strings.Repeat("compressible ", 2000)
	if seq, err := o.Append(admissionEnv(big)); err != nil || seq != 2 {
		t.Fatalf("append: %d %v", seq, err)
	}
	raw, err := o.OldestRaw(10, 1<<20)
	if err != nil || len(raw) != 2 {
		t.Fatalf("raw: %d %v", len(raw), err)
	}
	if raw[0].Size != len(legacy) || raw[1].Size < len(big) || len(raw[1].Stored) > raw[1].Size/4 {
		t.Fatalf("sizes: legacy %d/%d, new %d stored in %d", raw[0].Size, len(legacy), raw[1].Size, len(raw[1].Stored))
	}
	if st := o.Stats(); st.Bytes != int64(raw[0].Size+raw[1].Size) {
		t.Fatalf("budget counts JSON bytes: %d", st.Bytes)
	}
	got, err := o.Oldest(10)
	if err != nil || len(got) != 2 || got[0].Admission[0].Message != "old" || got[1].Admission[0].Message != big {
		t.Fatalf("oldest: %v %v", got, err)
	}
	// The batch body is gzip members concatenated: it decodes, as the hub
	// reads it, to one ReportBatch.
	if only, _ := o.OldestRaw(10, 1); len(only) != 1 {
		t.Fatalf("byte budget: %d reports", len(only))
	}
}

func TestBatchBodyDecodes(t *testing.T) {
	o, err := OpenOutbox(filepath.Join(t.TempDir(), "outbox.db"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	for _, m := range []string{"a", "b", "c"} {
		if _, err := o.Append(admissionEnv(m)); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := o.OldestRaw(10, 1<<20)
	var got fleetapi.ReportBatch
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("content encoding %q", r.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(r.Body)
		if err == nil {
			err = json.NewDecoder(zr).Decode(&got)
		}
		if err != nil {
			t.Errorf("decode: %v", err)
		}
		res := fleetapi.BatchResult{}
		for _, e := range got.Envelopes {
			res.Results = append(res.Results, fleetapi.ReportResult{Seq: e.Seq})
		}
		_ = json.NewEncoder(w).Encode(res)
	}))
	defer srv.Close()
	a := testAgent(t, Config{})
	a.hub, a.outbox = &hubClient{base: srv.URL, http: srv.Client()}, o
	if err := a.sendBatch(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	if err := got.Validate(); err != nil || len(got.Envelopes) != 3 || got.Envelopes[2].Admission[0].Message != "c" {
		t.Fatalf("batch %+v: %v", got, err)
	}
}

// TestEncodeReportMatchesMarshal: the streamed encoding of a report
// decodes to the envelope json.Marshal would have written, its size is
// the JSON's, and a findings report holds the same JSON bytes up to key
// order (objects last).
func TestEncodeReportMatchesMarshal(t *testing.T) {
	obj := func(i int) fleetapi.ObjectFindings {
		ref := finding.ObjectRef{Kind: "Pod", Namespace: "ns", Name: fmt.Sprintf("p%d", i)}
		return fleetapi.ObjectFindings{Object: ref, Findings: []finding.Finding{{RuleID: "hardening/x", Severity: finding.SeverityHigh, Message: "<x> & \"y\"", Object: ref}}}
	}
	many := make([]fleetapi.ObjectFindings, 500)
	for i := range many {
		many[i] = obj(i)
	}
	at := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		env  fleetapi.Envelope
	}{
		{"admission", fleetapi.Envelope{Seq: 1, Time: at, Kind: fleetapi.KindAdmission, Admission: []fleetapi.AdmissionEvent{{Operation: "CREATE"}}}},
		{"findings without objects", fleetapi.Envelope{Seq: 2, Time: at, Kind: fleetapi.KindFindings, Findings: &fleetapi.FindingsDelta{Deleted: []finding.ObjectRef{{Kind: "Pod", Name: "gone"}}}}},
		{"delta: one object, nothing else", fleetapi.Envelope{Seq: 3, Time: at, Kind: fleetapi.KindFindings, Findings: &fleetapi.FindingsDelta{Objects: many[:1]}}},
		{"full snapshot", fleetapi.Envelope{Seq: 4, Time: at, Kind: fleetapi.KindFindings, Cluster: "c", Dropped: 7, Findings: &fleetapi.FindingsDelta{Full: true, Objects: many, Deleted: []finding.ObjectRef{{Kind: "Pod", Name: "gone"}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(&tc.env)
			if err != nil {
				t.Fatal(err)
			}
			stored, size, err := encodeReport(&tc.env)
			if err != nil {
				t.Fatal(err)
			}
			got, err := reportJSON(stored)
			if err != nil {
				t.Fatal(err)
			}
			if size != len(got) || len(got) != len(want) {
				t.Fatalf("size %d, JSON %d bytes, json.Marshal %d", size, len(got), len(want))
			}
			var a, b any
			if err := json.Unmarshal(got, &a); err != nil {
				t.Fatalf("stored JSON does not decode: %v\n%s", err, got)
			}
			_ = json.Unmarshal(want, &b)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("stored JSON differs from json.Marshal:\n%s\n%s", got, want)
			}
		})
	}
}
