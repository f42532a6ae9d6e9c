package realworld

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/palisade-sec/palisade/internal/admission"
	"github.com/palisade-sec/palisade/internal/rule"
)

// TestAdmissionAgreesWithPodSecurity sends every workload of the committed
// corpora, as the API server would in an AdmissionReview, to the admission
// webhook enforcing only Pod Security, at baseline and at restricted: the
// webhook must deny exactly what pod-security-admission forbids. Only
// served versions are sent: the API server converts a request to the
// version the webhook registered for.
func TestAdmissionAgreesWithPodSecurity(t *testing.T) {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	handlers := map[string]http.Handler{}
	for _, level := range []string{rule.LevelBaseline, rule.LevelRestricted} {
		handlers[level] = admissionHandler(t, level)
	}
	m := newMismatches(15)
	for i, w := range committedWorkloads(t) {
		if classify(w.Obj.ID.APIVersion, w.Obj.ID.Kind) != served {
			continue
		}
		meta, spec, err := podTemplate(w.Obj)
		if err != nil {
			continue // TestCorpora reports it
		}
		m.count(w.Corpus, "admission reviews", 2)
		for _, level := range []string{rule.LevelBaseline, rule.LevelRestricted} {
			want := policy.AggregateCheckResults(evaluator.EvaluatePod(
				api.LevelVersion{Level: api.Level(level), Version: api.LatestVersion()}, meta, spec))
			got, msg, err := review(handlers[level], w.Obj, fmt.Sprintf("review-%d", i))
			if err != nil {
				m.add(w.Corpus, "admission review failed", "%s: %s: %v", w.File, w.Obj.ID, err)
				continue
			}
			if got != want.Allowed {
				m.add(w.Corpus, "admission differs from pod-security-admission at "+level,
					"%s: %s: pod-security-admission allowed=%v (%s); webhook allowed=%v (%s)", w.File, w.Obj.ID, want.Allowed, want.ForbiddenDetail(), got, msg)
			}
		}
	}
	m.report(t)
}

// admissionHandler is the webhook with a policy that enforces Pod
// Security at level and nothing else.
func admissionHandler(t *testing.T, level string) http.Handler {
	t.Helper()
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	body := "apiVersion: palisade.io/v1alpha1\nkind: AdmissionPolicy\nmetadata: {name: realworld}\n" +
		"spec:\n  mode: enforce\n  podSecurity: {level: " + level + "}\n  rules: [pss-restricted]\n"
	if err := os.WriteFile(policyFile, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := admission.NewServer(context.Background(), admission.Options{
		PolicyFile: policyFile, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s.Handler()
}

// review posts one CREATE request for the object and returns whether it
// was allowed and the webhook's message.
func review(h http.Handler, o oracleObject, uid string) (bool, string, error) {
	// One ordinary namespace for all: the webhook never covers
	// kube-system (by design, as its configuration excludes it), and the
	// namespace plays no part in Pod Security's verdict.
	ns := "realworld"
	obj := map[string]any{}
	for k, v := range o.Content {
		obj[k] = v
	}
	md, _ := obj["metadata"].(map[string]any)
	mdCopy := map[string]any{}
	for k, v := range md {
		mdCopy[k] = v
	}
	mdCopy["namespace"] = ns
	obj["metadata"] = mdCopy
	raw, err := json.Marshal(obj)
	if err != nil {
		return false, "", err
	}
	gv, _ := schema.ParseGroupVersion(o.ID.APIVersion)
	resource := strings.ToLower(o.ID.Kind) + "s"
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       types.UID(uid),
			Kind:      metav1.GroupVersionKind{Group: gv.Group, Version: gv.Version, Kind: o.ID.Kind},
			Resource:  metav1.GroupVersionResource{Group: gv.Group, Version: gv.Version, Resource: resource},
			Name:      o.ID.Name,
			Namespace: ns,
			Operation: admissionv1.Create,
			UserInfo:  authenticationv1.UserInfo{Username: "realworld-deployer", Groups: []string{"system:authenticated"}},
			Object:    runtime.RawExtension{Raw: raw},
		},
	}
	body, err := json.Marshal(ar)
	if err != nil {
		return false, "", err
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/validate?timeout=10s", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return false, "", fmt.Errorf("HTTP %d: %s", rec.Code, rec.Body.String())
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
		return false, "", fmt.Errorf("response is no review: %v: %s", err, rec.Body.String())
	}
	msg := ""
	if out.Response.Result != nil {
		msg = out.Response.Result.Message
	}
	return out.Response.Allowed, msg, nil
}
