package imagescan

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	. "github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
	"github.com/palisade-sec/palisade/internal/sbom/catalog"
)

// TestRPMSQLiteInPlace catalogues an image holding a real rpmdb.sqlite
// (CBL-Mariner 2.0, 129 packages by rpm -qa) with no usable temporary
// directory: the database is read in place from the image view.
func TestRPMSQLiteInPlace(t *testing.T) {
	db, err := os.ReadFile("../sbom/catalog/testdata/oracle/rpm/go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite")
	if err != nil {
		t.Skip(err)
	}
	img := Image(t, "linux/amd64", Layer(t,
		File("etc/os-release", "ID=mariner\nVERSION_ID=\"2.0\"\n"),
		Entry{Name: "var/lib/rpm/rpmdb.sqlite", Body: db, Mode: 0o644},
	))
	dir := Layout(t, img)
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	inv, err := Catalog(context.Background(), "oci:"+dir, Options{Catalogers: catalog.Default()})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range inv.Packages {
		if p.Type == "rpm" {
			n++
		}
	}
	if n != 129 {
		t.Fatalf("%d rpm packages, want 129", n)
	}
}
