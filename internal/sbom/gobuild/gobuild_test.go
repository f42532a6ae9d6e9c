package gobuild

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
)

// goBuild builds testdata/gomod for goos/goarch into dir.
func goBuild(t *testing.T, dir, goos, goarch string, extra ...string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a Go binary")
	}
	out := filepath.Join(dir, "gobin-"+goos+"-"+goarch+strings.Join(extra, ""))
	args := append([]string{"build", "-o", out, "-trimpath"}, extra...)
	args = append(args, ".")
	cmd := exec.Command("go", args...)
	cmd.Dir = "testdata/gomod"
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

func goRoot(t *testing.T) string {
	t.Helper()
	b, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// compare reads path both ways and requires identical build information.
func compare(t *testing.T, path string) *debug.BuildInfo {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, err := ReadFile(f)
	if err != nil {
		t.Fatalf("debug/buildinfo: %v", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	// A reader that returns little at a time exercises the window logic.
	got, err := ReadStream(&trickle{r: f, n: 4093})
	if err != nil {
		t.Fatalf("ReadStream: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ReadStream differs from debug/buildinfo:\n%s\nwant\n%s", got, want)
	}
	return got
}

type trickle struct {
	r io.Reader
	n int
}

func (t *trickle) Read(p []byte) (int, error) {
	if len(p) > t.n {
		p = p[:t.n]
	}
	return t.r.Read(p)
}

// fixtureBinary builds the linux/amd64 fixture once for all tests.
type fixtureBinary struct {
	once sync.Once
	dir  string
	path string
}

func (f *fixtureBinary) get(t *testing.T) string {
	f.once.Do(func() {
		var err error
		f.dir, err = os.MkdirTemp("", "palisade-gobin-")
		if err != nil {
			t.Fatal(err)
		}
		f.path = goBuild(t, f.dir, "linux", "amd64")
	})
	if f.path == "" {
		t.Fatal("fixture build failed")
	}
	return f.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture.dir != "" {
		os.RemoveAll(fixture.dir)
	}
	os.Exit(code)
}

var fixture fixtureBinary

// Each build of the fixture for another platform compiles the standard
// library for it once per machine, so the set is kept small: ELF (also
// stripped) and PE. Mach-O is told apart by IsExecutableHeader and has
// the same inline layout.
func TestReadStreamMatchesDebugBuildinfo(t *testing.T) {
	tests := []struct {
		name string
		path func(t *testing.T) string
	}{
		{"fixture linux/amd64 ELF", fixture.get},
		{"fixture linux/amd64 ELF stripped", func(t *testing.T) string { return goBuild(t, t.TempDir(), "linux", "amd64", "-ldflags=-s -w") }},
		{"fixture windows/amd64 PE", func(t *testing.T) string { return goBuild(t, t.TempDir(), "windows", "amd64") }},
		{"this test binary", func(t *testing.T) string {
			p, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			return p
		}},
		// The go command links debug/buildinfo, so the magic also appears
		// in it as a string constant before the real header.
		{"the go command", func(t *testing.T) string { return filepath.Join(goRoot(t), "bin", "go") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bi := compare(t, tt.path(t))
			if !strings.HasPrefix(bi.GoVersion, "go1") {
				t.Errorf("GoVersion %q", bi.GoVersion)
			}
		})
	}
}

func TestFixtureContents(t *testing.T) {
	bi := compare(t, fixture.get(t))
	if bi.Main.Path != "example.com/palisade/gobin" {
		t.Errorf("main module %q", bi.Main.Path)
	}
	var deps []string
	for _, d := range bi.Deps {
		s := d.Path + "@" + d.Version
		if d.Replace != nil {
			s += " => " + d.Replace.Path + "@" + d.Replace.Version
		}
		deps = append(deps, s)
	}
	want := "example.com/palisade/local@v0.0.0 => ./local@(devel)\ngithub.com/google/uuid@v1.6.0"
	if got := strings.Join(deps, "\n"); got != want {
		t.Errorf("deps:\n%s\nwant:\n%s", got, want)
	}
}

// elfWith returns a fake ELF file holding body after its magic.
func elfWith(body ...[]byte) []byte {
	b := append([]byte("\x7fELF"), make([]byte, 60)...)
	for _, x := range body {
		b = append(b, x...)
	}
	return b
}

func inlineHeader(vers, mod string) []byte {
	h := make([]byte, 32)
	copy(h, magic)
	h[14], h[15] = 8, flagInline
	h = binary.AppendUvarint(h, uint64(len(vers)))
	h = append(h, vers...)
	h = binary.AppendUvarint(h, uint64(len(mod)))
	return append(h, mod...)
}

func sentinel(mod string) string {
	return strings.Repeat("S", 16) + mod + strings.Repeat("E", 16)
}

func TestReadStreamSynthetic(t *testing.T) {
	mod := "path\texample.com/x\nmod\texample.com/x\t(devel)\t\ndep\tgolang.org/x/text\tv0.14.0\th1:abc=\n"
	pointer := make([]byte, 32)
	copy(pointer, magic)
	pointer[14], pointer[15] = 8, 0
	tests := []struct {
		name    string
		data    []byte
		wantErr error
		wantDep string
	}{
		{"inline", elfWith(inlineHeader("go1.22.1", sentinel(mod))), nil, "golang.org/x/text"},
		{"false magic first", elfWith([]byte(magic+"this is a string table"), make([]byte, 300000), inlineHeader("go1.22.1", sentinel(mod))), nil, "golang.org/x/text"},
		{"magic split across chunks", elfWith(make([]byte, chunkSize-70), inlineHeader("go1.23.0", sentinel(mod))), nil, "golang.org/x/text"},
		{"pointer format", elfWith(pointer), ErrPointerFormat, ""},
		{"no build info", elfWith(make([]byte, 1000)), ErrNotGoBinary, ""},
		{"not executable", []byte("#!/bin/sh\necho hi\n"), ErrNotExecutable, ""},
		{"empty", nil, ErrNotExecutable, ""},
		{"truncated header", elfWith([]byte(magic)), ErrNotGoBinary, ""},
		{"huge length prefix", elfWith(inlineHeader("go1.22.1", ""), binary.AppendUvarint(nil, 1<<40)), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bi, err := ReadStream(bytes.NewReader(tt.data))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantDep != "" && (len(bi.Deps) != 1 || bi.Deps[0].Path != tt.wantDep) {
				t.Fatalf("deps %+v", bi.Deps)
			}
		})
	}
}
