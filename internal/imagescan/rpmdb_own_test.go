package imagescan

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/sbom/catalog"
)

// TestOwnRPMDatabases catalogues each package database hack/rpmdb/gen.sh
// wrote (testdata/rpmdb/<distro>) at its distribution's path and
// compares the packages with what rpm itself listed from the same file
// when it wrote it (packages.tsv: rpm -qa): name, epoch:version-release,
// arch and source rpm, every one, no more.
func TestOwnRPMDatabases(t *testing.T) {
	entries, err := os.ReadDir("testdata/rpmdb")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []os.DirEntry
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e)
		}
	}
	paths := map[string]string{
		"rpmdb.sqlite": "var/lib/rpm/rpmdb.sqlite",
		"Packages":     "var/lib/rpm/Packages",
	}
	if len(dirs) < 10 {
		t.Fatalf("%d databases under testdata/rpmdb, want the 10 gen.sh writes", len(dirs))
	}
	for _, d := range dirs {
		t.Run(d.Name(), func(t *testing.T) {
			dir := filepath.Join("testdata/rpmdb", d.Name())
			tsv, err := os.ReadFile(filepath.Join(dir, "packages.tsv"))
			if err != nil {
				t.Fatal(err)
			}
			root := t.TempDir()
			found := false
			for file, at := range paths {
				b, err := os.ReadFile(filepath.Join(dir, file))
				if err != nil {
					continue
				}
				found = true
				if err := os.MkdirAll(filepath.Join(root, filepath.Dir(at)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, at), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if !found {
				t.Fatalf("%s: no database", dir)
			}
			inv, err := Catalog(context.Background(), "rootfs:"+root, Options{Catalogers: catalog.Default()})
			if err != nil {
				t.Fatal(err)
			}
			var got, want []string
			for _, p := range inv.Packages {
				if p.Type == "rpm" {
					got = append(got, p.Name+"\t"+p.Version+"\t"+p.Arch+"\t"+p.SourceName+"-"+p.SourceVersion)
				}
			}
			for _, line := range strings.Split(strings.TrimSpace(string(tsv)), "\n") {
				f := strings.Split(line, "\t")
				if len(f) < 4 {
					t.Fatalf("packages.tsv: %q", line)
				}
				evr := strings.TrimPrefix(f[1], "0:")
				want = append(want, f[0]+"\t"+evr+"\t"+f[2]+"\t"+strings.TrimSuffix(f[3], ".src.rpm"))
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("packages:\n got  %s\n want %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
			}
		})
	}
}
