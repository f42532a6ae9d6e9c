package catalog

// Language runtimes and libraries installed outside the OS package
// manager, found as binaries with the version their build embeds:
//
//   - Node.js: the node executable, "node.js/v20.11.1" in its data;
//   - CPython: python3.X executables and libpython3.X.so libraries, the
//     release as a NUL-terminated "3.X.Y" string (PY_VERSION; linkers
//     merge it into the tail of a longer string such as a build path, so
//     it may follow "/" or "-" rather than a NUL), the minor version from
//     the file name, so a "3.11.4" of another component is not taken;
//   - OpenSSL: libcrypto.so and openssl executables, "OpenSSL 3.0.13 30
//     Jan 2024" (a static build carries it too);
//   - OpenJDK: a JDK's or JRE's release file, JAVA_VERSION="17.0.9".
//
// Files under the directories OS packages install to (usr/bin, usr/lib,
// lib ...; not usr/local) are left to the OS catalogers, which report the
// package that owns them: official images build these runtimes into
// /usr/local or /opt. A wanted binary without a recognisable version
// yields nothing (a renamed or stripped build is not a runtime we can
// name).

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/palisade-sec/palisade/internal/sbom"
)

// osOwnedDirs are where OS package managers install; usr/local is not.
var osOwnedDirs = []string{"bin/", "sbin/", "lib/", "lib32/", "lib64/", "libx32/", "usr/bin/", "usr/sbin/", "usr/lib/", "usr/lib32/", "usr/lib64/", "usr/libexec/", "usr/share/"}

func osOwned(p string) bool {
	for _, d := range osOwnedDirs {
		if strings.HasPrefix(p, d) {
			return true
		}
	}
	return false
}

// runtimeKind is one runtime recognised from a binary.
type runtimeKind struct {
	name, ecosystem string
	// marker is searched for literally; version reads the version at a
	// marker, b[at:] ("" when it is not one); b[:at] is what precedes it.
	marker  func(base string) []byte
	version func(b []byte, at int) string
	files   func(base string, mode fs.FileMode) bool
}

var (
	nodeVersion    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^node\.js/v([0-9]+\.[0-9]+\.[0-9]+)`) })
	opensslVersion = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^OpenSSL ([0-9]+\.[0-9]+\.[0-9]+[a-z]{0,2}) +[0-9]{1,2} [A-Z][a-z]{2} [0-9]{4}`)
	})
	pythonFile = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:python(3\.[0-9]+)|libpython(3\.[0-9]+)m?\.so(?:\.[0-9.]+)?)$`)
	})
	pythonVersion = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(3\.[0-9]+\.[0-9]+(?:(?:a|b|rc)[0-9]+)?)\+?\x00`) })
)

var runtimeKinds = []runtimeKind{
	{
		name: "node", ecosystem: sbom.EcosystemNodeJS,
		files:  func(b string, m fs.FileMode) bool { return b == "node" && m&0o111 != 0 },
		marker: func(string) []byte { return []byte("node.js/v") },
		version: func(b []byte, at int) string {
			if m := nodeVersion().FindSubmatch(b[at:]); m != nil {
				return string(m[1])
			}
			return ""
		},
	},
	{
		name: "python", ecosystem: sbom.EcosystemCPython,
		files: func(b string, _ fs.FileMode) bool { return pythonFile().MatchString(b) },
		marker: func(b string) []byte {
			m := pythonFile().FindStringSubmatch(b)
			return []byte(m[1] + m[2] + ".")
		},
		version: func(b []byte, at int) string {
			if at > 0 && (b[at-1] == '.' || b[at-1] >= '0' && b[at-1] <= '9' || b[at-1] >= 'A' && b[at-1] <= 'Z' || b[at-1] >= 'a' && b[at-1] <= 'z') {
				return "" // the tail of another version or word ("13.12.1", "x3.12.1")
			}
			if m := pythonVersion().FindSubmatch(b[at:]); m != nil {
				return string(m[1])
			}
			return ""
		},
	},
	{
		name: "openssl", ecosystem: sbom.EcosystemOpenSSL,
		files: func(b string, m fs.FileMode) bool {
			return strings.HasPrefix(b, "libcrypto.so") || strings.HasPrefix(b, "libcrypto-") && strings.Contains(b, ".so") || b == "openssl" && m&0o111 != 0
		},
		marker: func(string) []byte { return []byte("OpenSSL ") },
		version: func(b []byte, at int) string {
			if m := opensslVersion().FindSubmatch(b[at:]); m != nil {
				return string(m[1])
			}
			return ""
		},
	},
}

