package vulndb

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// TestRedHatVEX downloads Red Hat's CSAF VEX documents as Red Hat packs
// them (a .tar.zst) with `db update`: the streams a CVE affects without a
// fix become a REDHAT-<CVE> record with the state Red Hat gives each
// ("Will not fix", "Out of support scope", "Fix deferred", "Affected")
// and its impact; fixed builds become fixed ranges of their binary rpms;
// streams declared not affected become CVE statuses.
func TestRedHatVEX(t *testing.T) {
	db, res := vendorUpdate(t, "redhat-vex", "/csaf/v2/vex/csaf_vex_2024-12-01.tar.zst", tarDir(t, "testdata/redhat-vex", "zst"))
	if res.Records != 2 || res.Skipped != 1 || res.CVEs != 1 {
		t.Fatalf("update: %+v", res)
	}
	type entry struct {
		eco, name, fixed, state, reason, severity string
		source                                    bool
	}
	var got []entry
	for _, name := range []string{"openssl", "openssl-libs", "libxml2"} {
		recs, err := db.Lookup("Red Hat", name)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			for i := range r.Affected {
				a := &r.Affected[i]
				if a.Package.Name != name {
					continue
				}
				e := entry{eco: a.Package.Ecosystem, name: name, severity: r.SpecificSeverity(a), source: a.SourcePackage()}
				e.state, e.reason = a.SpecificFixState()
				if evs := a.Ranges[0].Events; len(evs) > 1 {
					e.fixed = evs[1].Fixed
				}
				got = append(got, e)
			}
		}
	}
	want := []entry{
		{"Red Hat:enterprise_linux:8", "openssl", "", "will_not_fix", "Will not fix", "Low", true},
		{"Red Hat:enterprise_linux:7", "openssl", "", "end_of_life", "Out of support scope", "Low", true},
		{"Red Hat:enterprise_linux:9::baseos", "openssl", "1:3.0.7-27.el9_4", "", "", "Low", false},
		{"Red Hat:enterprise_linux:9::baseos", "openssl-libs", "1:3.0.7-27.el9_4", "", "", "Low", false},
		{"Red Hat:enterprise_linux:9", "libxml2", "", "fix_deferred", "Fix deferred", "Moderate", true},
		{"Red Hat:enterprise_linux:8", "libxml2", "", "affected", "Affected", "Moderate", true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("affected entries:\n got  %+v\n want %+v", got, want)
	}
	info, err := db.CVE("CVE-2024-0727")
	if err != nil || info == nil || len(info.Statuses) != 1 ||
		info.Statuses[0] != (PackageStatus{Ecosystem: "Red Hat:enterprise_linux:6", Package: "openssl", State: StateNotAffected}) {
		t.Errorf("CVE statuses: %+v, %v", info, err)
	}
	r, _ := db.Get("REDHAT-CVE-2024-0727")
	if r == nil || !slices.Equal(r.Aliases, []string{"CVE-2024-0727"}) || len(r.Severity) != 1 || r.Modified.IsZero() {
		t.Errorf("record: %+v", r)
	}
}

func TestParseRedHatVEXRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"not JSON":         `{"document":`,
		"advisory":         `{"document":{"category":"csaf_security_advisory"}}`,
		"no vulnerability": `{"document":{"category":"csaf_vex"},"vulnerabilities":[]}`,
		"two":              `{"document":{"category":"csaf_vex"},"vulnerabilities":[{"cve":"CVE-2024-1"},{"cve":"CVE-2024-2"}]}`,
		"not a CVE":        `{"document":{"category":"csaf_vex"},"vulnerabilities":[{"cve":"RHSA-2024:1"}]}`,
	} {
		if _, _, err := parseRedHatVEX([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A document whose statuses name unknown products yields nothing.
	rec, info, err := parseRedHatVEX([]byte(`{"document":{"category":"csaf_vex"},"vulnerabilities":[{"cve":"CVE-2024-1","product_status":{"known_affected":["x:y"],"known_not_affected":["z"]}}]}`))
	if err != nil || rec != nil || info != nil {
		t.Errorf("unknown products: %v %v %v", rec, info, err)
	}
}

// FuzzParseRedHatVEX: hostile documents are rejected or give valid
// records, never a panic.
func FuzzParseRedHatVEX(f *testing.F) {
	for _, p := range []string{"testdata/redhat-vex/2024/cve-2024-0727.json", "testdata/redhat-vex/2024/cve-2024-11111.json"} {
		f.Add(readFile(f, p))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, _, err := parseRedHatVEX(data)
		if err != nil || rec == nil {
			return
		}
		if err := rec.validate(); err != nil {
			return // readRedHatVEX skips it
		}
		if _, err := json.Marshal(rec); err != nil {
			t.Fatal(err)
		}
	})
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
