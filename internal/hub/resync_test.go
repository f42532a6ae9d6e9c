package hub

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestHeartbeatResync: a heartbeat that asks to resync learns the highest
// report the hub applied from this agent, which is what the agent
// renumbers its queue after when its reports are refused 409; other
// heartbeats stay 204.
func TestHeartbeatResync(t *testing.T) {
	th := startHub(t)
	cert, er, _ := th.enrol(t, "edge-seq")
	c := th.client(cert)
	for seq := uint64(1); seq <= 3; seq++ {
		if resp, body := call(t, c, "POST", th.url+fleetapi.PathReports, report(seq, er.ClusterID), nil); resp.StatusCode != 200 {
			t.Fatalf("report %d: %d %s", seq, resp.StatusCode, body)
		}
	}
	far := uint64(3 + store.MaxSeqAdvance + 1)
	if resp, _ := call(t, c, "POST", th.url+fleetapi.PathReports, report(far, er.ClusterID), nil); resp.StatusCode != http.StatusConflict {
		t.Fatalf("report %d: %d, want 409", far, resp.StatusCode)
	}
	tests := []struct {
		resync     bool
		wantStatus int
		wantLast   uint64
	}{
		{false, http.StatusNoContent, 0},
		{true, http.StatusOK, 3},
	}
	for _, tt := range tests {
		resp, body := call(t, c, "POST", th.url+fleetapi.PathHeartbeat, fleetapi.Heartbeat{Time: time.Now(), LastSeq: far, Pending: 1, Resync: tt.resync}, nil)
		if resp.StatusCode != tt.wantStatus {
			t.Fatalf("resync %v: %d %s", tt.resync, resp.StatusCode, body)
		}
		if !tt.resync {
			continue
		}
		var res fleetapi.HeartbeatResult
		if err := json.Unmarshal(body, &res); err != nil || res.LastApplied == nil || *res.LastApplied != tt.wantLast {
			t.Fatalf("resync answer %s (%v), want lastApplied %d", body, err, tt.wantLast)
		}
	}
	// Renumbered after 3, the report is applied.
	if resp, body := call(t, c, "POST", th.url+fleetapi.PathReports, report(4, er.ClusterID), nil); resp.StatusCode != 200 {
		t.Fatalf("renumbered report: %d %s", resp.StatusCode, body)
	}
}
