package catalog

// Go binaries: the build information the linker embeds (gobuild). The
// main module, every dependency compiled in (a replaced module is
// reported as its replacement, which is the code actually in the binary),
// and the Go toolchain as the package "stdlib", the name OSV's Go
// database gives the standard library.

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"runtime/debug"
	"strings"

	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/sbom/gobuild"
)

// minGoBinarySize skips small executables (scripts, tiny C tools): the
// smallest Go binary is over a megabyte.
const minGoBinarySize = 256 << 10

type goBinary struct{}

// GoBinary returns the stream cataloger of Go binaries. It wants every
// executable regular file of at least 256 KiB; non-Go files cost the
// first four bytes (ELF, PE or Mach-O magic) or one pass over the file.
func GoBinary() StreamCataloger { return goBinary{} }

func (goBinary) Name() string { return "go-binary" }

func (goBinary) Wants(path string, size int64, mode fs.FileMode) bool {
	return mode.IsRegular() && size >= minGoBinarySize && (mode&0o111 != 0 || strings.HasSuffix(path, ".exe"))
}

// CatalogStream reads the build information from r; a file that is not a
// Go binary yields no packages and no error, and so does a Go 1.17 or
// older binary, whose build information a stream cannot follow.
//
// The rest of the stream is read for the binary's function names
// (symbolStream keeps only its pclntab's name table): every package gets
// the binary's GoSymbols, nil when they could not be read.
func (goBinary) CatalogStream(_ context.Context, path string, r io.Reader) ([]sbom.Package, error) {
	var syms symbolStream
	bi, err := gobuild.ReadStream(io.TeeReader(r, &syms))
	switch {
	case errors.Is(err, gobuild.ErrNotExecutable), errors.Is(err, gobuild.ErrNotGoBinary), errors.Is(err, gobuild.ErrPointerFormat):
		return nil, nil
	case err != nil:
		return nil, err
	}
	pkgs := GoPackages(bi, path)
	// A read error leaves the table incomplete, which symbols reports:
	// the packages stand, their reachability unknown.
	_, _ = io.Copy(&syms, r)
	if set, err := syms.symbols(); err == nil {
		for i := range pkgs {
			pkgs[i].GoSymbols = set
		}
	}
	return pkgs, nil
}

// GoPackages turns build information into packages located at path.
func GoPackages(bi *debug.BuildInfo, path string) []sbom.Package {
	var pkgs []sbom.Package
	platform := goPlatform(bi)
	add := func(name, version string) {
		p := goPackage(name, version, path)
		p.Platform = platform
		pkgs = append(pkgs, p)
	}
	if bi.Main.Path != "" {
		m := bi.Main
		if m.Replace != nil {
			m = *m.Replace
		}
		add(m.Path, goModVersion(m.Version))
	}
	for _, d := range bi.Deps {
		m := *d
		if m.Replace != nil {
			// A replacement by a local directory has no version; it is
			// still the replaced path that the code is known by.
			if v := m.Replace.Version; v != "" && v != "(devel)" {
				m = *m.Replace
			} else {
				m.Version = ""
			}
		}
		add(m.Path, goModVersion(m.Version))
	}
	if v := goToolchainVersion(bi.GoVersion); v != "" {
		add("stdlib", v)
	}
	return pkgs
}

func goPackage(name, version, location string) sbom.Package {
	ns, base := "", name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		ns, base = name[:i], name[i+1:]
	}
	return sbom.Package{
		Name:      name,
		Version:   version,
		Ecosystem: sbom.EcosystemGo,
		Type:      "golang",
		PURL:      sbom.PURL("golang", ns, base, version),
		Locations: []string{location},
		Cataloger: "go-binary",
	}
}

// goModVersion drops "(devel)", the main module version of a build
// outside version control, which is no version at all.
func goModVersion(v string) string {
	if v == "(devel)" {
		return ""
	}
	return v
}

// goPlatform returns "GOOS/GOARCH" from the build settings, or "".
func goPlatform(bi *debug.BuildInfo) string {
	var goos, goarch string
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	if goos == "" || goarch == "" {
		return ""
	}
	return goos + "/" + goarch
}

// goToolchainVersion turns "go1.22.1" (or "go1.21.0 X:boringcrypto")
// into "1.22.1", the form of OSV's stdlib ranges; an experiment build's
// "go1.26.8-X:jsonv2" gives "1.26.8-X:jsonv2", which the matcher reads as
// 1.26.8. Development toolchains ("devel go1.23-abc ...") have no release
// version and are kept verbatim, so the standard library is reported as
// not checked rather than left out.
func goToolchainVersion(v string) string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "devel") {
		return v
	}
	f := strings.Fields(v)
	if len(f) == 0 || !strings.HasPrefix(f[0], "go1") {
		return ""
	}
	return strings.TrimPrefix(f[0], "go")
}
