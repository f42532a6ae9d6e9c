package catalog

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"os"
	"strings"
	"testing"
)

func zlibOf(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := zlib.NewWriterLevel(&b, zlib.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

// elfWith is a little-endian ELF64 file with sections starting at the
// given offsets, the section header table after them, and data placed at
// dataAt.
func elfWith(size int, sectionOffsets []int64, data []byte, dataAt int) []byte {
	b := make([]byte, size)
	copy(b, "\x7fELF\x02\x01\x01")
	copy(b[dataAt:], data)
	shoff := size - 64*len(sectionOffsets)
	binary.LittleEndian.PutUint64(b[0x28:], uint64(shoff))
	binary.LittleEndian.PutUint16(b[0x3a:], 64)
	binary.LittleEndian.PutUint16(b[0x3c:], uint16(len(sectionOffsets)))
	for i, o := range sectionOffsets {
		binary.LittleEndian.PutUint64(b[shoff+64*i+0x18:], uint64(o))
	}
	return b
}

// TestRustBinary reads cargo auditable data: the fixtures built here
// with real toolchains (an ELF file by rustc, testdata/rust-auditable/
// main.rs putting dep-v0.z into a ".dep-v0" section as cargo auditable
// does; a PE file by lld-link and a Mach-O file by ld64.lld, the section
// added by llvm-objcopy; testdata/README.md), synthetic ELF, PE and
// Mach-O files with the data anywhere (across the reader's chunk boundary
// too), and refuses data outside a section, oversized data and other
// files.
func TestRustBinary(t *testing.T) {
	fixture := func(name string) []byte {
		b, err := os.ReadFile("testdata/fixtures/rust-binary/usr/local/bin/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	real, realPE, realMachO := fixture("hello-auditable"), fixture("hello-auditable.exe"), fixture("hello-auditable-macho")
	dep := zlibOf(t, `{"packages":[{"name":"serde","version":"1.0.100","source":"crates.io"},`+
		`{"name":"syn","version":"2.0.0","source":"crates.io","kind":"build"},{"name":"app","version":"0.1.0","source":"local","root":true}]}`)
	bomb := zlibOf(t, `{"packages":[`+strings.Repeat(" ", maxAuditableJSON)+`]}`)
	macho := append([]byte{0xcf, 0xfa, 0xed, 0xfe}, make([]byte, 4000)...)
	tests := []struct {
		name    string
		data    []byte
		want    string
		wantErr string
	}{
		{"rustc-built ELF", real, "adler@1.0.2 pkg:cargo/adler@1.0.2,smallvec@1.6.0 pkg:cargo/smallvec@1.6.0", ""},
		{"lld-link PE, section by llvm-objcopy", realPE, "adler@1.0.2 pkg:cargo/adler@1.0.2,smallvec@1.6.0 pkg:cargo/smallvec@1.6.0", ""},
		{"ld64.lld Mach-O, __DATA,.dep-v0 by llvm-objcopy", realMachO, "adler@1.0.2 pkg:cargo/adler@1.0.2,smallvec@1.6.0 pkg:cargo/smallvec@1.6.0", ""},
		{"ELF section", elfWith(8192, []int64{0, 1000}, dep, 1000), "serde@1.0.100 pkg:cargo/serde@1.0.100", ""},
		{"ELF section across the chunk boundary", elfWith(3<<20, []int64{0, 1<<20 - 20}, dep, 1<<20-20), "serde@1.0.100 pkg:cargo/serde@1.0.100", ""},
		{"ELF data in no section", elfWith(8192, []int64{0, 999}, dep, 1000), "", ""},
		{"PE", append(append([]byte("MZ"), make([]byte, 3000)...), dep...), "serde@1.0.100 pkg:cargo/serde@1.0.100", ""},
		{"Mach-O", append(macho, dep...), "serde@1.0.100 pkg:cargo/serde@1.0.100", ""},
		{"no data", elfWith(8192, []int64{0}, nil, 0), "", ""},
		{"not an executable", append(make([]byte, 2000), dep...), "", ""},
		{"decompression bomb", append(append([]byte("MZ"), make([]byte, 3000)...), bomb...), "", "larger than"},
		{"bad JSON", append(append([]byte("MZ"), make([]byte, 3000)...), zlibOf(t, `{"packages":[{"name":"a b","version":"1"}]}`)...), "", "no name or version"},
	}
	c := RustBinary()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, err := c.CatalogStream(t.Context(), "app/bin/x", bytes.NewReader(tt.data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range pkgs {
				got = append(got, nameVersionPURL(p))
				if p.Locations[0] != "app/bin/x" || p.Cataloger != "rust-binary" {
					t.Errorf("package %+v", p)
				}
			}
			if strings.Join(got, ",") != tt.want {
				t.Errorf("got %v, want %q", got, tt.want)
			}
		})
	}
	for p, want := range map[string]bool{"usr/local/bin/app": true, "app/server": true, "usr/bin/rg": false, "usr/lib/x/y": false} {
		if c.Wants(p, 1<<20, 0o755) != want {
			t.Errorf("Wants(%s) = %v", p, !want)
		}
	}
	if c.Wants("usr/local/bin/app", 1<<20, 0o644) {
		t.Error("a non-executable file is wanted")
	}
}
