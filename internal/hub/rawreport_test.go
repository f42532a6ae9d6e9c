package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestReportsReadOnce: both report endpoints read findings with
// fleetapi.DecodeReport: a finding with members the hub does not know is
// stored; one that repeats a member (which encoding/json would have read
// as its last value, and the stored JSON as another) is refused with 400
// naming it, and nothing of its report is applied.
func TestReportsReadOnce(t *testing.T) {
	const good = `{"ruleID":"R1","severity":"high","title":"T","message":"m","object":{"kind":"Pod","namespace":"a","name":"p"},"suppressed":false,"x-future":[1]}`
	const repeated = `{"ruleID":"R1","severity":"low","severity":"critical","title":"T","message":"m2","object":{"kind":"Pod","namespace":"a","name":"p"},"suppressed":false}`
	envelope := func(seq int, f string) string {
		return fmt.Sprintf(`{"seq":%d,"time":"2026-01-01T00:00:00Z","kind":"findings","findings":{"objects":[{"object":{"kind":"Pod","namespace":"a","name":"p"},"findings":[%s]}]}}`, seq, f)
	}
	tests := []struct {
		name, path, body string
		status           int
		findings         int
	}{
		{"report", fleetapi.PathReports, envelope(1, good), http.StatusOK, 1},
		{"batch", fleetapi.PathReportBatch, `{"envelopes":[` + envelope(1, good) + `]}`, http.StatusOK, 1},
		{"report, repeated member", fleetapi.PathReports, envelope(1, repeated), http.StatusBadRequest, 0},
		{"batch, repeated member", fleetapi.PathReportBatch, `{"envelopes":[` + envelope(1, repeated) + `]}`, http.StatusBadRequest, 0},
	}
	th := startHub(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, enr, _ := th.enrol(t, fmt.Sprintf("edge-%d", i))
			status, _, body, err := th.post(cert, tt.path, json.RawMessage(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.status {
				t.Fatalf("status %d %s, want %d", status, body, tt.status)
			}
			if tt.status != http.StatusOK && !strings.Contains(string(body), "finding 0") {
				t.Errorf("answer %s does not name the finding", body)
			}
			fs, err := th.st.ListFindings(context.Background(), store.FindingQuery{ClusterID: enr.ClusterID})
			if err != nil {
				t.Fatal(err)
			}
			if len(fs) != tt.findings {
				t.Fatalf("%d findings stored, want %d", len(fs), tt.findings)
			}
		})
	}
}
