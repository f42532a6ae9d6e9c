package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/palisade-sec/palisade/internal/admission"
	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
	"github.com/palisade-sec/palisade/internal/testenv"
)

const breakGlassPolicy = `apiVersion: palisade.io/v1alpha1
kind: AdmissionPolicy
metadata:
  name: bg
spec:
  mode: enforce
  podSecurity: {level: baseline}
  exemptions:
    breakGlass: true
    breakGlassGroups: ["sre"]
`

// breakGlassWebhook serves the admission webhook with breakGlassPolicy,
// its events going to the log and to sink (run until ctx ends).
func breakGlassWebhook(t *testing.T, ctx context.Context, sink *admission.KubeEventSink) http.Handler {
	t.Helper()
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(breakGlassPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	logger := quietLog()
	go sink.Run(ctx)
	srv, err := admission.NewServer(ctx, admission.Options{PolicyFile: policyFile, Logger: logger,
		Events: admission.MultiSink{admission.LogSink{Logger: logger}, sink}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Metrics().Registry.MustRegister(sink.Collectors()...)
	return srv.Handler()
}

// hubAdmissionEvents lists the hub's admission events of a's cluster.
func hubAdmissionEvents(t *testing.T, ctx context.Context, p *hubProc, a *agent.Agent) func(store.AdmissionQuery) []store.AdmissionEvent {
	return func(q store.AdmissionQuery) []store.AdmissionEvent {
		t.Helper()
		q.ClusterID, q.Limit = a.ClusterID(), 1000
		out, err := p.st.ListAdmissionEvents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// breakGlassReview is a review of a privileged pod carrying the
// break-glass annotation, by user in groups.
func breakGlassReview(t *testing.T, ns, name, user string, groups ...string) []byte {
	t.Helper()
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: map[string]string{admission.BreakGlassAnnotation: "INC-42 restore"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "registry.example/app:1",
			SecurityContext: &corev1.SecurityContext{Privileged: new(true)}}}},
	}
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID("uid-" + name), Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Namespace: ns, Name: name,
			Operation: admissionv1.Create, Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			UserInfo: authenticationv1.UserInfo{Username: user, Groups: groups}, Object: runtime.RawExtension{Raw: raw},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// review posts body to the webhook's /validate and returns the answer.
func review(t *testing.T, h http.Handler, body []byte) *admissionv1.AdmissionResponse {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/validate?timeout=10s", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &ar); err != nil || ar.Response == nil {
		t.Fatalf("webhook answered %d %s (%v)", rec.Code, rec.Body.String(), err)
	}
	return ar.Response
}

// TestBreakGlassReachesHub: on the real API server and hub, a
// break-glass admission through the webhook becomes a Kubernetes Event
// in the object's namespace, which the agent forwards to the hub as a
// break-glass admission event of its cluster with user, reason and
// groups; a refused attempt arrives as a denial; a flood of break-glass
// reviews is all admitted, the Events beyond the rate limit are dropped
// and counted, and only the admitted Events reach the hub.
func TestBreakGlassReachesHub(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := env.AdminClient(t)
	ns := env.CreateNamespace(ctx, t, "bg-", nil).Name

	// Burst 4, and a rate so low that no token comes back during the
	// test: exactly 4 Events are written, whatever the timing.
	const burst = 4
	sink := admission.NewKubeEventSink(client, quietLog(), 1e-6, burst, "webhook-0")
	h := breakGlassWebhook(t, ctx, sink)

	// Without the group the attempt is refused: denied, and an Event.
	if r := review(t, h, breakGlassReview(t, ns, "refused", "mallory", "dev")); r.Allowed {
		t.Fatal("break-glass by a requester outside breakGlassGroups was admitted")
	}
	if r := review(t, h, breakGlassReview(t, ns, "first", "alice", "sre", "system:authenticated")); !r.Allowed {
		t.Fatalf("break-glass denied: %+v", r.Result)
	}
	waitFor(t, "2 Events written", time.Minute, func() bool { return sink.Created() == 2 })
	evs, err := client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=" + fleetapi.KubeEventReasonBreakGlass})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs.Items) != 1 || evs.Items[0].InvolvedObject.Name != "first" || evs.Items[0].ReportingController != fleetapi.KubeEventReportingComponent ||
		!strings.Contains(evs.Items[0].Message, "alice") {
		t.Fatalf("break-glass Events in %s: %+v", ns, evs.Items)
	}

	p := newHubProc(t)
	a, _ := runAgent(t, ctx, p, "bg-edge", client, ns, "", func(c *agent.Config) { c.AdmissionEvents = true })
	hubEvents := hubAdmissionEvents(t, ctx, p, a)
	waitFor(t, "the break-glass event on the hub", time.Minute, func() bool { return len(hubEvents(store.AdmissionQuery{})) == 2 })
	bg := hubEvents(store.AdmissionQuery{BreakGlassOnly: true})
	if len(bg) != 1 {
		t.Fatalf("break-glass events on the hub: %+v", bg)
	}
	e := bg[0]
	if e.User != "alice" || e.Decision != "allowed" || e.Object.Name != "first" || e.Object.Namespace != ns || e.Object.Kind != "Pod" ||
		!strings.Contains(e.Message, "INC-42 restore") || !strings.Contains(e.Message, "sre") || !strings.Contains(e.Message, "registry.example/app:1") ||
		len(e.Rules) == 0 || e.UID != "uid-first" {
		t.Fatalf("hub's break-glass event: %+v", e)
	}
	denied := hubEvents(store.AdmissionQuery{Decision: "denied"})
	if len(denied) != 1 || denied[0].User != "mallory" || denied[0].BreakGlass || !strings.Contains(denied[0].Message, "refused") {
		t.Fatalf("hub's refused attempt: %+v", denied)
	}

	// A flood: every review admitted, Events beyond the burst dropped
	// and counted.
	const flood = 40
	for i := range flood {
		if r := review(t, h, breakGlassReview(t, ns, fmt.Sprintf("flood-%d", i), "alice", "sre")); !r.Allowed {
			t.Fatalf("flood review %d denied: %+v", i, r.Result)
		}
	}
	if got, want := sink.Dropped(), uint64(flood+2-burst); got != want {
		t.Fatalf("dropped %d Events, want %d", got, want)
	}
	waitFor(t, "the flood's admitted Events on the hub", time.Minute, func() bool {
		return len(hubEvents(store.AdmissionQuery{BreakGlassOnly: true})) == burst-1
	})
	if a.AdmissionEventsDropped() != 0 {
		t.Fatalf("agent dropped %d admission events", a.AdmissionEventsDropped())
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if want := fmt.Sprintf("palisade_admission_kube_events_dropped_total %d", flood+2-burst); !strings.Contains(rec.Body.String(), want) {
		t.Fatalf("metrics lack %q", want)
	}
}
