package encryption

import (
	"bytes"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/report"
)

// TestAtRestFromReport checks every verification level: what the
// assessment says about Secrets, and that the JSON report it writes, read
// back, says exactly the same.
func TestAtRestFromReport(t *testing.T) {
	cfg := func(first ConfigProvider) *Config {
		return &Config{Path: "/etc/kubernetes/enc.yaml", Entries: []ConfigEntry{{Resources: []string{"secrets"},
			Providers: []ConfigProvider{first, {Type: ProviderIdentity}}}}}
	}
	secretbox := cfg(ConfigProvider{Type: ProviderSecretbox, Keys: []ConfigKey{{Name: "sb1", Length: 32}}})
	identityFirst := &Config{Path: "/etc/enc.yaml", Entries: []ConfigEntry{{Resources: []string{"secrets"},
		Providers: []ConfigProvider{{Type: ProviderIdentity}, {Type: ProviderAESCBC, Keys: []ConfigKey{{Name: "k", Length: 32}}}}}}}
	inv := func(counts map[string]int) *Inventory {
		r := ResourceInventory{Resource: "secrets", Counts: counts}
		for l, n := range counts {
			for range n {
				st := Storage{Provider: ProviderIdentity}
				if p, k, ok := strings.Cut(l, ":"); ok {
					st = Storage{Encrypted: true, Provider: p, Version: "v1", Key: k}
				} else if l == ProviderUnknown {
					st = Storage{Provider: ProviderUnknown}
				}
				r.Objects = append(r.Objects, Object{Key: "/registry/secrets/ns/x", Namespace: "ns", Name: "x", Storage: st})
			}
		}
		return &Inventory{Revision: 42, Resources: []ResourceInventory{r, {Resource: "configmaps", Counts: map[string]int{"plaintext": 1},
			Objects: []Object{{Key: "/registry/configmaps/ns/c", Storage: Storage{Provider: ProviderIdentity}}}}}}
	}
	apiserver := func(a Assessment, flag string) Assessment {
		a.APIServerSeen, a.APIServerSource, a.EncryptionConfigFlag = true, "/etc/kubernetes/manifests/kube-apiserver.yaml", flag
		return a
	}
	tests := []struct {
		name     string
		a        Assessment
		level    Level
		status   string
		provider string
		detail   string
	}{
		{"etcd: all encrypted", Assessment{Inventory: inv(map[string]int{"secretbox:sb1": 3, "secretbox:sb0": 1}), Config: secretbox}, LevelEtcd, StatusVerified, "secretbox", "all 4 Secrets in etcd encrypted (revision 42"},
		{"etcd: two providers, no config", Assessment{Inventory: inv(map[string]int{"aescbc:k1": 1, "kms-v2:vault": 2})}, LevelEtcd, StatusVerified, "aescbc+kms-v2", "all 3"},
		{"etcd: plaintext left", Assessment{Inventory: inv(map[string]int{"secretbox:sb1": 2, "plaintext": 1}), Config: secretbox}, LevelEtcd, StatusNotEncrypted, "", "1 of 3 Secrets stored as plaintext"},
		{"etcd: encrypted but new writes plaintext", Assessment{Inventory: inv(map[string]int{"aescbc:k": 2}), Config: identityFirst}, LevelEtcd, StatusNotEncrypted, "", "writes Secrets as plaintext"},
		{"etcd: encrypted but no flag", apiserver(Assessment{Inventory: inv(map[string]int{"aescbc:k": 2})}, ""), LevelEtcd, StatusNotEncrypted, "", "without --encryption-provider-config"},
		{"etcd: unknown encoding", Assessment{Inventory: inv(map[string]int{"aescbc:k": 2, ProviderUnknown: 1})}, LevelEtcd, StatusUnknown, "", "unknown encoding"},
		{"etcd: no Secret", Assessment{Inventory: inv(map[string]int{})}, LevelEtcd, StatusUnknown, "", "nothing to verify"},
		{"etcd: configmaps only", Assessment{Inventory: &Inventory{Revision: 3, Resources: []ResourceInventory{{Resource: "configmaps", Counts: map[string]int{}}}}}, LevelEtcd, StatusUnknown, "", "not for secrets"},
		{"config: encrypts", apiserver(Assessment{Config: secretbox}, "/etc/kubernetes/enc.yaml"), LevelConfig, StatusConfigured, "secretbox", "stored values were not read"},
		{"config: kms v2", Assessment{Config: cfg(ConfigProvider{Type: ProviderKMS, KMSVersion: "v2", Name: "vault"})}, LevelConfig, StatusConfigured, "kms-v2", "kms-v2:vault"},
		{"config: identity first", Assessment{Config: identityFirst}, LevelConfig, StatusNotEncrypted, "", "identity first"},
		{"config: secrets not covered", Assessment{Config: &Config{Path: "/e.yaml", Entries: []ConfigEntry{{Resources: []string{"configmaps"}, Providers: []ConfigProvider{{Type: ProviderSecretbox, Keys: []ConfigKey{{Name: "k", Length: 32}}}}}}}}, LevelConfig, StatusNotEncrypted, "", "plaintext"},
		{"flags: not configured", apiserver(Assessment{}, ""), LevelFlags, StatusNotEncrypted, "", "without --encryption-provider-config"},
		{"flags: config unreadable", apiserver(Assessment{}, "/etc/enc.yaml"), LevelFlags, StatusUnknown, "", "could not be read"},
		{"none", Assessment{}, LevelNone, StatusUnknown, "", "nothing is known"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.a.AtRest()
			if got.Level != tt.level || got.Status != tt.status || got.Provider != tt.provider || !strings.Contains(got.Detail, tt.detail) {
				t.Errorf("AtRest() = %+v, want level %s, status %s, provider %q, detail with %q", got, tt.level, tt.status, tt.provider, tt.detail)
			}
			if got.Status == StatusVerified && got.Level != LevelEtcd {
				t.Errorf("verified without reading etcd: %+v", got)
			}
			var buf bytes.Buffer
			if err := report.Write(&buf, report.FormatJSON, tt.a.Report(ReviewOptions{Resources: []string{"secrets", "configmaps"}}), report.Options{}); err != nil {
				t.Fatal(err)
			}
			back, err := ReadReport(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if back != got {
				t.Errorf("read back from the JSON report:\n %+v\nwant\n %+v", back, got)
			}
		})
	}
}

