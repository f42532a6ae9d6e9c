package imagescan

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/vulndb"
	"github.com/palisade-sec/palisade/internal/vulnmatch"
)

// oracleData is where the catalogers' tests keep real package databases
// (copied from Trivy's and go-rpmdb's test data, see its README.txt).
const oracleData = "../sbom/catalog/testdata/oracle/"

// dpkgStatusOf returns the var/lib/dpkg/status section of a txtar file.
func dpkgStatusOf(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "-- var/lib/dpkg/status --\n")
	if !ok {
		t.Fatalf("%s: no dpkg status section", path)
	}
	if i := strings.Index(rest, "\n-- "); i >= 0 {
		rest = rest[:i+1]
	}
	return []byte(rest)
}

// TestDistributions scans, for each distribution, a root file system
// assembled from a real package database and an os-release, against a
// database built from that distribution's advisories in its vendor's
// format: the packages are matched (never "not checked"), in the
// distribution's version order and release, with its fix states and
// severities (Alpine's from NVD: it rates nothing), and the release is
// reported past its end of life, or its end of life unknown, as the
// dates of 2026-12-07 say.
//
// The databases under testdata/rpmdb were written here by the real rpm
// 4.18 (hack/rpmdb/gen.sh) in each distribution's own backend, naming
// that distribution's packages: Fedora 40, Amazon Linux 2023, Photon OS
// 5.0, Azure Linux 3.0 and the el9 family (sqlite), Amazon Linux 2
// (Berkeley DB). The others are real databases from Trivy's and
// go-rpmdb's test data: el8's Berkeley DB (written by el8's own rpm,
// kept), SLE 15's NDB (Debian's rpm is built without ndb), which
// openSUSE Leap 15.5 shares (Leap 15 ships SLE's binary packages), and
// CBL-Mariner 2.0's sqlite. rpm 4.18 cannot write Berkeley DB: Amazon
// Linux 2's was written by Berkeley DB's db_load from the headers rpm
// stored, and read back by rpm's bdb_ro backend (gen.sh says how).
func TestDistributions(t *testing.T) {
	ctx := context.Background()
	ubuntuStatus := dpkgStatusOf(t, oracleData+"dpkg/trivy/testdata/valid.txtar")
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	mariner := read(oracleData + "rpm/go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite")
	libuuid := read(oracleData + "rpm/go-rpmdb/libuuid/Packages")
	sle := read(oracleData + "rpm/go-rpmdb/sle15-bci/Packages.db")
	apk := read(oracleData + "apk/trivy/testdata/apk")
	own := func(distro, file string) []byte { return read("testdata/rpmdb/" + distro + "/" + file) }
	el9 := func(distro string) []byte { return own(distro, "rpmdb.sqlite") }
	type source struct{ path, name string }
	type want struct {
		pkg, id, fixed, state string
		sev                   finding.Severity
		source                string
	}
	const vuln = "../vulndb/testdata/"
	// The end of life each release is reported with on 2026-12-07: the
	// date in the finding, "unknown" for the warning, none otherwise.
	today := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	eol := map[string]string{
		"Ubuntu 18.04":     "2023-05-31",
		"Alpine 3.4":       "2018-05-01",
		"SLE 15 SP3 (BCI)": "2022-12-31",
		"CBL-Mariner 2.0":  "2025-07-31",
		"Photon OS 5.0":    "unknown",
		"Fedora 40":        "2025-05-13",
		"Amazon Linux 2 (both releases' advisories imported)": "2026-06-30",
		"openSUSE Leap 15.5 (SLE 15's NDB database)":          "2024-12-31",
	}
	for _, tc := range []struct {
		distro    string
		osRelease string
		dbPath    string
		db        []byte
		sources   []source
		want      []want
		absent    []string // "package id" that must not be reported
	}{
		{"Ubuntu 18.04", "ID=ubuntu\nVERSION_ID=\"18.04\"\nVERSION_CODENAME=bionic\n", "var/lib/dpkg/status", ubuntuStatus,
			[]source{{"testdata/distros/ubuntu-osv", "Ubuntu"}, {"testdata/distros/ubuntu-tracker", "ubuntu-tracker"}},
			[]want{
				{"zlib1g", "UBUNTU-CVE-2022-37434", "1:1.2.11.dfsg-0ubuntu2.2", finding.FixStateFixed, finding.SeverityMedium, "Ubuntu"},
				{"libc6", "UBUNTU-CVE-2024-2961", "", finding.FixStateEndOfLife, finding.SeverityHigh, vulndb.SourceUbuntuTracker},
				{"libgcrypt20", "UBUNTU-CVE-2021-33560", "", finding.FixStateDeferred, finding.SeverityLow, vulndb.SourceUbuntuTracker},
				{"bash", "UBUNTU-CVE-2022-3715", "", finding.FixStateAffected, finding.SeverityMedium, vulndb.SourceUbuntuTracker},
			},
			[]string{"tar UBUNTU-CVE-2022-48303"}},
		// Alpine rates nothing: the severity is NVD's, of the record's
		// upstream CVE. A v3.5 record does not apply to 3.4, nor a fix
		// below the installed release (apk order: -r2 after -r1).
		{"Alpine 3.4", "ID=alpine\nVERSION_ID=3.4.6\n", "lib/apk/db/installed", apk,
			[]source{{"testdata/distros/alpine-osv", "alpine"}, {vuln + "enrich/nvdcve-2.0-2024.json", "nvd-2024"}},
			[]want{
				{"libssl1.0", "ALPINE-CVE-2024-0727", "1.0.2h-r2", finding.FixStateFixed, finding.SeverityMedium, "NVD"},
				{"libcrypto1.0", "ALPINE-CVE-2024-0727", "1.0.2h-r2", finding.FixStateFixed, finding.SeverityMedium, "NVD"},
			},
			[]string{"musl ALPINE-CVE-2099-0010", "zlib ALPINE-CVE-2099-0011"}},
		{"UBI 8", "ID=\"rhel\"\nVERSION_ID=\"8.8\"\n", "var/lib/rpm/Packages", libuuid,
			[]source{{"testdata/distros/redhat-vex", "redhat-vex"}},
			[]want{{"libuuid", "REDHAT-CVE-2022-0563", "", finding.FixStateWillNotFix, finding.SeverityLow, "Red Hat"}}, nil},
		{"UBI 9 (libuuid in a stream Red Hat declares not affected)", "ID=\"rhel\"\nVERSION_ID=\"9.4\"\n", "var/lib/rpm/rpmdb.sqlite", el9("ubi-9"),
			[]source{{"testdata/distros/redhat-vex", "redhat-vex"}, {"testdata/distros/redhat-el9-osv", "redhat-osv"}},
			[]want{{"openssl-libs", "RHSA-2099:0901", "1:3.0.7-27.el9", finding.FixStateFixed, finding.SeverityMedium, "Red Hat"}},
			[]string{"libuuid REDHAT-CVE-2022-0563"}},
		{"Rocky Linux 8", "ID=\"rocky\"\nVERSION_ID=\"8.8\"\n", "var/lib/rpm/Packages", libuuid,
			[]source{{"testdata/distros/rocky-alma-osv", "rocky-alma"}},
			[]want{{"libuuid", "RLSA-2023:7877", "2.32.1-43.el8_9", finding.FixStateFixed, finding.SeverityLow, "Rocky Linux"}},
			[]string{"libuuid ALSA-2023:7877"}},
		{"AlmaLinux 8", "ID=\"almalinux\"\nVERSION_ID=\"8.8\"\n", "var/lib/rpm/Packages", libuuid,
			[]source{{"testdata/distros/rocky-alma-osv", "rocky-alma"}},
			[]want{{"libuuid", "ALSA-2023:7877", "2.32.1-43.el8_9", finding.FixStateFixed, finding.SeverityLow, "AlmaLinux"}},
			[]string{"libuuid RLSA-2023:7877"}},
		{"Oracle Linux 8", "ID=\"ol\"\nVERSION_ID=\"8.8\"\n", "var/lib/rpm/Packages", libuuid,
			[]source{{vuln + "oval/com.oracle.elsa-test.xml", "oval-oracle"}},
			[]want{{"libuuid", "ELSA-2023-7877", "2.32.1-43.0.1.el8_9", finding.FixStateFixed, finding.SeverityLow, "Oracle Linux"}}, nil},
		{"SLE 15 SP3 (BCI)", "ID=\"sles\"\nVERSION_ID=\"15.3\"\n", "var/lib/rpm/Packages.db", sle,
			[]source{{"testdata/distros/suse-osv", "SUSE"}},
			[]want{{"glibc", "SUSE-SU-2024:0001-1", "2.31-150300.63.1", finding.FixStateFixed, finding.SeverityHigh, "CVSS_V3"}},
			[]string{"glibc SUSE-SU-2024:0002-1"}},
		{"CBL-Mariner 2.0", "ID=mariner\nVERSION_ID=\"2.0\"\n", "var/lib/rpm/rpmdb.sqlite", mariner,
			[]source{{vuln + "oval/cbl-mariner-2.0-oval.xml", "oval-mariner-2.0"}},
			[]want{
				{"curl", "MARINER-2.0-41001-1", "7.76.0-7.cm2", finding.FixStateFixed, finding.SeverityHigh, "Mariner"},
				{"openssl", "MARINER-2.0-41002-1", "", finding.FixStateAffected, finding.SeverityMedium, "Mariner"},
			}, nil},
		{"Photon OS 5.0", "ID=photon\nVERSION_ID=5.0\nPRETTY_NAME=\"VMware Photon OS/Linux\"\n", "var/lib/rpm/rpmdb.sqlite", own("photon-5.0", "rpmdb.sqlite"),
			[]source{{vuln + "photon/cve_data_photon5.0.json", "photon-5.0"}},
			[]want{
				{"openssl", "PHOTON-5.0-CVE-2023-0464", "3.0.8-2.ph5", finding.FixStateFixed, finding.SeverityHigh, "Photon OS"},
				{"glibc", "PHOTON-5.0-CVE-2024-2961", "", finding.FixStateAffected, finding.SeverityHigh, "Photon OS"},
			}, nil},
		{"Fedora 40", "ID=fedora\nVERSION_ID=40\nNAME=\"Fedora Linux\"\nPRETTY_NAME=\"Fedora Linux 40 (Container Image)\"\n", "usr/lib/sysimage/rpm/rpmdb.sqlite", own("fedora-40", "rpmdb.sqlite"),
			[]source{{"testdata/distros/bodhi-f40/updates-page-1.json", "bodhi-f40"}},
			[]want{
				{"openssl", "FEDORA-2099-f40a000001", "1:3.2.2-1.fc40", finding.FixStateFixed, finding.SeverityMedium, "Fedora"},
				{"openssl-libs", "FEDORA-2099-f40a000001", "1:3.2.2-1.fc40", finding.FixStateFixed, finding.SeverityMedium, "Fedora"},
				{"libcurl", "FEDORA-2099-f40a000002", "8.6.0-8.fc40", finding.FixStateFixed, finding.SeverityHigh, "Fedora"},
			},
			[]string{"bash FEDORA-2099-f40a000003"}},
		{"Amazon Linux 2023", "ID=\"amzn\"\nVERSION_ID=\"2023\"\nPRETTY_NAME=\"Amazon Linux 2023\"\n", "var/lib/rpm/rpmdb.sqlite", own("amzn-2023", "rpmdb.sqlite"),
			[]source{{vuln + "alas/updateinfo-al2023.xml", "alas-2023"}},
			[]want{{"openssl-libs", "ALAS2023-2024-507", "1:3.0.8-1.amzn2023.0.3", finding.FixStateFixed, finding.SeverityMedium, "Amazon Linux"}}, nil},
		{"Azure Linux 3.0", "ID=azurelinux\nVERSION_ID=\"3.0\"\nNAME=\"Microsoft Azure Linux\"\n", "var/lib/rpm/rpmdb.sqlite", own("azurelinux-3.0", "rpmdb.sqlite"),
			[]source{{"testdata/distros/oval-azurelinux-3.0.xml", "oval-azurelinux-3.0"}},
			[]want{
				{"curl", "MARINER-3.0-51001-1", "8.8.0-2.azl3", finding.FixStateFixed, finding.SeverityHigh, "Mariner"},
				{"openssl", "MARINER-3.0-51002-1", "", finding.FixStateAffected, finding.SeverityMedium, "Mariner"},
			}, nil},
		{"Rocky Linux 9", "ID=\"rocky\"\nVERSION_ID=\"9.4\"\n", "var/lib/rpm/rpmdb.sqlite", el9("rocky-9"),
			[]source{{"testdata/distros/rocky-alma-osv", "rocky-alma"}},
			[]want{{"libuuid", "RLSA-2023:7877", "2.37.4-15.el9", finding.FixStateFixed, finding.SeverityLow, "Rocky Linux"}},
			[]string{"libuuid ALSA-2099:0901"}},
		{"AlmaLinux 9", "ID=\"almalinux\"\nVERSION_ID=\"9.4\"\n", "var/lib/rpm/rpmdb.sqlite", el9("almalinux-9"),
			[]source{{"testdata/distros/rocky-alma-osv", "rocky-alma"}},
			[]want{{"libuuid", "ALSA-2099:0901", "2.37.4-15.el9", finding.FixStateFixed, finding.SeverityLow, "AlmaLinux"}},
			[]string{"libuuid RLSA-2023:7877", "libuuid ALSA-2023:7877"}},
		{"Oracle Linux 9", "ID=\"ol\"\nVERSION_ID=\"9.4\"\n", "var/lib/rpm/rpmdb.sqlite", el9("oraclelinux-9"),
			[]source{{vuln + "oval/com.oracle.elsa-test.xml", "oval-oracle"}},
			[]want{{"openssl-libs", "ELSA-2024-2447", "1:3.0.7-27.0.1.el9", finding.FixStateFixed, finding.SeverityMedium, "Oracle Linux"}}, nil},
		{"CentOS Stream 9", "ID=\"centos\"\nNAME=\"CentOS Stream\"\nVERSION_ID=\"9\"\n", "var/lib/rpm/rpmdb.sqlite", el9("centos-stream-9"),
			[]source{{"testdata/distros/redhat-el9-osv", "redhat-osv"}},
			[]want{{"openssl-libs", "RHSA-2099:0901", "1:3.0.7-27.el9", finding.FixStateFixed, finding.SeverityMedium, "Red Hat"}}, nil},
		{"openSUSE Leap 15.5 (SLE 15's NDB database)", "ID=\"opensuse-leap\"\nVERSION_ID=\"15.5\"\n", "usr/lib/sysimage/rpm/Packages.db", sle,
			[]source{{"testdata/distros/opensuse-osv", "openSUSE"}},
			[]want{{"glibc", "openSUSE-SU-2099:0901-1", "2.31-150300.63.1", finding.FixStateFixed, finding.SeverityHigh, "CVSS_V3"}}, nil},
		{"Amazon Linux 2 (both releases' advisories imported)", "ID=\"amzn\"\nVERSION_ID=\"2\"\n", "var/lib/rpm/Packages", own("amzn-2", "Packages"),
			[]source{{vuln + "alas/updateinfo-al2.xml", "alas-2"}, {vuln + "alas/updateinfo-al2023.xml", "alas-2023"}},
			[]want{{"openssl-libs", "ALAS2-2024-2450", "1:1.0.2k-24.amzn2.0.8", finding.FixStateFixed, finding.SeverityMedium, "Amazon Linux"}},
			[]string{"openssl-libs ALAS2023-2024-507"}},
	} {
		t.Run(tc.distro, func(t *testing.T) {
			root := t.TempDir()
			for p, body := range map[string][]byte{"etc/os-release": []byte(tc.osRelease), tc.dbPath: tc.db} {
				if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, p), body, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c := vulndb.Cache{Dir: t.TempDir()}
			for _, s := range tc.sources {
				if _, err := c.Import(ctx, s.path, s.name, "", time.Now()); err != nil {
					t.Fatalf("import %s: %v", s.name, err)
				}
			}
			res, err := Scan(ctx, "rootfs:"+root, Options{CacheDir: c.Dir, MaxDBAge: -1, Now: func() time.Time { return today }})
			if err != nil {
				t.Fatal(err)
			}
			unknown := false
			for _, p := range res.Report.Problems {
				// Trivy's apk database keeps a stanza without V: on
				// purpose; it is said, as not catalogued.
				expected := tc.distro == "Alpine 3.4" && strings.Contains(p.Message, `package "invalidPackageWithoutAVersion" without name or version: not catalogued`)
				if p.Level == finding.LevelError && !expected {
					t.Errorf("problem: %s", p.Message)
				}
				if p.Level == finding.LevelWarning && strings.Contains(p.Message, "end of life unknown") {
					unknown = true
				}
			}
			var ended []string
			for _, f := range res.Report.Findings {
				if f.RuleID == vulnmatch.RuleOSEndOfLife {
					ended = append(ended, f.Message)
				}
			}
			switch want := eol[tc.distro]; {
			case want == "unknown":
				if !unknown || len(ended) != 0 {
					t.Errorf("end of life: unknown warning %v, findings %q; want the warning only", unknown, ended)
				}
			case want == "":
				if unknown || len(ended) != 0 {
					t.Errorf("end of life: unknown warning %v, findings %q; want neither", unknown, ended)
				}
			default:
				if unknown || len(ended) != 1 || !strings.Contains(ended[0], "on "+want) {
					t.Errorf("end of life: unknown warning %v, findings %q; want one ended on %s", unknown, ended, want)
				}
			}
			got := map[string]*finding.Vulnerability{}
			sevs := map[string]finding.Severity{}
			for _, f := range res.Report.Findings {
				if v := f.Vulnerability; v != nil {
					got[v.Package.Name+" "+f.RuleID] = v
					sevs[v.Package.Name+" "+f.RuleID] = f.Severity
				}
			}
			for _, w := range tc.want {
				key := w.pkg + " " + w.id
				v, ok := got[key]
				if !ok {
					t.Errorf("%s: not reported; findings %v", key, keysOf(got))
					continue
				}
				if v.Fixed != w.fixed || v.FixState != w.state || sevs[key] != w.sev || v.SeveritySource != w.source {
					t.Errorf("%s: fixed %q, state %q, severity %v from %q; want %q, %q, %v from %q",
						key, v.Fixed, v.FixState, sevs[key], v.SeveritySource, w.fixed, w.state, w.sev, w.source)
				}
			}
			for _, key := range tc.absent {
				if _, ok := got[key]; ok {
					t.Errorf("%s reported", key)
				}
			}
		})
	}
}

