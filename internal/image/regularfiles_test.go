package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"testing"
)

// TestRegularFiles checks RegularFiles against fs.WalkDir on the same
// final file systems: the same regular files with the same sizes and
// modes, nothing else, and fn's error returned.
func TestRegularFiles(t *testing.T) {
	tests := []struct {
		name   string
		layers [][]te
		want   int // regular files expected
	}{
		{"flat", [][]te{{f("a", "1"), f("b", "22")}}, 2},
		{"nested, a symlink to a directory not followed", [][]te{{d("usr/"), d("usr/bin/"), f("usr/bin/sh", "#!"), sl("bin", "usr/bin"), f("usr/bin/env", "ELF")}}, 2},
		{"hardlink is a regular file", [][]te{{f("x", "abc"), hl("y", "x")}}, 2},
		{"whiteout and opaque directory", [][]te{{d("o/"), f("o/lower", "1"), f("k", "2"), f("gone", "3")}, {d("o/"), f("o/.wh..wh..opq", ""), f("o/upper", "4"), f(".wh.gone", "")}}, 2},
		{"sibling prefixes and separators", [][]te{{d("a/"), f("a/b", "1"), f("a-c", "2"), d("a/b2/"), f("a/b2/c", "3"), f("ab", "4")}}, 4},
		{"empty", [][]te{{d("only/"), d("only/dirs/")}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys, err := Walk(context.Background(), imageOf(t, tt.layers...), SelectAll(), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			if err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil || !d.Type().IsRegular() {
					return err
				}
				fi, err := d.Info()
				if err != nil {
					return err
				}
				want = append(want, fmt.Sprintf("%s %d %v", p, fi.Size(), fi.Mode()))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			var got []string
			if err := fsys.RegularFiles(func(p string, size int64, mode fs.FileMode) error {
				got = append(got, fmt.Sprintf("%s %d %v", p, size, mode))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			sort.Strings(want)
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) != tt.want {
				t.Errorf("RegularFiles:\n%s\nfs.WalkDir (%d wanted):\n%s", strings.Join(got, "\n"), tt.want, strings.Join(want, "\n"))
			}
			stop := errors.New("stop")
			calls := 0
			err = fsys.RegularFiles(func(string, int64, fs.FileMode) error { calls++; return stop })
			if tt.want > 0 && (!errors.Is(err, stop) || calls != 1) {
				t.Errorf("fn's error: got %v after %d calls, want stop after 1", err, calls)
			}
		})
	}
}
