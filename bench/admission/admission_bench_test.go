package admission_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/bench/admission/setup"
	"github.com/palisade-sec/palisade/internal/admission"
	"github.com/palisade-sec/palisade/internal/testregistry"
)

// BenchmarkValidate measures one /validate answer in process, with the
// benchmark's policy (20 rules, allow-list, digest resolution and
// signature verification served from the caches) on a Deployment with
// three containers. run.sh measures the same over HTTPS at fixed rates.
func BenchmarkValidate(b *testing.B) {
	reg := testregistry.Start(b, testregistry.Options{})
	dir := b.TempDir()
	if err := setup.Prepare(context.Background(), reg.Host, dir); err != nil {
		b.Fatal(err)
	}
	srv, err := admission.NewServer(context.Background(), admission.Options{
		PolicyFile: filepath.Join(dir, "policy.yaml"),
		Logger:     slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	if n := srv.Policy().Rules().Len(); n != 21 { // 20 workload rules and the allow-list
		b.Fatalf("policy selects %d rules, want 21", n)
	}
	body, err := os.ReadFile(filepath.Join(dir, "review.json"))
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	call := func() string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body)))
		return rec.Body.String()
	}
	if out := call(); !strings.Contains(out, `"allowed":true`) { // warms the caches
		b.Fatalf("benchmark review not allowed: %s", out)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		call()
	}
}
