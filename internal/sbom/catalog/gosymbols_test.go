package catalog

import (
	"bytes"
	"encoding/binary"
	"os"
	"slices"
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

// TestBufferTeeReadAt reads back across chunk boundaries what was
// written in pieces of odd sizes.
func TestBufferTeeReadAt(t *testing.T) {
	data := make([]byte, 3*teeChunk+17)
	for i := range data {
		data[i] = byte(i * 7)
	}
	var b bufferTee
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 333333)
		b.Write(rest[:n])
		rest = rest[n:]
	}
	for _, tt := range []struct {
		off, n  int
		wantEOF bool
	}{{0, 10, false}, {teeChunk - 5, 10, false}, {teeChunk, teeChunk + 3, false}, {len(data) - 4, 4, false}, {len(data) - 4, 8, true}, {len(data), 1, true}} {
		p := make([]byte, tt.n)
		n, err := b.ReadAt(p, int64(tt.off))
		end := min(tt.off+tt.n, len(data))
		if (err != nil) != tt.wantEOF || !bytes.Equal(p[:n], data[tt.off:end]) {
			t.Errorf("ReadAt(%d, %d) = %d, %v; want %d bytes, EOF %v", tt.off, tt.n, n, err, end-tt.off, tt.wantEOF)
		}
	}
}
