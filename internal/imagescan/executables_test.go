package imagescan

import (
	"context"
	"slices"
	"testing"

	. "github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
)

// TestCatalogExecutables: on the real debootstrap bookworm image the
// inventory lists the executables an exec may name, merged-/usr aliases
// included, whether the layer was read or replayed from the layer cache;
// without the option nothing is collected; over the bound the list is
// refused, not cut.
func TestCatalogExecutables(t *testing.T) {
	ref := "oci:" + Bookworm(t)
	layers, err := NewLayerDiskCache(t.TempDir(), 256<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, pass := range []string{"read", "replayed"} {
		inv, err := Catalog(context.Background(), ref, Options{Executables: 100_000, Layers: layers})
		if err != nil {
			t.Fatal(err)
		}
		x := inv.Executables
		if x == nil || x.Over {
			t.Fatalf("%s: executables %+v", pass, x)
		}
		for _, p := range []string{"/usr/bin/dpkg", "/bin/dpkg", "/bin/sh", "/usr/bin/sh", "/usr/bin/bash", "/usr/sbin/nologin"} {
			if _, found := slices.BinarySearch(x.Paths, p); !found {
				t.Errorf("%s: %s not listed (%d paths)", pass, p, len(x.Paths))
			}
		}
		for _, p := range []string{"/etc/passwd", "/usr/lib/os-release", "/bin"} {
			if _, found := slices.BinarySearch(x.Paths, p); found {
				t.Errorf("%s: %s listed", pass, p)
			}
		}
		t.Logf("%s: %d executable paths", pass, len(x.Paths))
	}
	if inv, err := Catalog(context.Background(), ref, Options{}); err != nil || inv.Executables != nil {
		t.Errorf("not asked: %+v, %v", inv.Executables, err)
	}
	if inv, err := Catalog(context.Background(), ref, Options{Executables: 10}); err != nil || inv.Executables == nil || !inv.Executables.Over || inv.Executables.Paths != nil {
		t.Errorf("over the bound: %+v, %v", inv.Executables, err)
	}
}
