package vulnmatch

import (
	"context"
	"slices"
	"testing"

	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// TestMatchSUSEProducts: OSV's SUSE and openSUSE records name a product
// and service pack; an image's rpm names its release only in the purl's
// distro qualifier (from os-release). Each package must match the
// records of its own product and release only: not another service pack,
// major release or family, not LTSS, not a product of another line, and
// no Red Hat-like reading of an "el9" in a SUSE rpm's release.
func TestMatchSUSEProducts(t *testing.T) {
	products := map[string]string{
		"SUSE-1":  "SUSE:Linux Enterprise Server 15 SP5",
		"SUSE-2":  "SUSE:Linux Enterprise Module for Basesystem 15 SP5",
		"SUSE-3":  "SUSE:Linux Enterprise Server 15 SP4",
		"SUSE-4":  "SUSE:Linux Enterprise Server 12 SP5",
		"SUSE-5":  "SUSE:Linux Enterprise Server LTSS 15 SP5",
		"SUSE-6":  "SUSE:Manager Server 4.3",
		"SUSE-7":  "SUSE:Linux Enterprise Micro 5.5",
		"SUSE-8":  "SUSE:Linux Enterprise Server 15",
		"SUSE-9":  "SUSE:Linux Enterprise Server for SAP Applications 15 SP5",
		"OSUSE-1": "openSUSE:Leap 15.5",
		"OSUSE-2": "openSUSE:Leap 15.4",
		"OSUSE-3": "openSUSE:Leap Micro 5.5",
		"OSUSE-4": "openSUSE:Tumbleweed",
		"RHSA-1":  "Red Hat:enterprise_linux:9::baseos",
	}
	var recs []vulndb.Record
	for id, eco := range products {
		recs = append(recs, vulndb.Record{ID: id, Affected: []vulndb.Affected{affected(eco, "libxml2-2", "2.10.3-150500.5.20.1")}})
	}
	db := openRecords(t, recs...)
	rpm := func(eco, distro, version string) sbom.Package {
		purl := "pkg:rpm/suse/libxml2-2@" + version + "?arch=x86_64"
		if distro != "" {
			purl += "&distro=" + distro
		}
		return sbom.Package{Name: "libxml2-2", Version: version, Ecosystem: eco, Type: "rpm", PURL: purl}
	}
	const v = "2.10.3-150500.5.11.1"
	for _, tc := range []struct {
		name string
		pkg  sbom.Package
		want []string
	}{
		{"SLES 15 SP5 (BCI)", rpm(sbom.EcosystemSUSE, "sles-15.5", v), []string{"SUSE-1", "SUSE-2", "SUSE-9"}},
		{"SLES 15 SP4", rpm(sbom.EcosystemSUSE, "sles-15.4", v), []string{"SUSE-3"}},
		{"SLES 15 GA", rpm(sbom.EcosystemSUSE, "sles-15", v), []string{"SUSE-8"}},
		{"SLES 12 SP5", rpm(sbom.EcosystemSUSE, "sles-12.5", v), []string{"SUSE-4"}},
		{"SLE Micro 5.5", rpm(sbom.EcosystemSUSE, "sle-micro-5.5", v), []string{"SUSE-7"}},
		{"Leap 15.5", rpm(sbom.EcosystemOpenSUSE, "opensuse-leap-15.5", v), []string{"OSUSE-1"}},
		{"Leap Micro 5.5", rpm(sbom.EcosystemOpenSUSE, "opensuse-leap-micro-5.5", v), []string{"OSUSE-3"}},
		{"Tumbleweed", rpm(sbom.EcosystemOpenSUSE, "opensuse-tumbleweed-20240101", v), []string{"OSUSE-4"}},
		// No release known: every product of the family applies (never a
		// false clean); an "el9" in the rpm release is not a SUSE release.
		{"SUSE, release unknown, el-like rpm release", rpm(sbom.EcosystemSUSE, "", "2.10.3-1.el9"),
			[]string{"SUSE-1", "SUSE-2", "SUSE-3", "SUSE-4", "SUSE-5", "SUSE-6", "SUSE-7", "SUSE-8", "SUSE-9"}},
		{"SLES 15 SP5 with an el9 rpm release", rpm(sbom.EcosystemSUSE, "sles-15.5", "2.10.3-1.el9"), []string{"SUSE-1", "SUSE-2", "SUSE-9"}},
		{"release in the ecosystem", rpm("SUSE:Linux Enterprise Server 15 SP4", "", v), []string{"SUSE-3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Match(context.Background(), db, []sbom.Package{tc.pkg}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range res.Findings {
				got = append(got, f.RuleID)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("matched %v, want %v", got, tc.want)
			}
		})
	}
}
