package vulndb

import (
	"os"
	"slices"
	"testing"
)

// TestRepositoryCPEs downloads Red Hat's repository-to-CPE mapping from a
// local server with `db update` (ETag, a 304 keeping it, failed and
// partial downloads leaving the database as it was: vendorUpdate): each
// content set keeps its Red Hat CPEs, a "__8_DOT_6" variant also counts
// for its plain label (the name content manifests use), and entries
// without a valid label or a Red Hat CPE are skipped and counted.
func TestRepositoryCPEs(t *testing.T) {
	body, err := os.ReadFile("testdata/redhat-cpe/repository-to-cpe.json")
	if err != nil {
		t.Fatal(err)
	}
	db, res := vendorUpdate(t, "redhat-cpe", "/data/metrics/repository-to-cpe.json", body)
	if res.Skipped != 3 {
		t.Errorf("skipped %d, want 3: %v", res.Skipped, res.Errors)
	}
	if !db.HasRepositoryMapping() {
		t.Error("HasRepositoryMapping is false")
	}
	for _, tc := range []struct {
		repo string
		want []string
	}{
		{"rhel-8-for-x86_64-baseos-rpms", []string{"cpe:/o:redhat:enterprise_linux:8::baseos", "cpe:/o:redhat:rhel:8.3::baseos"}},
		{"ubi-8-for-x86_64-appstream-rpms", []string{"cpe:/a:redhat:enterprise_linux:8::appstream"}},
		{"rhel-8-for-x86_64-baseos-eus-rpms", []string{"cpe:/o:redhat:rhel_eus:8.6::baseos"}},
		{"rhel-8-for-x86_64-baseos-eus-rpms__8_DOT_6", []string{"cpe:/o:redhat:rhel_eus:8.6::baseos"}},
		{"rhel-10-for-x86_64-baseos-rpms", []string{"cpe:/o:redhat:enterprise_linux:10.0"}},
		{"foreign-cpe-rpms", nil},
		{"rhel-8-no-cpes-rpms", nil},
		{"unknown-rpms", nil},
	} {
		got, err := db.RepositoryCPEs(tc.repo)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q %v, want %q", tc.repo, got, err, tc.want)
		}
	}
	var st readStats
	for _, bad := range []string{`[]`, `{"data": []}`, `{}`, `{"data": {"x": {"cpes": "cpe"}}}`} {
		if _, err := parseRepositoryCPEs([]byte(bad), &st); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	if src, ok := EnrichmentSource("redhat-cpe"); !ok || src.URL != RedHatRepositoryCPEURL || src.Format != FormatRedHatCPE {
		t.Errorf("redhat-cpe named alone: %+v", src)
	}
}

// FuzzParseRepositoryCPEs: a hostile mapping fails or gives valid labels
// with Red Hat CPEs, never a panic.
func FuzzParseRepositoryCPEs(f *testing.F) {
	f.Add(readFile(f, "testdata/redhat-cpe/repository-to-cpe.json"))
	f.Add([]byte(`{"data": {"a__b__c": {"cpes": ["cpe:/o:redhat:x", "cpe:/o:redhat:x"]}, "__": {"cpes": ["cpe:/a:redhat:y"]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var st readStats
		repos, err := parseRepositoryCPEs(data, &st)
		if err != nil {
			return
		}
		for label, cpes := range repos {
			if validRepoLabel(label) != nil || len(cpes) == 0 || len(cpes) > maxRepoCPEs {
				t.Fatalf("%q: %q", label, cpes)
			}
			for _, c := range cpes {
				if RedHatStream(c) == "" {
					t.Fatalf("%q: CPE %q", label, c)
				}
			}
		}
	})
}
