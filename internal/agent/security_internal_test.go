package agent

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// TestEncryptionFromHost: with a read-only host tree of a control-plane
// node and no report, the agent reports what the API server's
// configuration shows — configured at best, never verified — and reviews
// the host again only after hostCheckEvery.
func TestEncryptionFromHost(t *testing.T) {
	hosts := filepath.Join("..", "nodeaudit", "testdata", "hosts")
	tests := []struct {
		host, status, verification, provider, detail string
	}{
		{"kubeadm/good", fleetapi.EncryptionConfigured, fleetapi.VerificationConfig, "secretbox", "stored values were not read"},
		{"kubeadm/bad", fleetapi.EncryptionNotEncrypted, fleetapi.VerificationFlags, "", "without --encryption-provider-config"},
		{"no-such-host", fleetapi.EncryptionUnknown, fleetapi.VerificationNone, "", "nothing is known"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
			s := newEncryptionSource("", filepath.Join(hosts, tt.host))
			s.now = func() time.Time { return now }
			e := s.current(context.Background())
			if e.Status != tt.status || e.Verification != tt.verification || e.Provider != tt.provider || !strings.Contains(e.Detail, tt.detail) ||
				!e.CheckedAt.Equal(now) || e.Source != "host "+filepath.Join(hosts, tt.host) {
				t.Errorf("%+v, want %s at %s with %q", e, tt.status, tt.verification, tt.detail)
			}
			now = now.Add(hostCheckEvery / 2)
			if again := s.current(context.Background()); again != e {
				t.Error("host reviewed again before hostCheckEvery")
			}
			now = now.Add(hostCheckEvery)
			if again := s.current(context.Background()); again == e || !again.CheckedAt.Equal(now) {
				t.Errorf("host not reviewed again after hostCheckEvery: %+v", again)
			}
		})
	}
	if e := newEncryptionSource("", "").current(context.Background()); e != nil {
		t.Errorf("no source: %+v, want nil (not reported)", e)
	}
}

// TestEncryptionReportFile: a report file is read again when it changes;
// a missing one is unknown, with the reason.
func TestEncryptionReportFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "enc.json")
	s := newEncryptionSource(p, "")
	if e := s.current(context.Background()); e.Status != fleetapi.EncryptionUnknown || !strings.Contains(e.Detail, "no such file") {
		t.Errorf("missing report: %+v", e)
	}
	write := func(doc string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	write(`{"findings":[],"problems":[{"level":"note","message":"verification: etcd — the raw stored values of 2 object(s) were read at revision 9"},`+
		`{"level":"note","message":"secrets: 2 object(s) in etcd: 2 kms-v2:vault"}]}`, t0)
	e := s.current(context.Background())
	if e.Status != fleetapi.EncryptionVerified || e.Verification != fleetapi.VerificationEtcd || e.Provider != "kms-v2" || !e.CheckedAt.Equal(t0) {
		t.Errorf("etcd report: %+v", e)
	}
	if again := s.current(context.Background()); again != e {
		t.Error("unchanged report parsed again")
	}
	write(`{"findings":[],"problems":[{"level":"note","message":"verification: etcd — at revision 10"},`+
		`{"level":"note","message":"secrets: 3 object(s) in etcd: 2 kms-v2:vault, 1 plaintext"}]}`, t0.Add(time.Hour))
	if e := s.current(context.Background()); e.Status != fleetapi.EncryptionNotEncrypted || !strings.Contains(e.Detail, "1 of 3 Secrets stored as plaintext") {
		t.Errorf("changed report: %+v", e)
	}
	// The report's own time wins over the file's (a mounted ConfigMap's
	// file time is when the kubelet wrote it); one in the future is
	// refused, as is a report whose findings contradict its notes.
	made := t0.Add(-48 * time.Hour)
	etcdReport := func(at time.Time, findings string) string {
		return `{"findings":[` + findings + `],"problems":[{"level":"note","message":"verification: etcd — at revision 11"},` +
			`{"level":"note","message":"secrets: 2 object(s) in etcd: 2 aescbc:k"},{"level":"note","message":"checked at ` + at.Format(time.RFC3339) + `"}]}`
	}
	write(etcdReport(made, ""), t0.Add(2*time.Hour))
	if e := s.current(context.Background()); e.Status != fleetapi.EncryptionVerified || !e.CheckedAt.Equal(made) {
		t.Errorf("report with its own time: %+v, want checked at %s", e, made)
	}
	s.now = func() time.Time { return t0 }
	write(etcdReport(t0.Add(time.Hour), ""), t0.Add(3*time.Hour))
	if e := s.current(context.Background()); e.Status != fleetapi.EncryptionUnknown || !strings.Contains(e.Detail, "in the future") {
		t.Errorf("report from the future: %+v", e)
	}
	write(etcdReport(made, `{"ruleID":"encryption/plaintext-at-rest","severity":"HIGH","message":"stored as plaintext","object":{"kind":"Secret","namespace":"ns","name":"db"}}`), t0.Add(4*time.Hour))
	if e := s.current(context.Background()); e.Status != fleetapi.EncryptionUnknown || !strings.Contains(e.Detail, "contradict") {
		t.Errorf("verified notes with a plaintext Secret finding: %+v", e)
	}
}

// TestAgentLinksNoEtcdClient keeps the slim agent free of etcd's client,
// which internal/encryption/etcdkv holds apart for this reason. gRPC
// itself is allowed since the agent verifies image signatures: sigstore-go
// links rekor-tiles' generated protobuf code, which imports it.
func TestAgentLinksNoEtcdClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(dep, "go.etcd.io/etcd") || strings.HasSuffix(dep, "internal/encryption/etcdkv") {
			t.Errorf("internal/agent links %s", dep)
		}
	}
}
