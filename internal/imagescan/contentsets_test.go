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
)

// TestRedHatContentSets scans UBI/RHEL 8 root file systems (the real
// libuuid el8 rpm database, an os-release, and a content manifest in
// /root/buildinfo/content_manifests as Red Hat's builds write it)
// against an EUS 8.6 and a standard RHEL 8 advisory of the same CVE and
// Red Hat's repository-to-CPE mapping (testdata in its format): the
// image's content sets decide the stream. An image built from the EUS
// repositories gets the EUS fix, one from the standard repositories the
// standard fix; without a manifest the release decides (the standard
// stream); a manifest without a mapping in the database, or with a
// content set the mapping does not know, is a warning naming them; a
// manifest that cannot be read is a warning naming the file.
func TestRedHatContentSets(t *testing.T) {
	ctx := context.Background()
	libuuid, err := os.ReadFile(oracleData + "rpm/go-rpmdb/libuuid/Packages")
	if err != nil {
		t.Fatal(err)
	}
	manifest := func(sets ...string) string {
		return `{"metadata": {"icm_version": 1, "icm_spec": "https://raw.githubusercontent.com/containerbuildsystem/atomic-reactor/master/atomic_reactor/schemas/content_manifest.json", "image_layer_index": 1},
  "content_sets": ["` + strings.Join(sets, `", "`) + `"], "image_contents": []}`
	}
	eus := manifest("rhel-8-for-x86_64-baseos-eus-rpms", "rhel-8-for-x86_64-appstream-eus-rpms")
	for _, tc := range []struct {
		name      string
		manifests map[string]string
		mapping   bool
		wantID    string
		wantSets  []string
		warning   string
	}{
		{"EUS content sets", map[string]string{"ubi8-container-8.6-1.json": eus}, true,
			"RHSA-2024:1001", []string{"rhel-8-for-x86_64-appstream-eus-rpms", "rhel-8-for-x86_64-baseos-eus-rpms"}, ""},
		{"standard content sets, two manifests", map[string]string{
			"ubi8-container-8.6-1.json": manifest("ubi-8-for-x86_64-baseos-rpms"),
			"app-1.0-1.json":            manifest("ubi-8-for-x86_64-appstream-rpms", "ubi-8-for-x86_64-baseos-rpms")}, true,
			"RHSA-2024:1002", []string{"ubi-8-for-x86_64-appstream-rpms", "ubi-8-for-x86_64-baseos-rpms"}, ""},
		{"no manifest: by release", nil, true, "RHSA-2024:1002", nil, ""},
		{"no mapping in the database", map[string]string{"a.json": eus}, false,
			"RHSA-2024:1002", []string{"rhel-8-for-x86_64-appstream-eus-rpms", "rhel-8-for-x86_64-baseos-eus-rpms"}, "no repository-to-CPE mapping"},
		{"a content set the mapping does not know", map[string]string{"a.json": manifest("rhel-8-for-x86_64-baseos-eus-rpms", "my-private-rpms")}, true,
			"RHSA-2024:1001", []string{"my-private-rpms", "rhel-8-for-x86_64-baseos-eus-rpms"}, "not in the repository-to-CPE mapping: my-private-rpms"},
		{"unreadable manifest", map[string]string{"broken.json": `{"content_sets": [`}, true,
			"RHSA-2024:1002", nil, "/root/buildinfo/content_manifests/broken.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			files := map[string][]byte{"etc/os-release": []byte("ID=\"rhel\"\nVERSION_ID=\"8.6\"\n"), "var/lib/rpm/Packages": libuuid}
			for name, body := range tc.manifests {
				files["root/buildinfo/content_manifests/"+name] = []byte(body)
			}
			for p, body := range files {
				if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, p), body, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c := vulndb.Cache{Dir: t.TempDir()}
			if _, err := c.Import(ctx, "testdata/distros/redhat-eus-osv", "Red Hat", "", time.Now()); err != nil {
				t.Fatal(err)
			}
			if tc.mapping {
				if _, err := c.Import(ctx, "../vulndb/testdata/redhat-cpe/repository-to-cpe.json", "redhat-cpe", "", time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			inv, err := Catalog(ctx, "rootfs:"+root, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(inv.ContentSets, tc.wantSets) {
				t.Errorf("content sets %q, want %q", inv.ContentSets, tc.wantSets)
			}
			res, err := Scan(ctx, "rootfs:"+root, Options{CacheDir: c.Dir, MaxDBAge: -1})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, f := range res.Report.Findings {
				if f.Vulnerability != nil && f.Vulnerability.Package.Name == "libuuid" {
					ids = append(ids, f.RuleID)
				}
			}
			if !slices.Equal(ids, []string{tc.wantID}) {
				t.Errorf("libuuid findings %v, want %s", ids, tc.wantID)
			}
			warned := false
			for _, p := range res.Report.Problems {
				if p.Level == finding.LevelError {
					t.Errorf("problem: %s", p.Message)
				}
				if tc.warning != "" && p.Level == finding.LevelWarning && strings.Contains(p.File+" "+p.Message, tc.warning) {
					warned = true
				}
			}
			if tc.warning != "" && !warned {
				t.Errorf("no warning %q in %+v", tc.warning, res.Report.Problems)
			}
		})
	}
}

// FuzzParseContentManifest: hostile content manifests fail or give
// repository labels, never a panic.
func FuzzParseContentManifest(f *testing.F) {
	f.Add([]byte(`{"metadata": {"icm_version": 1}, "content_sets": ["rhel-8-for-x86_64-baseos-rpms"], "image_contents": [{"purl": "pkg:rpm/redhat/bash@4.4.20-4.el8_6?arch=x86_64"}]}`))
	f.Add([]byte(`{"content_sets": ["a b", "../x"]}`))
	f.Add([]byte(`{"metadata": null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sets, err := parseContentManifest(data)
		if err != nil {
			return
		}
		for _, s := range sets {
			if s == "" || strings.ContainsAny(s, " /\\\x00") {
				t.Fatalf("label %q", s)
			}
		}
	})
}
