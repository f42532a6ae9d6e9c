package encryption

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		in   string
		want Storage
	}{
		{"k8s\x00\x0a\x0c\x0a\x02v1\x12\x06Secret", Storage{Provider: ProviderIdentity}},
		{`{"kind":"Secret"}`, Storage{Provider: ProviderIdentity}},
		{"k8s:enc:aescbc:v1:key1:\x00\xff:::", Storage{Encrypted: true, Provider: "aescbc", Version: "v1", Key: "key1"}},
		{"k8s:enc:aesgcm:v1:k2:xx", Storage{Encrypted: true, Provider: "aesgcm", Version: "v1", Key: "k2"}},
		{"k8s:enc:secretbox:v1:sb:xx", Storage{Encrypted: true, Provider: "secretbox", Version: "v1", Key: "sb"}},
		{"k8s:enc:kms:v1:vault:xx", Storage{Encrypted: true, Provider: "kms", Version: "v1", Key: "vault"}},
		{"k8s:enc:kms:v2:aws-kms:\x0a\x10", Storage{Encrypted: true, Provider: "kms", Version: "v2", Key: "aws-kms"}},
		{"k8s:enc:aescbc:v1:", Storage{Provider: ProviderUnknown}},
		{"garbage", Storage{Provider: ProviderUnknown}},
		{"", Storage{Provider: ProviderUnknown}},
	}
	for _, tt := range tests {
		if got := Classify([]byte(tt.in)); got != tt.want {
			t.Errorf("Classify(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	if l := (Storage{Encrypted: true, Provider: "kms", Version: "v2", Key: "x"}).Label(); l != "kms-v2:x" {
		t.Errorf("label %q", l)
	}
}

func key(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }

func TestReview(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		config  string
		modTime time.Time
		want    []string // rule IDs, in order
	}{
		{"secretbox first, fresh", `resources: [{resources: [secrets], providers: [{secretbox: {keys: [{name: k, secret: ` + key(32) + `}]}}, {identity: {}}]}]`, now, nil},
		{"kms v2", `resources: [{resources: ["*.*"], providers: [{kms: {apiVersion: v2, name: vault, endpoint: unix:///k.sock}}]}]`, now, nil},
		{"identity first", `resources: [{resources: [secrets], providers: [{identity: {}}, {aescbc: {keys: [{name: k, secret: ` + key(32) + `}]}}]}]`, now, []string{RuleIdentityFirst}},
		{"aescbc", `resources: [{resources: [secrets], providers: [{aescbc: {keys: [{name: k, secret: ` + key(32) + `}]}}]}]`, now, []string{RuleWeakProvider}},
		{"aesgcm", `resources: [{resources: [secrets], providers: [{aesgcm: {keys: [{name: k, secret: ` + key(16) + `}]}}]}]`, now, []string{RuleWeakProvider}},
		{"kms v1", `resources: [{resources: [secrets], providers: [{kms: {name: old}}]}]`, now, []string{RuleWeakProvider}},
		{"secrets not covered", `resources: [{resources: [configmaps], providers: [{secretbox: {keys: [{name: k, secret: ` + key(32) + `}]}}]}]`, now, []string{RuleNotCovered}},
		{"core wildcard covers", `resources: [{resources: ["*."], providers: [{secretbox: {keys: [{name: k, secret: ` + key(32) + `}]}}]}]`, now, nil},
		{"bad key length and duplicate", `resources: [{resources: [secrets], providers: [{secretbox: {keys: [{name: k, secret: ` + key(16) + `}, {name: k, secret: "%%%"}]}}]}]`, now,
			[]string{RuleInvalidKey, RuleInvalidKey, RuleInvalidKey}},
		{"key date in name", `resources: [{resources: [secrets], providers: [{secretbox: {keys: [{name: key-2025-01-15, secret: ` + key(32) + `}]}}]}]`, now, []string{RuleKeyAge}},
		{"recent key date beats old mtime", `resources: [{resources: [secrets], providers: [{secretbox: {keys: [{name: k20260501, secret: ` + key(32) + `}]}}]}]`, now.AddDate(-2, 0, 0), nil},
		{"old file mtime", `resources: [{resources: [secrets], providers: [{secretbox: {keys: [{name: k, secret: ` + key(32) + `}]}}]}]`, now.AddDate(0, -4, 0), []string{RuleKeyAge}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte("kind: EncryptionConfiguration\napiVersion: apiserver.config.k8s.io/v1\n" + tt.config))
			if err != nil {
				t.Fatal(err)
			}
			c.Path, c.ModTime = "/etc/enc.yaml", tt.modTime
			var got []string
			for _, f := range Review(c, ReviewOptions{Now: now}) {
				got = append(got, f.RuleID)
				if f.File != "/etc/enc.yaml" || f.Message == "" {
					t.Errorf("finding without file or message: %+v", f)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	for _, bad := range []string{"kind: Pod\n", "kind: EncryptionConfiguration\nresources: [{resources: [s], providers: [{rot13: {}}]}]\n",
		"kind: EncryptionConfiguration\nresources: [{resources: [s], providers: []}]\n", "kind: EncryptionConfiguration\nresources: [{resources: [s], providers: [{aescbc: {keys: []}}]}]\n"} {
		if _, err := ParseConfig([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestLoadConfigNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "enc.yaml")
	if err := os.WriteFile(p, []byte("kind: Nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("error does not name the file: %v", err)
	}
}

// mapKV is an in-memory KV with etcd's range semantics.
type mapKV struct {
	data  map[string][]byte
	pages int
}

func (m *mapKV) keys(from, end string) []string {
	var out []string
	for k := range m.data {
		if k >= from && k < end {
			out = append(out, k)
		}
	}
	sortStrings(out)
	return out
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func (m *mapKV) Count(_ context.Context, prefix string) (int64, error) {
	return int64(len(m.keys(prefix, prefixEnd(prefix)))), nil
}

func (m *mapKV) Page(_ context.Context, from, end string, limit, _ int64, keysOnly bool) ([]KeyValue, bool, int64, error) {
	m.pages++
	ks := m.keys(from, end)
	more := int64(len(ks)) > limit
	if more {
		ks = ks[:limit]
	}
	var out []KeyValue
	for _, k := range ks {
		kv := KeyValue{Key: k}
		if !keysOnly {
			kv.Value = m.data[k]
		}
		out = append(out, kv)
	}
	return out, more, 7, nil
}

func TestScanPagesAndReport(t *testing.T) {
	kv := &mapKV{data: map[string][]byte{
		"/registry/secrets/a/s1":         []byte("k8s\x00plain"),
		"/registry/secrets/a/s2":         []byte("k8s:enc:aescbc:v1:key1:xxx"),
		"/registry/secrets/b/s3":         []byte("k8s:enc:aescbc:v1:key2:xxx"),
		"/registry/secrets/b/s4":         []byte("k8s:enc:aescbc:v1:key2:xxx"),
		"/registry/secrets/b/s5":         []byte("??"),
		"/registry/secretsx/a/not-me":    []byte("k8s\x00"),
		"/registry/configmaps/a/c1":      []byte(`{"kind":"ConfigMap"}`),
		"/registry/namespaces/something": []byte("k8s\x00"),
	}}
	inv, err := Scan(context.Background(), kv, ScanOptions{Resources: []string{"secrets", "configmaps"}, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if kv.pages != 3+1 {
		t.Errorf("%d pages, want 4 (5 secrets by 2, 1 configmap)", kv.pages)
	}
	s := inv.Resources[0]
	if len(s.Objects) != 5 || s.Counts["aescbc:key2"] != 2 || s.Counts["plaintext"] != 1 || s.Counts["unknown"] != 1 {
		t.Errorf("secrets: %+v", s.Counts)
	}
	if s.Objects[0].Namespace != "a" || s.Objects[0].Name != "s1" {
		t.Errorf("object ref: %+v", s.Objects[0])
	}

	c, err := ParseConfig([]byte("kind: EncryptionConfiguration\nresources: [{resources: [secrets], providers: [{aescbc: {keys: [{name: key2, secret: " + key(32) + "}, {name: key1, secret: " + key(32) + "}]}}, {identity: {}}]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	c.Path = "enc.yaml"
	r := (&Assessment{Inventory: inv, Config: c}).Report(ReviewOptions{Resources: []string{"secrets"}})
	byRule := map[string]int{}
	for _, f := range r.Findings {
		byRule[f.RuleID]++
	}
	if byRule[RulePlaintext] != 2 || byRule[RuleStaleKey] != 1 || byRule[RuleUnknownEncoding] != 1 || byRule[RuleWeakProvider] != 1 {
		t.Errorf("findings by rule: %v", byRule)
	}
	text := fmt.Sprint(r.Problems)
	for _, want := range []string{"verification: etcd", "secrets: 5 object(s) in etcd: 2 aescbc:key2, 1 aescbc:key1, 1 plaintext, 1 unknown; new writes: aescbc:key2",
		"kubectl get secrets -A -o json | kubectl replace -f -", "configmaps: 1 object(s) in etcd: 1 plaintext"} {
		if !strings.Contains(text, want) {
			t.Errorf("notes lack %q: %s", want, text)
		}
	}
	if stale := s.Stale(&Storage{Encrypted: true, Provider: "aescbc", Version: "v1", Key: "key2"}); len(stale) != 2 {
		t.Errorf("stale: %+v", stale)
	}
}

func TestReportLevels(t *testing.T) {
	c := &Config{Path: "/etc/enc.yaml", Entries: []ConfigEntry{{Resources: []string{"secrets"}, Providers: []ConfigProvider{{Type: ProviderSecretbox, Keys: []ConfigKey{{Name: "k", Length: 32}}}}}}}
	tests := []struct {
		name  string
		a     Assessment
		level string
		rules []string
	}{
		{"nothing", Assessment{}, "verification: none", nil},
		{"flags without encryption", Assessment{APIServerSeen: true, APIServerSource: "/etc/kubernetes/manifests/kube-apiserver.yaml"}, "verification: API server flags only", []string{RuleNotConfigured}},
		{"config only", Assessment{Config: c, APIServerSeen: true, EncryptionConfigFlag: "/etc/enc.yaml"}, "verification: configuration only", []string{RuleNotVerified}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.a.Report(ReviewOptions{})
			if !strings.HasPrefix(r.Problems[0].Message, tt.level) {
				t.Errorf("first note %q, want %q", r.Problems[0].Message, tt.level)
			}
			var got []string
			for _, f := range r.Findings {
				got = append(got, f.RuleID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.rules) {
				t.Errorf("rules %v, want %v", got, tt.rules)
			}
			for _, f := range r.Findings {
				if f.RuleID == RulePlaintext {
					t.Error("claims plaintext objects without reading etcd")
				}
			}
		})
	}
	_ = finding.LevelNote
}
