package agent

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/runtimenode"
)

// TestRuntimeLedgerEntries: a node's ledger entry stays within
// fleetapi.MaxRuntimeLedgerValue whatever the message (cut to fit), and
// reads back as the finding; entries that are not runtime findings are
// errors naming the entry.
func TestRuntimeLedgerEntries(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, msg string
		cut       bool
	}{
		{"short", "container web connected to 10.0.0.1:10250", false},
		{"long", strings.Repeat("m", 5000), true},
		{"escaped", strings.Repeat("<\x01é", 1500), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fleetapi.RuntimeFinding{ID: "0123456789abcdef01234567", Time: at, F: finding.Finding{RuleID: "PAL-RT-004", Severity: finding.SeverityHigh, Message: tc.msg}}
			v, err := runtimenode.LedgerValue("n1", f)
			if err != nil {
				t.Fatal(err)
			}
			if len(v) > fleetapi.MaxRuntimeLedgerValue {
				t.Fatalf("entry of %d bytes", len(v))
			}
			rep, err := runtimeLedgerReport(fleetapi.RuntimeLedgerKey(at, f.ID), v)
			if err != nil || rep.Node != "n1" || len(rep.Findings) != 1 || rep.Findings[0].ID != f.ID {
				t.Fatalf("%+v, %v", rep, err)
			}
			if got := rep.Findings[0].F.Message; (got != tc.msg) != tc.cut {
				t.Errorf("message of %d bytes from %d, cut %v", len(got), len(tc.msg), tc.cut)
			}
		})
	}
	state, _ := json.Marshal(fleetapi.LedgerEntry{Reason: fleetapi.KubeEventReasonRuntimeState, Event: json.RawMessage(`{"node":"n1","sensor":{"mode":"ok"}}`)})
	for _, bad := range []struct{ value, want string }{
		{`{`, "entry k1:"},
		{string(state), `entry k1: reason "PalisadeRuntimeSensor" is not a runtime finding`},
		{`{"reason":"PalisadeRuntimeFinding","event":{"findings":[{"id":"f","finding":{"ruleID":"r"}}]}}`, "names no node"},
	} {
		if _, err := runtimeLedgerReport("k1", bad.value); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want %q", bad.value, err, bad.want)
		}
	}
}

func FuzzRuntimeLedgerReport(f *testing.F) {
	f.Add(`{"reason":"PalisadeRuntimeFinding","event":{"node":"n1","findings":[{"id":"f1","finding":{"ruleID":"PAL-RT-004"}}]}}`)
	f.Add(`{"reason":"PalisadeRuntimeFinding","event":null}`)
	f.Fuzz(func(t *testing.T, value string) {
		rep, err := runtimeLedgerReport("k", value)
		if err != nil {
			return
		}
		env := fleetapi.Envelope{Seq: 1, Kind: fleetapi.KindRuntime, Runtime: &rep}
		if verr := env.Validate(); verr != nil || rep.Sensor != nil || len(rep.Findings) == 0 {
			t.Fatalf("accepted a ledger entry the hub refuses or that is no finding (%v): %q", verr, value)
		}
	})
}
