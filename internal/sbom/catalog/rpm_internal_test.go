package catalog

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/palisade-sec/palisade/internal/sbom/rpmdb"
)

func rpmdbReadForTest(t *testing.T, path string) ([]rpmdb.Package, error) {
	t.Helper()
	return rpmdb.ReadFile(t.Context(), path)
}

// streamFS hides ReadAt from its files, as a file system of streams would.
type streamFS struct{ fs.FS }

func (s streamFS) Open(name string) (fs.File, error) {
	f, err := s.FS.Open(name)
	return struct{ fs.File }{f}, err
}

// TestReadRPMDBStream: a database whose file cannot ReadAt is read from a
// copy in memory; one that can is read in place.
func TestReadRPMDBStream(t *testing.T) {
	fsys := os.DirFS(filepath.Join(oracleDir, "rpm/go-rpmdb/cbl-mariner-2.0"))
	f, err := streamFS{fsys}.Open("rpmdb.sqlite")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, ok := f.(io.ReaderAt); ok {
		t.Fatal("streamFS file has ReadAt")
	}
	for _, fsys := range []fs.FS{fsys, streamFS{fsys}} {
		pkgs, err := readRPMDB(t.Context(), fsys, "rpmdb.sqlite")
		if err != nil || len(pkgs) != 129 {
			t.Errorf("%T: %d packages, %v", fsys, len(pkgs), err)
		}
	}
}
