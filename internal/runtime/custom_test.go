package runtime

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const customFile = `apiVersion: palisade.io/v1alpha1
kind: RuntimeDetections
metadata: {name: shop}
detections:
- id: curl-in-shop
  title: curl run in the shop namespace
  severity: high
  expression: event.kind == "exec" && event.path.endsWith("/curl") && event.attribution.pod.namespace == "shop"
  messageExpression: '"curl " + event.args.join(" ") + " in " + event.attribution.pod.name'
- id: dns-elsewhere
  expression: event.kind == "udp-send" && event.dst.endsWith(":53") && !event.dst.startsWith("10.96.0.10:")
  message: DNS query to a resolver other than the cluster's
- id: missing-field
  expression: event.nosuchfield == 1
`

// TestCustomDetections: CEL detections over recorded events fire with
// their message and severity, on container events only; an expression
// over a field the event lacks is an error counted, not a match.
func TestCustomDetections(t *testing.T) {
	ds, err := ParseCustom("shop.yaml", []byte(customFile))
	if err != nil {
		t.Fatal(err)
	}
	d := &Detector{ProcRoot: t.TempDir(), Custom: ds}
	pod := &Pod{Namespace: "shop", Name: "web-0", Container: "web"}
	inPod := Attribution{Runtime: "containerd", ContainerID: testCID, Pod: pod}
	for _, tc := range []struct {
		name string
		e    Event
		want string
	}{
		{"curl in shop", Event{Kind: KindExec, Path: "/usr/bin/curl", Args: []string{"curl", "-s", "http://x"}, UID: 1000, Attribution: inPod},
			"custom/curl-in-shop HIGH curl curl -s http://x in web-0"},
		{"DNS to another resolver", Event{Kind: KindUDPSend, Dst: netip.MustParseAddrPort("8.8.8.8:53"), Attribution: inPod},
			"custom/dns-elsewhere MEDIUM DNS query to a resolver other than the cluster's"},
		{"cluster DNS", Event{Kind: KindUDPSend, Dst: netip.MustParseAddrPort("10.96.0.10:53"), Attribution: inPod}, ""},
		{"host curl", Event{Kind: KindExec, Path: "/usr/bin/curl", Attribution: Attribution{Host: true}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, f := range d.Evaluate(&tc.e) {
				if strings.HasPrefix(f.RuleID, "custom/") {
					got = append(got, f.RuleID+" "+f.Severity.String()+" "+f.Message)
				}
			}
			if strings.Join(got, "|") != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	// missing-field fails on every container event evaluated (3 of them).
	if n := d.CustomErrors(); n != 3 {
		t.Errorf("custom errors %d, want 3", n)
	}
}

func TestParseCustomRejects(t *testing.T) {
	head := "apiVersion: palisade.io/v1alpha1\nkind: RuntimeDetections\n"
	for _, tc := range []struct{ name, in, want string }{
		{"other kind", "apiVersion: palisade.io/v1alpha1\nkind: AuditDetections\ndetections: [{id: a, expression: 'true'}]\n", "want apiVersion palisade.io/v1alpha1 kind RuntimeDetections"},
		{"no detections", head + "detections: []\n", "0 detections"},
		{"unknown field", head + "detections: [{id: a, expression: 'true', when: x}]\n", `unknown field "when"`},
		{"no expression", head + "detections: [{id: a}]\n", "detection 1 (a): id and expression are required"},
		{"not boolean", head + "detections: [{id: a, expression: '1 + 1'}]\n", "must evaluate to bool"},
		{"syntax", head + "detections: [{id: a, expression: 'event.kind =='}]\n", "detection 1 (a): expression"},
		{"bad severity", head + "detections: [{id: a, severity: extreme, expression: 'true'}]\n", "extreme"},
		{"duplicate", head + "detections: [{id: a, expression: 'true'}, {id: custom/a, expression: 'true'}]\n", "detection 2 (custom/a): duplicate id"},
		{"not YAML", "{", "runtime detections x.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseCustom("x.yaml", []byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, make([]byte, maxDetectionsFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCustom(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversized file: %v", err)
	}
}

func FuzzParseCustom(f *testing.F) {
	f.Add([]byte(customFile))
	f.Add([]byte("apiVersion: palisade.io/v1alpha1\nkind: RuntimeDetections\ndetections: [{id: a, expression: 'event.args.exists(a, a.size() > 3)'}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ds, err := ParseCustom("fuzz.yaml", data)
		if err != nil {
			return
		}
		d := &Detector{Custom: ds}
		e := Event{Kind: KindExec, Path: "/bin/x", Attribution: Attribution{ContainerID: testCID}}
		d.Evaluate(&e)
	})
}
