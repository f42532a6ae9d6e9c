package catalog

import (
	"bytes"
	"context"
	"encoding/binary"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// buildGoBin builds ../gobuild/testdata/gomod (it calls
// github.com/google/uuid.NewSHA1) for env, with flags.
func buildGoBin(t *testing.T, flags []string, env ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "gobin")
	cmd := exec.Command("go", append(append([]string{"build", "-o", out, "-trimpath"}, flags...), ".")...)
	cmd.Dir = "../gobuild/testdata/gomod"
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod")
	cmd.Env = append(cmd.Env, env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestGoSymbolsFormats builds a Go program for Windows (PE) and macOS
// (Mach-O) and reads its functions from the stream, as an image scan
// does, in writes that split headers and magics, and with GoSymbols
// (debug/pe, debug/macho) as the reference. A stripped PE binary has no
// COFF symbols, so no runtime.pclntab: its reachability stays unknown
// (as govulncheck reads no symbols from it); a stripped Mach-O binary
// keeps its __gopclntab section and is read.
func TestGoSymbolsFormats(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go binaries")
	}
	stripped := []string{"-ldflags=-s -w"}
	tests := []struct {
		name  string
		env   []string
		flags []string
		// unknown: no symbols may be read.
		unknown bool
	}{
		{name: "windows/amd64", env: []string{"GOOS=windows", "GOARCH=amd64"}},
		{name: "windows/386", env: []string{"GOOS=windows", "GOARCH=386"}},
		{name: "windows/arm64", env: []string{"GOOS=windows", "GOARCH=arm64"}},
		{name: "windows/amd64 stripped", env: []string{"GOOS=windows", "GOARCH=amd64"}, flags: stripped, unknown: true},
		{name: "darwin/arm64", env: []string{"GOOS=darwin", "GOARCH=arm64"}},
		{name: "darwin/amd64", env: []string{"GOOS=darwin", "GOARCH=amd64"}},
		{name: "darwin/arm64 stripped", env: []string{"GOOS=darwin", "GOARCH=arm64"}, flags: stripped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := buildGoBin(t, tt.flags, tt.env...)
			ref, refErr := GoSymbols(bytes.NewReader(data))
			pkgs, err := GoBinary().CatalogStream(context.Background(), "gobin", bytes.NewReader(data))
			if err != nil || len(pkgs) == 0 {
				t.Fatalf("CatalogStream: %d packages, %v", len(pkgs), err)
			}
			if tt.unknown {
				if refErr == nil || pkgs[0].GoSymbols != nil {
					t.Fatalf("stripped: GoSymbols %d symbols (%v), stream %d symbols; want none", len(ref), refErr, len(pkgs[0].GoSymbols))
				}
				return
			}
			if refErr != nil {
				t.Fatal(refErr)
			}
			for _, want := range []string{"main.main", "github.com/google/uuid.NewSHA1", "fmt.Println", "runtime.main"} {
				if _, ok := ref[want]; !ok {
					t.Errorf("%s not among %d symbols", want, len(ref))
				}
			}
			for _, chunk := range []int{len(data), 4093, 61} {
				var s symbolStream
				for rest := data; len(rest) > 0; rest = rest[min(chunk, len(rest)):] {
					s.Write(rest[:min(chunk, len(rest))])
				}
				got, err := s.symbols()
				if err != nil {
					t.Fatalf("writes of %d: %v", chunk, err)
				}
				if !maps.Equal(got, ref) {
					t.Fatalf("writes of %d: %d symbols, GoSymbols %d", chunk, len(got), len(ref))
				}
			}
			if !maps.Equal(pkgs[0].GoSymbols, ref) {
				t.Errorf("CatalogStream: %d symbols, GoSymbols %d", len(pkgs[0].GoSymbols), len(ref))
			}
		})
	}
}

