package image

import (
	"context"
	"slices"
	"testing"
)

// TestExecutables: the drift check's file list holds every path an exec
// could name for an image binary — direct, through a file symlink, through
// a directory symlink (merged /usr) — and nothing that is not executable
// or not there; a whiteout in a later layer removes a binary; past the
// bound the list is refused whole.
func TestExecutables(t *testing.T) {
	x := func(name string) te { return te{kind: 'f', name: name, body: "\x7fELF", mode: 0o755} }
	img := imageOf(t,
		[]te{
			d("usr/"), d("usr/bin/"), d("usr/lib/"), d("app/"), d("etc/"),
			x("usr/bin/dash"), sl("usr/bin/sh", "dash"), x("usr/bin/env"), x("usr/bin/gone"),
			f("usr/lib/libc.so.6", "lib"), f("etc/passwd", "root"),
			sl("bin", "usr/bin"), sl("usr/bin/dangling", "/nope"), sl("usr/bin/cfg", "/etc/passwd"),
			x("app/server"), hl("app/server-link", "app/server"),
		},
		[]te{f("usr/bin/.wh.gone", "")},
	)
	fsys, err := Walk(context.Background(), img, SelectPaths(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := fsys.Executables(100)
	want := []string{"/app/server", "/app/server-link", "/bin/dash", "/bin/env", "/bin/sh", "/usr/bin/dash", "/usr/bin/env", "/usr/bin/sh"}
	if !ok || !slices.Equal(got, want) {
		t.Fatalf("Executables = %q, %v\nwant %q", got, ok, want)
	}
	if got, ok := fsys.Executables(len(want) - 1); ok || got != nil {
		t.Errorf("over the bound: %q, %v; want nothing, false", got, ok)
	}
}
