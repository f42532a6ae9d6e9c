package catalog

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRuntimeBinary reads versions from synthetic builds, across chunk
// boundaries, and refuses files without a version or in OS directories.
func TestRuntimeBinary(t *testing.T) {
	pad := bytes.Repeat([]byte{0}, 3000)
	at := func(off int, s string) []byte {
		b := make([]byte, off+len(s)+100)
		copy(b[off:], s)
		return b
	}
	tests := []struct {
		name, path string
		data       []byte
		want       string // name@version purl, "" for none
	}{
		{"node", "usr/local/bin/node", append(pad, "node.js/v20.11.1\x00"...), "node@20.11.1 pkg:generic/node@20.11.1"},
		{"node across a chunk boundary", "opt/node/bin/node", at(1<<20-5, "node.js/v22.1.0\x00"), "node@22.1.0 pkg:generic/node@22.1.0"},
		{"node without a version", "usr/local/bin/node", append(pad, "node.js/vX"...), ""},
		{"libpython takes its own minor", "usr/local/lib/libpython3.12.so.1.0", append(pad, "\x003.11.4\x00\x003.12.1\x00"...), "python@3.12.1 pkg:generic/python@3.12.1"},
		{"python executable, release candidate", "usr/local/bin/python3.13", append(pad, "\x003.13.0rc2\x00"...), "python@3.13.0rc2 pkg:generic/python@3.13.0rc2"},
		{"openssl", "usr/local/lib64/libcrypto.so.3", append(pad, "OpenSSL 3.0\x00OpenSSL 1.1.1w  11 Sep 2023\x00"...), "openssl@1.1.1w pkg:generic/openssl@1.1.1w"},
	}
	c := RuntimeBinary()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !c.Wants(tt.path, int64(len(tt.data)), 0o755) {
				t.Fatalf("%s not wanted", tt.path)
			}
			pkgs, err := c.CatalogStream(t.Context(), tt.path, bytes.NewReader(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range pkgs {
				got = append(got, nameVersionPURL(p))
			}
			if strings.Join(got, ",") != tt.want {
				t.Errorf("got %v, want %q", got, tt.want)
			}
		})
	}
	for _, p := range []string{"usr/bin/node", "usr/lib/x86_64-linux-gnu/libcrypto.so.3", "usr/local/bin/nodejs", "usr/local/bin/python3"} {
		if c.Wants(p, 1<<20, 0o755) {
			t.Errorf("%s wanted", p)
		}
	}
}

// TestRuntimeBinaryReal reads the runtimes of this machine where they are
// (Debian's node and libcrypto, moved out of the OS directories' names by
// passing another path): a check of the markers on real builds.
func TestRuntimeBinaryReal(t *testing.T) {
	c := RuntimeBinary()
	for _, tt := range []struct{ file, as, name string }{
		{"/usr/bin/node", "usr/local/bin/node", "node"},
		{"/usr/lib/x86_64-linux-gnu/libcrypto.so.3", "usr/local/lib/libcrypto.so.3", "openssl"},
	} {
		f, err := os.Open(tt.file)
		if err != nil {
			t.Logf("%s: %v (not installed here)", tt.file, err)
			continue
		}
		pkgs, err := c.CatalogStream(t.Context(), tt.as, f)
		f.Close()
		if err != nil || len(pkgs) != 1 || pkgs[0].Name != tt.name || pkgs[0].Version == "" {
			t.Errorf("%s: %+v, %v", tt.file, pkgs, err)
			continue
		}
		t.Logf("%s: %s %s", tt.file, pkgs[0].Name, pkgs[0].Version)
	}
	// Every pyenv build of this machine, by its libpython.
	libs, _ := filepath.Glob(filepath.Join(os.Getenv("HOME"), ".pyenv/versions/3.*/lib/libpython3.*.so.1.0"))
	for _, lib := range libs {
		f, err := os.Open(lib)
		if err != nil {
			t.Fatal(err)
		}
		pkgs, err := c.CatalogStream(t.Context(), "usr/local/lib/"+filepath.Base(lib), f)
		f.Close()
		want := filepath.Base(filepath.Dir(filepath.Dir(lib)))
		if err != nil || len(pkgs) != 1 || pkgs[0].Version != want {
			t.Errorf("%s: %+v, %v; want %s", lib, pkgs, err, want)
		}
	}
}

func TestJavaRelease(t *testing.T) {
	checkParser(t, parseJavaRelease, "opt/java/openjdk/release", "OpenJDK", "generic", nameVersionPURL, []parseCase{
		{"temurin", "IMPLEMENTOR=\"Eclipse Adoptium\"\nJAVA_VERSION=\"21.0.2\"\n", []string{"openjdk@21.0.2 pkg:generic/openjdk@21.0.2"}, ""},
		{"not a JDK", "VERSION=1\n", nil, ""},
		{"bad version", "JAVA_VERSION=\"a b\"\n", nil, "not a version"},
	})
	if pkgs, err := parseJavaRelease(t.Context(), Env{}, nil, "usr/lib/jvm/x/release", strings.NewReader("JAVA_VERSION=\"17\"\n")); err != nil || pkgs != nil {
		t.Errorf("OS-owned JDK: %v %v", pkgs, err)
	}
}