// synthPE is a PE file whose one section holds a pclntab of funcs at
// offset 64 within it, with COFF symbols runtime.pclntab (long name, in
// the string table) and runtime.epclntab when symbols is set.
func synthPE(symbols bool, funcs ...string) []byte {
	le := binary.LittleEndian
	tab := pclntab120(funcs...)
	const lfanew, optSize, secOff = 0x80, 0xf0, 0x200
	secSize := (64 + len(tab) + 511) &^ 511
	out := make([]byte, secOff+secSize)
	copy(out, "MZ")
	le.PutUint32(out[0x3c:], lfanew)
	h := out[lfanew:]
	copy(h, "PE\x00\x00")
	le.PutUint16(h[4:], 0x8664)
	le.PutUint16(h[6:], 1)
	le.PutUint16(h[20:], optSize)
	le.PutUint16(h[24:], 0x20b)  // PE32+ optional header
	le.PutUint32(h[24+108:], 16) // its 16 data directories
	sec := out[lfanew+24+optSize:]
	copy(sec, ".rdata")
	le.PutUint32(sec[8:], uint32(secSize))
	le.PutUint32(sec[16:], uint32(secSize))
	le.PutUint32(sec[20:], secOff)
	copy(out[secOff+64:], tab)
	if !symbols {
		return out
	}
	symOff := len(out)
	le.PutUint32(h[12:], uint32(symOff))
	le.PutUint32(h[16:], 3)
	strtab := []byte("\x00\x00\x00\x00runtime.pclntab\x00runtime.epclntab\x00")
	le.PutUint32(strtab, uint32(len(strtab)))
	sym := func(name []byte, value uint32, sec int16) {
		e := make([]byte, coffSymbolSize)
		copy(e, name)
		le.PutUint32(e[8:], value)
		le.PutUint16(e[12:], uint16(sec))
		out = append(out, e...)
	}
	long := func(off uint32) []byte { b := make([]byte, 8); le.PutUint32(b[4:], off); return b }
	sym([]byte("main"), 0, 1)
	sym(long(4), 64, 1)
	sym(long(20), uint32(64+len(tab)), 1)
	return append(out, strtab...)
}

// TestSymbolStreamPE: synthetic PE files, whole or broken.
func TestSymbolStreamPE(t *testing.T) {
	good := synthPE(true, "a.F", "b.(*T).M")
	le := binary.LittleEndian
	edit := func(f func(b []byte)) []byte { b := bytes.Clone(good); f(b); return b }
	symOff := int(le.Uint32(good[0x80+12:]))
	tests := []struct {
		name    string
		data    []byte
		wantErr bool
	}{
		{"symbols", good, false},
		{"stripped", synthPE(false, "a.F"), true},
		{"truncated in the symbols", good[:symOff+20], true},
		{"truncated in the string table", good[:len(good)-3], true},
		{"no PE signature", edit(func(b []byte) { b[0x80] = 'X' }), true},
		{"PE header past EOF", edit(func(b []byte) { le.PutUint32(b[0x3c:], 1<<30) }), true},
		{"symbols past EOF", edit(func(b []byte) { le.PutUint32(b[0x80+12:], 1<<31) }), true},
		{"huge symbol count", edit(func(b []byte) { le.PutUint32(b[0x80+16:], 1<<31) }), true},
		{"huge string table", edit(func(b []byte) { le.PutUint32(b[symOff+3*coffSymbolSize:], 1<<31) }), true},
		{"symbol in no section", edit(func(b []byte) { le.PutUint16(b[symOff+coffSymbolSize+12:], 7) }), true},
		{"symbol past its section", edit(func(b []byte) { le.PutUint32(b[symOff+coffSymbolSize+8:], 1<<20) }), true},
		{"symbol not at the table", edit(func(b []byte) { le.PutUint32(b[symOff+coffSymbolSize+8:], 60) }), true},
		{"section past EOF", edit(func(b []byte) { le.PutUint32(b[0x80+24+0xf0+20:], 1<<30) }), true},
		{"section count zero", edit(func(b []byte) { le.PutUint16(b[0x80+6:], 0) }), true},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 7, 1 << 20} {
			var s symbolStream
			for rest := tt.data; len(rest) > 0; rest = rest[min(chunk, len(rest)):] {
				s.Write(rest[:min(chunk, len(rest))])
			}
			got, err := s.symbols()
			ref, refErr := GoSymbols(bytes.NewReader(tt.data))
			if tt.wantErr {
				if err == nil {
					t.Errorf("%s/%d: no error: %v", tt.name, chunk, slices.Sorted(maps.Keys(got)))
				}
				continue
			}
			if err != nil || refErr != nil {
				t.Fatalf("%s/%d: %v; GoSymbols: %v", tt.name, chunk, err, refErr)
			}
			for _, want := range []string{"a.F", "b.T.M", "b"} {
				if _, ok := got[want]; !ok {
					t.Errorf("%s/%d: %s missing from %v", tt.name, chunk, want, got)
				}
			}
			if !maps.Equal(got, ref) {
				t.Errorf("%s/%d: stream %v, GoSymbols %v", tt.name, chunk, got, ref)
			}
		}
	}
}

