package admission

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// syncBuffer is a log destination tests read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// recordingSink keeps events for assertions.
type recordingSink struct {
	mu     sync.Mutex
	events []Event
}

func (r *recordingSink) Emit(_ context.Context, e *Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, *e)
}

func (r *recordingSink) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

type testServer struct {
	*Server
	log    *syncBuffer
	events *recordingSink
	h      http.Handler
}

func newTestServer(t *testing.T, policyBody string, opts Options) *testServer {
	t.Helper()
	opts.PolicyFile = writePolicy(t, policyBody)
	logs := &syncBuffer{}
	opts.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	ev := &recordingSink{}
	opts.Events = MultiSink{LogSink{Logger: opts.Logger}, ev}
	s, err := NewServer(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{Server: s, log: logs, events: ev, h: s.Handler()}
}

func (ts *testServer) post(t *testing.T, endpoint string, body []byte) (*admissionv1.AdmissionResponse, int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/"+endpoint+"?timeout=10s", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	ts.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return nil, rec.Code, rec.Body.String()
	}
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &ar); err != nil {
		t.Fatalf("response is not a review: %v\n%s", err, rec.Body.String())
	}
	if ar.APIVersion != "admission.k8s.io/v1" || ar.Kind != "AdmissionReview" || ar.Response == nil {
		t.Fatalf("bad response envelope: %s", rec.Body.String())
	}
	return ar.Response, rec.Code, rec.Body.String()
}

type reviewOpts struct {
	op     admissionv1.Operation
	user   string
	groups []string
	sub    string
}

func reviewFor(t testing.TB, obj runtime.Object, gvk metav1.GroupVersionKind, ns string, o reviewOpts) []byte {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	if o.op == "" {
		o.op = admissionv1.Create
	}
	if o.user == "" {
		o.user = "alice"
	}
	name := ""
	if m, ok := obj.(metav1.Object); ok {
		name = m.GetName()
	}
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID("uid-" + name), Kind: gvk, Namespace: ns, Name: name, Operation: o.op, SubResource: o.sub,
			Resource: metav1.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: "x"},
			UserInfo: authenticationv1.UserInfo{Username: o.user, Groups: o.groups},
			Object:   runtime.RawExtension{Raw: raw},
		},
	}
	out, err := json.Marshal(ar)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	deploymentGVK = metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	podGVK        = metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}
)

func container(name, image string) corev1.Container {
	return corev1.Container{Name: name, Image: image}
}

func deployment(name string, annotations map[string]string, cs ...corev1.Container) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: cs},
			},
		},
	}
}

func pod(name string, cs ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{Containers: cs},
	}
}

func privileged(c corev1.Container) corev1.Container {
	t := true
	c.SecurityContext = &corev1.SecurityContext{Privileged: &t}
	return c
}

var _ = io.Discard

func osWriteFile(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }
