package catalog

import (
	"testing"

	"github.com/palisade-sec/palisade/internal/sbom/rpmdb"
)

func rpmdbReadForTest(t *testing.T, path string) ([]rpmdb.Package, error) {
	t.Helper()
	return rpmdb.ReadFile(t.Context(), path)
}
