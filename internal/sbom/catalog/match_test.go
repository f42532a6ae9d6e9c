package catalog

import (
	"io/fs"
	"path"
	"slices"
	"strings"
	"testing"
)

func TestCompileSeg(t *testing.T) {
	tests := []struct {
		seg, name string
		kind      int
		want      bool
	}{
		{"status", "status", segLiteral, true},
		{"status", "status.d", segLiteral, false},
		{"*.gemspec", "rake-13.0.gemspec", segAffix, true},
		{"*.gemspec", "gemspec", segAffix, false},
		{"requirements*.txt", "requirements-dev.txt", segAffix, true},
		{"requirements*.txt", "requirements.txt", segAffix, true},
		{"requirements*.txt", "requirements.tx", segAffix, false},
		{"ab*ba", "aba", segAffix, false}, // prefix and suffix may not overlap
		{"@*", "@babel", segAffix, true},
		{"**", "anything", segAny, true},
		{"*.[ch]", "x.c", segGeneral, true},
		{`\*`, "*", segGeneral, true},
		{"[", "[", segGeneral, false}, // a bad pattern matches nothing
	}
	for _, tt := range tests {
		m := compileSeg(tt.seg)
		if m.kind != tt.kind || m.match(tt.name) != tt.want {
			t.Errorf("compileSeg(%q): kind %d, match(%q) = %v; want kind %d, %v", tt.seg, m.kind, tt.name, m.match(tt.name), tt.kind, tt.want)
		}
	}
}

// FuzzCompileSeg checks the compiled segment matcher against path.Match
// on single segments.
func FuzzCompileSeg(f *testing.F) {
	for _, s := range [][2]string{{"*.gemspec", "a.gemspec"}, {"requirements*.txt", "requirements.txt"}, {"ab*ba", "aba"},
		{"status", "status"}, {"[", "["}, {`a\`, "a"}, {"**", ""}, {"*", ""}, {"?x*", "yx"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, seg, name string) {
		if strings.Contains(seg, "/") || strings.Contains(name, "/") || len(seg) > 64 || len(name) > 64 {
			return
		}
		ok, err := path.Match(seg, name)
		m := compileSeg(seg)
		if got := m.match(name); got != (ok && err == nil) {
			t.Fatalf("compileSeg(%q).match(%q) = %v, path.Match says %v, %v", seg, name, got, ok, err)
		}
	})
}

// wantedBy lists the catalogers of s that want the file through the
// index, and by asking each one.
func wantedBy(s *Set, p string, size int64, mode fs.FileMode) (index, each []int) {
	s.globs().wanted(s.Catalogers, p, size, mode, func(i int) bool { index = append(index, i); return true })
	slices.Sort(index)
	for i, c := range s.Catalogers {
		if c.Wants(p, size, mode) {
			each = append(each, i)
		}
	}
	return index, each
}

// TestGlobIndex: the index wants exactly what the catalogers want, for
// the files each cataloger of Repo() parses and for near misses.
func TestGlobIndex(t *testing.T) {
	s := Repo()
	s.Catalogers = append(s.Catalogers, Glob{ID: "twice", Patterns: []string{"**/Cargo.lock", "srv/*.lock"}, MaxSize: 10})
	files := []string{
		"var/lib/dpkg/status", "var/lib/dpkg/status.d/libc6", "var/lib/dpkg/status.d/x/y", "lib/apk/db/installed",
		"var/lib/rpm/Packages", "var/lib/rpm/rpmdb.sqlite", "usr/share/dotnet/x.deps.json", "srv/Cargo.lock", "Cargo.lock",
		"app/node_modules/a/package.json", "app/node_modules/@babel/core/package.json", "app/node_modules/a/test/package.json",
		"usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA", "usr/lib/python3/x.egg-info",
		"usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec", "srv/requirements-dev.txt", "srv/requirements/base.txt",
		"opt/java/openjdk/release", "opt/app/lib/app.jar", "usr/bin/bash", "etc/os-release", "srv/mix.lock", "srv/Package.resolved",
		"srv/pubspec.lock", "srv/yarn.lock", "srv/pnpm-lock.yaml", "srv/package-lock.json", "srv/composer.lock",
		"srv/vendor/composer/installed.json", "srv/packages.lock.json", "srv/conan.lock", "srv/poetry.lock", "srv/uv.lock",
		"srv/Pipfile.lock", "srv/Gemfile.lock", "srv/gems.locked", "", "/", "Cargo.lock/x",
	}
	for _, p := range files {
		for _, size := range []int64{5, 100, 1 << 30} {
			for _, mode := range []fs.FileMode{0o644, 0o755, fs.ModeDir | 0o755, fs.ModeSymlink} {
				if index, each := wantedBy(s, p, size, mode); !slices.Equal(index, each) {
					t.Errorf("%s (%d bytes, %v): index wants %v, the catalogers %v", p, size, mode, index, each)
				}
			}
		}
	}
}

// FuzzGlobIndex: the same with any path and an extra cataloger of any
// pattern.
func FuzzGlobIndex(f *testing.F) {
	f.Add("**/Cargo.lock", "srv/Cargo.lock", int64(10))
	f.Add("a/*/b*c", "a/x/bzc", int64(1<<20))
	f.Add("[", "app/node_modules/a/package.json", int64(0))
	f.Add("**", "usr/lib/python3/x.egg-info", int64(1))
	f.Fuzz(func(t *testing.T, pattern, p string, size int64) {
		if len(pattern) > 128 || len(p) > 256 {
			return
		}
		s := Repo()
		s.Catalogers = append(s.Catalogers, Glob{ID: "fuzz", Patterns: []string{pattern, "**/" + pattern}})
		if index, each := wantedBy(s, p, size, 0o644); !slices.Equal(index, each) {
			t.Fatalf("%q with %q: index wants %v, the catalogers %v", p, pattern, index, each)
		}
	})
}