// maxRuntimeBinary bounds the binaries searched.
const maxRuntimeBinary = 512 << 20

type runtimeBinary struct{}

// RuntimeBinary returns the stream cataloger of Node.js, CPython and
// OpenSSL builds outside the OS package manager's directories.
func RuntimeBinary() StreamCataloger { return runtimeBinary{} }

func (runtimeBinary) Name() string { return "runtime-binary" }

func (runtimeBinary) Wants(p string, size int64, mode fs.FileMode) bool {
	if !mode.IsRegular() || size > maxRuntimeBinary || size < 1024 || osOwned(p) {
		return false
	}
	return kindOf(path.Base(p), mode) != nil
}

func kindOf(base string, mode fs.FileMode) *runtimeKind {
	for i := range runtimeKinds {
		if runtimeKinds[i].files(base, mode) {
			return &runtimeKinds[i]
		}
	}
	return nil
}

// CatalogStream searches the file for its kind's version marker, chunk by
// chunk, and stops at the first one that reads as a version.
func (runtimeBinary) CatalogStream(_ context.Context, p string, r io.Reader) ([]sbom.Package, error) {
	// The mode was checked by Wants; here any mode names the kind.
	k := kindOf(path.Base(p), 0o755)
	if k == nil {
		return nil, nil
	}
	v, err := findVersion(r, k.marker(path.Base(p)), k.version)
	if err != nil || v == "" {
		return nil, err
	}
	return []sbom.Package{runtimePackage(k.name, k.ecosystem, v, p, "runtime-binary")}, nil
}

func runtimePackage(name, ecosystem, version, location, cataloger string) sbom.Package {
	return sbom.Package{Name: name, Version: version, Ecosystem: ecosystem, Type: "generic",
		PURL: sbom.PURL("generic", "", name, version), Locations: []string{location}, Cataloger: cataloger}
}

// findVersion reads r in chunks that overlap by more than a version string
// and returns the first version read at a marker.
func findVersion(r io.Reader, marker []byte, version func([]byte, int) string) (string, error) {
	const chunk, overlap = 1 << 20, 256
	buf := make([]byte, 0, chunk+overlap)
	for {
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		for i := 0; ; {
			j := bytes.Index(buf[i:], marker)
			if j < 0 {
				break
			}
			if v := version(buf, i+j); v != "" {
				return v, nil
			}
			i += j + 1
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		keep := min(overlap, len(buf))
		copy(buf, buf[len(buf)-keep:])
		buf = buf[:keep]
	}
}

// OpenJDK returns the cataloger of JDK and JRE release files.
func OpenJDK() Cataloger {
	return Glob{ID: "openjdk", Patterns: []string{"**/release"}, MaxSize: 64 << 10, Parse: parseJavaRelease, Lenient: true}
}

// parseJavaRelease reads a release file's JAVA_VERSION="17.0.9"; a
// release file of anything else, or one under OS package directories,
// yields nothing.
func parseJavaRelease(_ context.Context, _ Env, _ fs.FS, p string, r io.Reader) ([]sbom.Package, error) {
	if osOwned(p) {
		return nil, nil
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "JAVA_VERSION="); ok {
			v = strings.Trim(strings.TrimSpace(v), `"`)
			if v == "" || strings.ContainsAny(v, " /") {
				return nil, fmt.Errorf("JAVA_VERSION %q is not a version", v)
			}
			return []sbom.Package{runtimePackage("openjdk", sbom.EcosystemOpenJDK, v, p, "openjdk")}, nil
		}
	}
	return nil, sc.Err()
}
