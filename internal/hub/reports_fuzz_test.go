package hub

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// decodeAgentReport decodes body as an agent's report (one envelope, or a
// batch) the way the hub's agent endpoints do, gzip-compressed or not.
func decodeAgentReport(t *testing.T, body []byte, gz, batch bool) (any, bool) {
	t.Helper()
	if gz {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = b.Bytes()
	}
	r := httptest.NewRequest(http.MethodPost, fleetapi.PathReports, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if gz {
		r.Header.Set("Content-Encoding", "gzip")
	}
	var v any = &fleetapi.Envelope{}
	if batch {
		v = &fleetapi.ReportBatch{}
	}
	ok := readAgentReport(httptest.NewRecorder(), r, v)
	return v, ok
}

// FuzzAgentReport feeds arbitrary bodies to the agent report endpoints'
// decoding and validation (the hub's most exposed parser of agent input):
// nothing panics; what is accepted and valid carries the payload its kind
// says, batches are strictly ordered, and an accepted report encodes and
// decodes again to the same value (what the hub applies is what it read).
// Seeds in testdata/fuzz/FuzzAgentReport.
func FuzzAgentReport(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, gz, batch bool) {
		v, ok := decodeAgentReport(t, body, gz, batch)
		if !ok {
			return
		}
		var envs []fleetapi.Envelope
		switch x := v.(type) {
		case *fleetapi.Envelope:
			envs = []fleetapi.Envelope{*x}
		case *fleetapi.ReportBatch:
			if x.Validate() != nil {
				return
			}
			envs = x.Envelopes
			for i := 1; i < len(envs); i++ {
				if envs[i].Seq <= envs[i-1].Seq {
					t.Fatalf("batch accepted out of order: %d after %d", envs[i].Seq, envs[i-1].Seq)
				}
			}
		}
		for _, e := range envs {
			if e.Validate() != nil {
				continue
			}
			if e.Seq == 0 || (e.Kind == fleetapi.KindFindings && e.Findings == nil) || (e.Kind == fleetapi.KindInventory && e.Inventory == nil) ||
				(e.Kind == fleetapi.KindImageScan && (e.ImageScan == nil || e.ImageScan.Digest == "")) || (e.Kind == fleetapi.KindAdmission && len(e.Admission) == 0) {
				t.Fatalf("valid envelope without its payload: %+v", e)
			}
		}
		once, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("accepted report does not encode: %v", err)
		}
		again, ok := decodeAgentReport(t, once, false, batch)
		if !ok {
			t.Fatalf("accepted report, encoded, is refused: %s", once)
		}
		twice, _ := json.Marshal(again)
		if !bytes.Equal(once, twice) {
			t.Fatalf("report changes when decoded again:\n%s\n%s", once, twice)
		}
	})
}
