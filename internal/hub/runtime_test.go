package hub_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/hubtest"
)

// TestRuntimeSensorsAPIAndMetrics: the node sensors' states reach the API
// and /metrics, the degraded one counted as a gap; runtime findings are
// listed and filtered by rule; a bad query is a 400.
func TestRuntimeSensorsAPIAndMetrics(t *testing.T) {
	h := hubtest.Start(t)
	fleet := hubtest.SeedFleet(t, h)
	b := newBrowser(t, h)
	if resp := b.login(hubtest.ViewerUser, hubtest.ViewerPassword, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	resp, body := b.do("GET", "/api/v1/runtime/sensors?cluster="+fleet.IDs["edge-arm-01"], nil, nil)
	var sensors struct {
		Sensors []struct {
			Node, Mode, Reason string
		} `json:"sensors"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &sensors) != nil || len(sensors.Sensors) != 2 ||
		sensors.Sensors[1].Node != "pi-2" || sensors.Sensors[1].Mode != "degraded" || !strings.Contains(sensors.Sensors[1].Reason, "BTF") {
		t.Fatalf("sensors: %d %s", resp.StatusCode, body)
	}
	for _, tc := range []struct {
		query string
		code  int
		n     int
	}{
		{"", http.StatusOK, 1},
		{"?rule=PAL-RT-001", http.StatusOK, 1},
		{"?rule=PAL-RT-003", http.StatusOK, 0},
		{"?cluster=" + fleet.IDs["edge-amd-02"], http.StatusOK, 0},
		{"?since=yesterday", http.StatusBadRequest, 0},
		{"?limit=9999", http.StatusBadRequest, 0},
	} {
		resp, body := b.do("GET", "/api/v1/runtime/findings"+tc.query, nil, nil)
		var out struct {
			Findings []json.RawMessage `json:"findings"`
		}
		if resp.StatusCode != tc.code || (tc.code == http.StatusOK && (json.Unmarshal([]byte(body), &out) != nil || len(out.Findings) != tc.n)) {
			t.Errorf("findings%s: %d %s, want %d with %d findings", tc.query, resp.StatusCode, body, tc.code, tc.n)
		}
	}
	resp, body = b.do("GET", "/metrics", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics: %d", resp.StatusCode)
	}
	for _, want := range []string{`palisade_hub_runtime_sensors{mode="degraded"} 1`, `palisade_hub_runtime_sensors{mode="ok"} 1`, "palisade_hub_runtime_sensor_gaps 1"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// What policy intent could not judge is shown with the node: TCP
	// connections undecided, UDP sends (no proof of delivery).
	a := h.Enrol(t, "edge-udp")
	a.Report(t, fleetapi.KindRuntime, &fleetapi.RuntimeReport{Node: "n-udp", Sensor: &fleetapi.RuntimeSensorState{Mode: "ok", IntentJudged: 5, IntentUndecided: 2, IntentUDPNotJudged: 7}})
	if resp, body := b.do("GET", "/runtime?cluster="+a.ClusterID, nil, nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, "<td>2 + 7 UDP</td>") {
		t.Errorf("runtime page: %d, lacks the connections not judged:\n%s", resp.StatusCode, body)
	}
	// Which policy tiers the connections were judged against is shown
	// with the node (the admin tiers where the API server serves them).
	tiers := h.Enrol(t, "edge-tiers")
	tiers.Report(t, fleetapi.KindRuntime, &fleetapi.RuntimeReport{Node: "n-tiers", Sensor: &fleetapi.RuntimeSensorState{Mode: "ok", IntentJudged: 3,
		IntentPolicies: "NetworkPolicies and adminnetworkpolicies, baselineadminnetworkpolicies (policy.networking.k8s.io/v1alpha1); 4 NetworkPolicies, 2 AdminNetworkPolicies, a BaselineAdminNetworkPolicy"}})
	if resp, body := b.do("GET", "/runtime?cluster="+tiers.ClusterID, nil, nil); resp.StatusCode != http.StatusOK ||
		!strings.Contains(body, `<small class="intent-policies">judged against NetworkPolicies and adminnetworkpolicies, baselineadminnetworkpolicies (policy.networking.k8s.io/v1alpha1); 4 NetworkPolicies, 2 AdminNetworkPolicies, a BaselineAdminNetworkPolicy</small>`) {
		t.Errorf("runtime page: %d, lacks the policy tiers judged:\n%s", resp.StatusCode, body)
	}
	// A kernel without the UDP receive program: UDP is not judged, a gap
	// in coverage with the reason; datagrams judged but undecided are
	// counted beside.
	ur := h.Enrol(t, "edge-udprecv")
	ur.Report(t, fleetapi.KindRuntime, &fleetapi.RuntimeReport{Node: "n-udprecv", Sensor: &fleetapi.RuntimeSensorState{Mode: "ok", IntentUDPNotJudged: 3, IntentUDPUndecided: 4, UDPReceiveMissing: "load tp_btf/sk_data_ready: not supported"}})
	if resp, body := b.do("GET", "/runtime?cluster="+ur.ClusterID, nil, nil); resp.StatusCode != http.StatusOK ||
		!strings.Contains(body, `title="load tp_btf/sk_data_ready: not supported">UDP not judged: no receive program</small>`) ||
		!strings.Contains(body, `3 UDP sends not judged against the NetworkPolicies: the sensor sees no UDP receive (load tp_btf/sk_data_ready: not supported)`) ||
		!strings.Contains(body, `<td>0 + 3 UDP + 4 UDP undecided</td>`) {
		t.Errorf("runtime page: %d, lacks the missing UDP receive program:\n%s", resp.StatusCode, body)
	}
	// Execs not checked against their image's file list (no agent
	// publishes them without a vulnerability database): shown and a gap.
	nf := h.Enrol(t, "edge-nofiles")
	nf.Report(t, fleetapi.KindRuntime, &fleetapi.RuntimeReport{Node: "n-nofiles", Sensor: &fleetapi.RuntimeSensorState{Mode: "ok", Unchecked: 1, ExecsWithoutImageFiles: 9}})
	if resp, body := b.do("GET", "/runtime?cluster="+nf.ClusterID, nil, nil); resp.StatusCode != http.StatusOK ||
		!strings.Contains(body, `<td>1 + 9 without the image's file list</td>`) ||
		!strings.Contains(body, `9 execs not checked against their image&#39;s SBOM file list (not published`) {
		t.Errorf("runtime page: %d, lacks the execs without the image's file list:\n%s", resp.StatusCode, body)
	}
	// A sensor on the raw form of its TCP state program (tp_btf refused)
	// is not degraded, but the operator sees the form and why.
	fb := h.Enrol(t, "edge-raw")
	fb.Report(t, fleetapi.KindRuntime, &fleetapi.RuntimeReport{Node: "n-raw", Sensor: &fleetapi.RuntimeSensorState{Mode: "ok", SockStateHook: "raw_tracepoint/inet_sock_set_state", SockStateFallback: "tp_btf: <not supported>"}})
	if resp, body := b.do("GET", "/runtime?cluster="+fb.ClusterID, nil, nil); resp.StatusCode != http.StatusOK ||
		!strings.Contains(body, `title="tp_btf: &lt;not supported&gt;">TCP state: raw_tracepoint/inet_sock_set_state</small>`) {
		t.Errorf("runtime page: %d, lacks the TCP state program's fallback:\n%s", resp.StatusCode, body)
	}
	// The same for the connect, send and open programs (fentry refused).
	fs := h.Enrol(t, "edge-sys")
	fs.Report(t, fleetapi.KindRuntime, &fleetapi.RuntimeReport{Node: "n-sys", Sensor: &fleetapi.RuntimeSensorState{Mode: "ok", SyscallHook: "tracepoint/syscalls", SyscallFallback: "load fentry: operation not permitted"}})
	if resp, body := b.do("GET", "/runtime?cluster="+fs.ClusterID, nil, nil); resp.StatusCode != http.StatusOK ||
		!strings.Contains(body, `title="load fentry: operation not permitted">connect, send, open: tracepoint/syscalls</small>`) {
		t.Errorf("runtime page: %d, lacks the connect, send and open programs' fallback:\n%s", resp.StatusCode, body)
	}
}
