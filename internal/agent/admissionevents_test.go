package agent

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

func kubeEvent(reason, annotation string) *corev1.Event {
	return &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "e1", UID: "ev-uid",
		Annotations: map[string]string{fleetapi.KubeEventAnnotation: annotation}}, Reason: reason}
}

// TestAdmissionFromKubeEvent: webhook Events become hub admission events;
// anything else is an error naming the Event, never a half-filled event.
func TestAdmissionFromKubeEvent(t *testing.T) {
	long := strings.Repeat("x", 5000)
	for _, tc := range []struct {
		name, reason, annotation string
		wantErr                  string
		check                    func(fleetapi.AdmissionEvent) bool
	}{
		{"used", fleetapi.KubeEventReasonBreakGlass,
			`{"type":"break-glass","allowed":true,"uid":"u1","operation":"CREATE","kind":"apps/v1/Deployment","namespace":"prod","name":"web","user":"alice","groups":["sre"],"breakGlassReason":"INC-1","images":["a:1"],"violations":[{"ruleID":"pss/privileged"},{"ruleID":"pss/privileged"}]}`,
			"", func(e fleetapi.AdmissionEvent) bool {
				return e.BreakGlass && e.Decision == "allowed" && e.UID == "u1" && e.Object.Kind == "Deployment" && e.User == "alice" &&
					len(e.Rules) == 1 && e.Message == `break-glass: "INC-1"; groups: sre; images: a:1`
			}},
		{"refused", fleetapi.KubeEventReasonBreakGlassRefused, `{"type":"denied","allowed":false,"user":"bob","breakGlassReason":"x"}`,
			"", func(e fleetapi.AdmissionEvent) bool {
				return !e.BreakGlass && e.Decision == "denied" && e.UID == "ev-uid" && strings.HasPrefix(e.Message, "break-glass refused")
			}},
		{"message bounded", fleetapi.KubeEventReasonBreakGlass, `{"breakGlassReason":"` + long + `"}`,
			"", func(e fleetapi.AdmissionEvent) bool { return len(e.Message) == maxAdmissionMessage }},
		{"other reason", "Scheduled", `{}`, `event prod/e1: reason "Scheduled"`, nil},
		{"no annotation", fleetapi.KubeEventReasonBreakGlass, "", "event prod/e1: no palisade.io/admission-event annotation", nil},
		{"bad JSON", fleetapi.KubeEventReasonBreakGlass, `{"user":`, "event prod/e1: annotation", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := admissionFromKubeEvent(kubeEvent(tc.reason, tc.annotation))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(e) {
				t.Fatalf("%+v, %v", e, err)
			}
		})
	}
}

func FuzzAdmissionFromKubeEvent(f *testing.F) {
	f.Add(`{"type":"break-glass","uid":"u","violations":[{"ruleID":"r","image":"i"}],"groups":["g"]}`)
	f.Add(`{"breakGlassReason":"` + strings.Repeat("é", 600) + `"}`)
	f.Fuzz(func(t *testing.T, annotation string) {
		e, err := admissionFromKubeEvent(kubeEvent(fleetapi.KubeEventReasonBreakGlass, annotation))
		if err == nil && (len(e.Message) > maxAdmissionMessage || !e.BreakGlass) {
			t.Fatalf("%+v", e)
		}
	})
}