func TestReadReportRefuses(t *testing.T) {
	for _, tt := range []struct{ name, doc, want string }{
		{"not JSON", "verification: etcd", "encryption report"},
		{"another scanner's report", `{"findings":[],"summary":{"total":0},"problems":[{"level":"note","message":"skipped"}]}`, "no \"verification:\" note"},
		{"bad count", `{"findings":[],"problems":[{"level":"note","message":"verification: etcd — at revision 1"},{"level":"note","message":"secrets: 1 object(s) in etcd: lots plaintext"}]}`, "storage count"},
		{"too large", `{"findings":[` + strings.Repeat(" ", MaxReportBytes) + `]}`, "larger than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ReadReport(strings.NewReader(tt.doc)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// FuzzReadReport: any document either is refused or yields a status that
// never claims "verified" without an etcd-level note. Seeds in
// testdata/fuzz/FuzzReadReport are reports of every verification level.
func FuzzReadReport(f *testing.F) {
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, err := ReadReport(bytes.NewReader(doc))
		if err != nil {
			return
		}
		switch got.Status {
		case StatusVerified:
			if got.Level != LevelEtcd {
				t.Fatalf("verified at level %s", got.Level)
			}
		case StatusConfigured, StatusNotEncrypted, StatusUnknown:
		default:
			t.Fatalf("status %q", got.Status)
		}
	})
}