func keysOf(m map[string]*finding.Vulnerability) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestLanguageEcosystems scans a root file system holding the catalogers'
// fixtures of Composer, RubyGems, .NET, Pub, Swift, Hex and Cargo projects against
// GHSA-style records of those ecosystems (illustrative advisories): every
// package is checked in its ecosystem's version order, none is reported
// as not checked.
func TestLanguageEcosystems(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	for _, fx := range []string{"composer", "gemspec", "dotnet-deps", "pub", "swift", "mix-lock", "cargo-lock"} {
		if err := os.CopyFS(root, os.DirFS("../sbom/catalog/testdata/fixtures/"+fx)); err != nil {
			t.Fatal(err)
		}
	}
	c := vulndb.Cache{Dir: t.TempDir()}
	if _, err := c.ImportOSV(ctx, "testdata/distros/lang-osv", "ghsa", time.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := Scan(ctx, "rootfs:"+root, Options{CacheDir: c.Dir, MaxDBAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Report.Problems {
		t.Errorf("problem: %s", p.Message)
	}
	var got []string
	for _, f := range res.Report.Findings {
		got = append(got, f.Vulnerability.Package.Name+" "+f.Vulnerability.Installed+" "+f.RuleID+" fixed "+f.Vulnerability.Fixed)
	}
	slices.Sort(got)
	want := []string{
		"Serilog 3.1.1 GHSA-0001-lang-0005 fixed 3.1.2",
		"github.com/vapor/vapor 4.92.1 GHSA-0001-lang-0008 fixed 4.92.2",
		"guzzlehttp/guzzle 6.5.5 GHSA-0001-lang-0001 fixed 6.5.8",
		"http 1.2.0 GHSA-0001-lang-0007 fixed 1.2.1",
		"plug 1.15.2 GHSA-0001-lang-0010 fixed 1.15.3",
		"rack 2.2.8 GHSA-0001-lang-0003 fixed 2.2.8.1",
		"regex 1.5.4 GHSA-0001-lang-0011 fixed 1.5.5",
		"symfony/polyfill-mbstring v1.19.0 GHSA-0001-lang-0002 fixed 1.20.0",
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n got  %s\n want %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}