// FuzzSymbolStreamPE: hostile PE (and Mach-O) streams end in an error or a name set,
// within the bounds, and GoSymbols neither panics nor over-allocates.
func FuzzSymbolStreamPE(f *testing.F) {
	good := synthPE(true, "a.F", "net/http.(*Client).Do")
	f.Add(good, uint16(7))
	f.Add(synthPE(false, "a.F"), uint16(4095))
	f.Add(good[:len(good)/2], uint16(64))
	f.Add(synthMachO("a.F", "net/http.(*Client).Do"), uint16(5))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) {
		var s symbolStream
		c := int(chunk%4096) + 1
		for rest := data; len(rest) > 0; rest = rest[min(c, len(rest)):] {
			s.Write(rest[:min(c, len(rest))])
		}
		_, _ = s.symbols()
		if s.kept > maxNameTables || len(s.cands) > maxPclnCandidates {
			t.Fatalf("kept %d bytes in %d candidates", s.kept, len(s.cands))
		}
		_, _ = GoSymbols(bytes.NewReader(data))
	})
}

// synthMachO is a 64-bit little-endian Mach-O file whose one segment
// holds the section __gopclntab: a pclntab of funcs.
func synthMachO(funcs ...string) []byte {
	le := binary.LittleEndian
	tab := pclntab120(funcs...)
	const cmdSize = 72 + 80
	tabOff := 32 + cmdSize
	out := make([]byte, tabOff+len(tab))
	le.PutUint32(out, 0xfeedfacf)
	le.PutUint32(out[16:], 1)
	le.PutUint32(out[20:], cmdSize)
	lc := out[32:]
	le.PutUint32(lc, 0x19)
	le.PutUint32(lc[4:], cmdSize)
	copy(lc[8:], "__TEXT")
	le.PutUint64(lc[40:], uint64(len(out)))
	le.PutUint64(lc[48:], uint64(len(out)))
	le.PutUint32(lc[64:], 1)
	sec := lc[72:]
	copy(sec, "__gopclntab")
	copy(sec[16:], "__TEXT")
	le.PutUint64(sec[40:], uint64(len(tab)))
	le.PutUint32(sec[48:], uint32(tabOff))
	copy(out[tabOff:], tab)
	return out
}

// TestSymbolStreamMachO: a synthetic Mach-O file, whole or broken.
func TestSymbolStreamMachO(t *testing.T) {
	le := binary.LittleEndian
	good := synthMachO("a.F", "b.(*T).M")
	edit := func(f func(b []byte)) []byte { b := bytes.Clone(good); f(b); return b }
	tests := []struct {
		name    string
		data    []byte
		wantErr bool
	}{
		{"section", good, false},
		{"truncated", good[:len(good)-4], true},
		{"no __gopclntab", bytes.Replace(good, []byte("__gopclntab"), []byte("__gopclntax"), 1), true},
		{"section offset past EOF", edit(func(b []byte) { le.PutUint32(b[32+72+48:], 1<<30) }), true},
		{"section too short", edit(func(b []byte) { le.PutUint64(b[32+72+40:], 20) }), true},
		{"huge load commands", edit(func(b []byte) { le.PutUint32(b[20:], 0xffffffff) }), true},
		{"load command size zero", edit(func(b []byte) { le.PutUint32(b[36:], 0) }), true},
		{"huge section count", edit(func(b []byte) { le.PutUint32(b[32+64:], 0xffffffff) }), false},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 7, 1 << 20} {
			var s symbolStream
			for rest := tt.data; len(rest) > 0; rest = rest[min(chunk, len(rest)):] {
				s.Write(rest[:min(chunk, len(rest))])
			}
			got, err := s.symbols()
			if tt.wantErr {
				if err == nil {
					t.Errorf("%s/%d: no error: %v", tt.name, chunk, slices.Sorted(maps.Keys(got)))
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s/%d: %v", tt.name, chunk, err)
			}
			for _, want := range []string{"a.F", "b.T.M", "b"} {
				if _, ok := got[want]; !ok {
					t.Errorf("%s/%d: %s missing from %v", tt.name, chunk, want, got)
				}
			}
		}
	}
	if _, err := GoSymbols(bytes.NewReader(good)); err != nil {
		t.Errorf("GoSymbols: %v", err)
	}
}
