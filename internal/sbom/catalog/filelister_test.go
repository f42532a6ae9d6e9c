package catalog

import (
	"encoding/json"
	"io/fs"
	"slices"
	"testing"
)

// reverseLister lists its file system's regular files in the reverse of
// fs.WalkDir's order, counting the calls, as a FileLister may use any order.
type reverseLister struct {
	fs.FS
	calls int
}

func (r *reverseLister) RegularFiles(fn func(string, int64, fs.FileMode) error) error {
	r.calls++
	type file struct {
		p    string
		size int64
		mode fs.FileMode
	}
	var files []file
	err := fs.WalkDir(r.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		files = append(files, file{p, fi.Size(), fi.Mode()})
		return nil
	})
	if err != nil {
		return err
	}
	slices.Reverse(files)
	for _, f := range files {
		if err := fn(f.p, f.size, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// TestFileLister checks that Run gives the same result on every
// cataloger's fixture whether it walks the file system or asks its
// FileLister, and that it asks only when it has no stream catalogers
// (their jobs run in fs.WalkDir's order).
func TestFileLister(t *testing.T) {
	for name, fixture := range fixtures {
		t.Run(name, func(t *testing.T) {
			fsys := fixture(t)
			set := &Set{Catalogers: Repo().Catalogers}
			walked, err := set.Run(t.Context(), fsys)
			if err != nil {
				t.Fatal(err)
			}
			l := &reverseLister{FS: fsys}
			listed, err := set.Run(t.Context(), l)
			if err != nil {
				t.Fatal(err)
			}
			if l.calls != 1 {
				t.Errorf("RegularFiles called %d times, want 1", l.calls)
			}
			a, _ := json.Marshal(walked)
			b, _ := json.Marshal(listed)
			if string(a) != string(b) {
				t.Errorf("with the FileLister:\n%s\nwalked:\n%s", b, a)
			}
			l.calls = 0
			if _, err := Repo().Run(t.Context(), l); err != nil {
				t.Fatal(err)
			}
			if len(Repo().Streams) > 0 && l.calls != 0 {
				t.Errorf("RegularFiles called with stream catalogers in the set")
			}
		})
	}
}
