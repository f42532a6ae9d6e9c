package catalog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// pclntab120 assembles a Go 1.20-style pclntab header (little endian,
// 8-byte words) whose function name table holds names.
func pclntab120(names ...string) []byte {
	var tab bytes.Buffer
	tab.Write([]byte{0xf1, 0xff, 0xff, 0xff, 0, 0, 1, 8})
	nameTab := []byte{}
	for _, n := range names {
		nameTab = append(append(nameTab, n...), 0)
	}
	const header = 8 + 8*8
	words := []uint64{uint64(len(names)), 0, 0, header, header + uint64(len(nameTab)), 0, 0, 0}
	for _, w := range words {
		binary.Write(&tab, binary.LittleEndian, w)
	}
	tab.Write(nameTab)
	return tab.Bytes()
}

func TestGoSymbolsOfNames(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		want  []string
	}{
		{"function", []string{"example.com/a.F"}, []string{"example.com/a", "example.com/a.F"}},
		{"pointer method", []string{"net/http.(*Client).Do"}, []string{"net/http", "net/http.Client", "net/http.Client.Do"}},
		{"value method", []string{"golang.org/x/text/language.CanonType.Parse"}, []string{"golang.org/x/text/language", "golang.org/x/text/language.CanonType", "golang.org/x/text/language.CanonType.Parse"}},
		{"generic", []string{"example.com/a.Map[...]", "example.com/a.(*List[...]).Push"}, []string{"example.com/a", "example.com/a.List", "example.com/a.List.Push", "example.com/a.Map"}},
		{"dotted path", []string{"gopkg.in/yaml.v3.Unmarshal"}, []string{"gopkg.in/yaml", "gopkg.in/yaml.v3", "gopkg.in/yaml.v3.Unmarshal"}},
		{"dotted path, method", []string{"gopkg.in/yaml.v3.(*Decoder).Decode"}, []string{"gopkg.in/yaml", "gopkg.in/yaml.v3", "gopkg.in/yaml.v3.Decoder", "gopkg.in/yaml.v3.Decoder.Decode"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			syms, err := goSymbolsOf(pclntab120(tt.names...), 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for s := range syms {
				got = append(got, s)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGoSymbolsOfCorrupt(t *testing.T) {
	bad := pclntab120("a.F")
	binary.LittleEndian.PutUint64(bad[8+4*8:], 1<<40) // cuOffset past the end
	for name, tab := range map[string][]byte{
		"empty":          nil,
		"short":          {0xf1, 0xff, 0xff, 0xff},
		"bad ptr size":   {0xf1, 0xff, 0xff, 0xff, 0, 0, 1, 3},
		"truncated":      pclntab120("a.F")[:20],
		"offset too far": bad,
	} {
		if _, err := goSymbolsOf(tab, 0); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestGoSymbolsOfThisBinary reads the test binary itself: it links
// testing.(*T).Run and this package's functions.
func TestGoSymbolsOfThisBinary(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := GoSymbols(f)
	if err != nil {
		t.Skipf("%s: %v (not an ELF binary)", exe, err)
	}
	for _, want := range []string{"testing.T.Run", "github.com/palisade-sec/palisade/internal/sbom/catalog.GoSymbols"} {
		if _, ok := syms[want]; !ok {
			t.Errorf("%s not found among %d symbols", want, len(syms))
		}
	}
}

func FuzzGoSymbolsOf(f *testing.F) {
	f.Add(pclntab120("example.com/a.F", "net/http.(*Client).Do"))
	f.Add([]byte{0xfa, 0xff, 0xff, 0xff, 0, 0, 1, 4, 0, 0, 0, 0})
	f.Add([]byte{0xfb, 0xff, 0xff, 0xff, 0, 0, 1, 8})
	f.Fuzz(func(t *testing.T, tab []byte) {
		_, _ = goSymbolsOf(tab, 0)
	})
}

// TestSymbolStream feeds this test binary to symbolStream in writes of
// several sizes (one byte; odd sizes that split magics and headers across
// writes; the whole file) and compares the names with GoSymbols reading
// the file at random offsets. Copies with fake pclntab starts planted
// before the real one, and inputs that are not whole ELF binaries, are
// read right or refused.
func TestSymbolStream(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	want, err := GoSymbols(bytes.NewReader(data))
	if err != nil {
		t.Skipf("%s: %v (not an ELF binary)", exe, err)
	}
	// A fake Go 1.20 header planted at offset 4096 (inside .text), its
	// names range pointing at the real table's bytes, is no section start.
	faked := bytes.Clone(data)
	copy(faked[4096:], pclntab120("fake.F")[:8+5*8])
	tests := []struct {
		name    string
		data    []byte
		chunk   int
		wantErr bool
	}{
		{"whole", data, len(data), false},
		{"odd writes", data, 4093, false},
		{"small writes", data[:], 7, false},
		{"fake magic first", faked, 65536, false},
		{"truncated", data[:len(data)/2], 65536, true},
		{"not ELF", append([]byte("MZ"), data[2:]...), 65536, true},
		{"header only", data[:64], 64, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.chunk < 64 && testing.Short() {
				t.Skip("byte-sized writes of a large binary")
			}
			var s symbolStream
			for rest := tt.data; len(rest) > 0; {
				n := min(tt.chunk, len(rest))
				if k, err := s.Write(rest[:n]); k != n || err != nil {
					t.Fatalf("Write = %d, %v", k, err)
				}
				rest = rest[n:]
			}
			got, err := s.symbols()
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error; %d symbols", len(got))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d symbols, want %d", len(got), len(want))
			}
			for k := range want {
				if _, ok := got[k]; !ok {
					t.Fatalf("%s missing", k)
				}
			}
			if s.kept > 2*int64(len(data))/10 {
				t.Errorf("kept %d bytes of a %d-byte binary", s.kept, len(data))
			}
		})
	}
}

// synthELF is a 64-bit little-endian ELF file holding a pclntab of
// funcs: with its section headers right after the ELF header (as the Go
// linker writes them) or at the end after the section names (as other
// linkers do), gap zero bytes after the table and namesGap after the
// section names.
func synthELF(headersFirst bool, gap, namesGap int, funcs ...string) []byte {
	tab := pclntab120(funcs...)
	names := []byte("\x00.gopclntab\x00.shstrtab\x00")
	const shent, shnum = 64, 3
	var tabOff, namesOff, shOff int
	if headersFirst {
		shOff = 64
		tabOff = shOff + shent*shnum
		namesOff = tabOff + len(tab) + gap
	} else {
		tabOff = 64
		namesOff = tabOff + len(tab) + gap
		shOff = namesOff + len(names) + namesGap
	}
	out := make([]byte, max(shOff+shent*shnum, namesOff+len(names)))
	copy(out, "\x7fELF\x02\x01\x01")
	le := binary.LittleEndian
	le.PutUint64(out[40:], uint64(shOff))
	le.PutUint16(out[58:], shent)
	le.PutUint16(out[60:], shnum)
	le.PutUint16(out[62:], 2)
	copy(out[tabOff:], tab)
	copy(out[namesOff:], names)
	sh := func(i int, name, typ uint32, off, size int) {
		b := out[shOff+i*shent:]
		le.PutUint32(b, name)
		le.PutUint32(b[4:], typ)
		le.PutUint64(b[24:], uint64(off))
		le.PutUint64(b[32:], uint64(size))
	}
	sh(1, 1, 1, tabOff, len(tab))
	sh(2, 12, 3, namesOff, len(names))
	return out
}

// TestSymbolStreamLayouts: section headers first or last, the section
// names within reach of the window or not.
func TestSymbolStreamLayouts(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		wantErr bool
	}{
		{"headers first", synthELF(true, 100, 0, "a.F", "b.(*T).M"), false},
		{"headers last", synthELF(false, 100, 0, "a.F", "b.(*T).M"), false},
		{"headers last, names near", synthELF(false, shWindow/2, 0, "a.F", "b.(*T).M"), false},
		// (Unless one write holds both, as the 1 MiB one does: see below.)
		{"headers last, names out of reach", synthELF(false, 0, 2*shWindow, "a.F"), true},
		{"misnamed section", bytes.Replace(synthELF(false, 100, 0, "a.F"), []byte(".gopclntab"), []byte(".gopclntax"), 1), true},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 5, 64, 1 << 20} {
			if tt.wantErr && strings.Contains(tt.name, "out of reach") && chunk > len(tt.data) {
				continue
			}
			t.Run(fmt.Sprintf("%s/%d", tt.name, chunk), func(t *testing.T) {
				var s symbolStream
				for rest := tt.data; len(rest) > 0; rest = rest[min(chunk, len(rest)):] {
					s.Write(rest[:min(chunk, len(rest))])
				}
				got, err := s.symbols()
				if tt.wantErr {
					if err == nil {
						t.Fatalf("no error: %v", got)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				for _, want := range []string{"a.F", "b.T.M", "b"} {
					if _, ok := got[want]; !ok {
						t.Errorf("%s missing from %v", want, got)
					}
				}
			})
		}
	}
}

// FuzzSymbolStream: hostile streams end in an error or a name set, within
// the bounds, whatever the write sizes.
func FuzzSymbolStream(f *testing.F) {
	f.Add(synthELF(true, 10, 0, "a.F", "net/http.(*Client).Do"), uint16(7))
	f.Add(synthELF(false, 10, 0, "a.F", "net/http.(*Client).Do"), uint16(4095))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) {
		var s symbolStream
		c := int(chunk%4096) + 1
		for rest := data; len(rest) > 0; {
			n := min(c, len(rest))
			s.Write(rest[:n])
			rest = rest[n:]
		}
		_, _ = s.symbols()
		if s.kept > maxNameTables || len(s.cands) > maxPclnCandidates {
			t.Fatalf("kept %d bytes in %d candidates", s.kept, len(s.cands))
		}
	})
}
