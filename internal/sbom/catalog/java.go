package catalog

// Java: JAR, WAR and EAR archives (and Jenkins plugins, .jpi/.hpi).
// Each archive yields one package per META-INF/maven/<group>/<artifact>/
// pom.properties it contains (a shaded JAR carries several), or, without
// any, one package from META-INF/MANIFEST.MF and the file name
// ("commons-lang3-3.14.0.jar"). Archives inside archives (WEB-INF/lib,
// BOOT-INF/lib, lib/ of an EAR, and archives inside those) are read the
// same way, in memory, to any depth real applications have (MaxDepth, 64
// levels); the count of nested archives and the bytes they inflate to are
// bounded per top-level archive, and an archive nested beyond a bound is
// an error of that archive, never silently skipped. Maven packages are named "groupId:artifactId", as OSV's
// Maven ecosystem names them.
//
// Archives are hostile input: nested archives are read through a
// decompression budget shared by the whole top-level archive, each nested
// archive and each metadata file has its own cap, and a zip bomb ends in
// an error for that archive, not in exhausted memory.

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/palisade-sec/palisade/internal/sbom"
)

// JavaLimits bound the work on one top-level archive.
type JavaLimits struct {
	MaxArchiveSize  int64 // top-level archive on disk
	MaxNestedSize   int64 // one nested archive, decompressed
	MaxMetadataSize int64 // one MANIFEST.MF or pom.properties, decompressed
	MaxTotalInflate int64 // everything decompressed from one top-level archive
	MaxDepth        int   // nesting levels below the top-level archive
	MaxEntries      int   // entries of one archive looked at
	MaxArchives     int   // nested archives read below one top-level archive
}

// DefaultJavaLimits returns the limits Java() uses; they suit real
// application images (Spring Boot fat JARs of a few hundred MB, WARs with
// hundreds of libraries).
func DefaultJavaLimits() JavaLimits {
	return JavaLimits{
		MaxArchiveSize:  1 << 30,
		MaxNestedSize:   128 << 20,
		MaxMetadataSize: 1 << 20,
		MaxTotalInflate: 1 << 30,
		MaxDepth:        64,
		MaxEntries:      1 << 17,
		MaxArchives:     10_000,
	}
}

type javaCataloger struct{ limits JavaLimits }

// Java returns the cataloger of Java archives with the default limits.
func Java() Cataloger { return JavaWithLimits(DefaultJavaLimits()) }

// JavaWithLimits returns the cataloger of Java archives with limits l.
func JavaWithLimits(l JavaLimits) Cataloger { return javaCataloger{l} }

var javaExts = []string{".jar", ".war", ".ear", ".jpi", ".hpi"}

func isJavaArchive(name string) bool {
	ext := strings.ToLower(path.Ext(name))
	for _, e := range javaExts {
		if ext == e {
			return true
		}
	}
	return false
}

func (javaCataloger) Name() string { return "java" }

func (c javaCataloger) Wants(p string, size int64, mode fs.FileMode) bool {
	return mode.IsRegular() && size <= c.limits.MaxArchiveSize && isJavaArchive(p)
}

func (c javaCataloger) Catalog(ctx context.Context, _ Env, fsys fs.FS, paths []string) ([]sbom.Package, error) {
	var pkgs []sbom.Package
	var errs []error
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		got, err := c.catalogFile(fsys, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
		pkgs = append(pkgs, got...)
	}
	if len(errs) > 0 {
		return pkgs, &PartialError{Errs: errs}
	}
	return pkgs, nil
}

func (c javaCataloger) catalogFile(fsys fs.FS, p string) ([]sbom.Package, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ra, size, cleanup, err := readerAt(f, c.limits.MaxArchiveSize)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	return c.archive(ra, size, p, 0, &javaBudget{inflate: c.limits.MaxTotalInflate})
}

// javaBudget is what one top-level archive may still cost: decompressed
// bytes and nested archives, shared by every level below it.
type javaBudget struct {
	inflate  int64
	archives int
}

// readerAt returns random access to f: f itself when it has it (os.File),
// otherwise a temporary copy.
func readerAt(f fs.File, limit int64) (io.ReaderAt, int64, func(), error) {
	if ra, ok := f.(io.ReaderAt); ok {
		if st, err := f.Stat(); err == nil {
			return ra, st.Size(), func() {}, nil
		}
	}
	tmp, err := os.CreateTemp("", "palisade-archive-*")
	if err != nil {
		return nil, 0, nil, err
	}
	cleanup := func() { tmp.Close(); os.Remove(tmp.Name()) }
	n, err := io.Copy(tmp, io.LimitReader(f, limit+1))
	if err != nil {
		cleanup()
		return nil, 0, nil, err
	}
	if n > limit {
		cleanup()
		return nil, 0, nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return tmp, n, cleanup, nil
}

var errInflateBudget = errors.New("archive decompresses beyond its budget (zip bomb?)")

// archive catalogs one zip archive; location names it ("app.war!/WEB-INF/lib/x.jar").
func (c javaCataloger) archive(ra io.ReaderAt, size int64, location string, depth int, budget *javaBudget) ([]sbom.Package, error) {
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return nil, err
	}
	var manifest map[string]string
	var poms []map[string]string
	var nested []*zip.File
	for i, f := range zr.File {
		if i >= c.limits.MaxEntries {
			break
		}
		name := f.Name
		switch {
		case name == "META-INF/MANIFEST.MF":
			b, err := c.inflate(f, c.limits.MaxMetadataSize, budget)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			manifest, err = ParseManifest(bytes.NewReader(b))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		case strings.HasPrefix(name, "META-INF/maven/") && strings.HasSuffix(name, "/pom.properties"):
			b, err := c.inflate(f, c.limits.MaxMetadataSize, budget)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			props, err := ParsePomProperties(bytes.NewReader(b))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			poms = append(poms, props)
		case isJavaArchive(name) && !f.FileInfo().IsDir():
			nested = append(nested, f)
		}
	}
	pkgs := javaPackages(location, manifest, poms)
	var errs []error
	if depth >= c.limits.MaxDepth && len(nested) > 0 {
		errs = append(errs, fmt.Errorf("%d archives nested deeper than %d levels not read", len(nested), c.limits.MaxDepth))
		nested = nil
	}
	for _, f := range nested {
		if budget.archives >= c.limits.MaxArchives {
			errs = append(errs, fmt.Errorf("more than %d nested archives: the rest not read", c.limits.MaxArchives))
			break
		}
		budget.archives++
		b, err := c.inflate(f, c.limits.MaxNestedSize, budget)
		if errors.Is(err, errInflateBudget) {
			return pkgs, err
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Name, err))
			continue
		}
		got, err := c.archive(bytes.NewReader(b), int64(len(b)), location+"!/"+f.Name, depth+1, budget)
		if errors.Is(err, errInflateBudget) {
			return append(pkgs, got...), err
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Name, err))
		}
		pkgs = append(pkgs, got...)
	}
	return pkgs, errors.Join(errs...)
}

// inflate decompresses one entry, trusting none of its declared sizes.
func (c javaCataloger) inflate(f *zip.File, limit int64, budget *javaBudget) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	max := limit
	if budget.inflate < max {
		max = budget.inflate
	}
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	budget.inflate -= int64(len(b))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		if max < limit {
			return nil, errInflateBudget
		}
		return nil, fmt.Errorf("decompresses to more than %d bytes", limit)
	}
	return b, nil
}

// javaPackages names the packages of one archive.
func javaPackages(location string, manifest map[string]string, poms []map[string]string) []sbom.Package {
	var pkgs []sbom.Package
	for _, p := range poms {
		if g, a, v := p["groupId"], p["artifactId"], p["version"]; a != "" && v != "" {
			pkgs = append(pkgs, mavenPackage(g, a, v, location))
		}
	}
	if len(pkgs) > 0 {
		sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Name < pkgs[j].Name })
		return pkgs
	}
	fileArtifact, fileVersion := splitJarName(path.Base(strings.ReplaceAll(location, "!/", "/")))
	artifact := first(fileArtifact, manifest["Implementation-Title"], manifest["Bundle-SymbolicName"])
	version := first(manifest["Implementation-Version"], manifest["Bundle-Version"], fileVersion, manifest["Specification-Version"])
	if artifact == "" || version == "" {
		return nil
	}
	group := manifest["Implementation-Vendor-Id"]
	return []sbom.Package{mavenPackage(group, artifact, version, location)}
}

func mavenPackage(group, artifact, version, location string) sbom.Package {
	name := artifact
	if group != "" {
		name = group + ":" + artifact
	}
	return sbom.Package{
		Name:      name,
		Version:   version,
		Ecosystem: sbom.EcosystemMaven,
		Type:      "maven",
		PURL:      sbom.PURL("maven", group, artifact, version),
		Locations: []string{location},
		Cataloger: "java",
	}
}

func first(vals ...string) string {
	for _, v := range vals {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// A version in a file name starts at the first "-<digit>".
var jarVersionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(.+?)-(\d[^-]*(?:-.*)?)$`) })

// splitJarName splits "commons-lang3-3.14.0.jar" into artifact and version.
func splitJarName(base string) (artifact, version string) {
	base = strings.TrimSuffix(base, path.Ext(base))
	if m := jarVersionRE().FindStringSubmatch(base); m != nil {
		return m[1], m[2]
	}
	return base, ""
}

// ParseManifest reads the main section of a JAR manifest: "Name: value"
// lines, a line starting with one space continuing the previous value,
// the section ending at the first blank line.
func ParseManifest(r io.Reader) (map[string]string, error) {
	m := map[string]string{}
	br := bufio.NewReaderSize(r, 16<<10)
	last := ""
	for {
		line, err := readLine(br, 1<<20)
		if err != nil && err != io.EOF {
			return nil, err
		}
		if line == "" {
			if err == io.EOF || len(m) > 0 {
				break
			}
			continue
		}
		if line[0] == ' ' {
			if last != "" {
				m[last] += line[1:]
			}
		} else if k, v, ok := strings.Cut(line, ":"); ok {
			last = strings.TrimSpace(k)
			m[last] = strings.TrimSpace(v)
		}
		if err == io.EOF {
			break
		}
	}
	return m, nil
}

// ParsePomProperties reads a Java properties file as Maven writes
// pom.properties: "key=value" (or "key:value") lines, "#" and "!"
// comments, backslash continuation and escapes.
func ParsePomProperties(r io.Reader) (map[string]string, error) {
	m := map[string]string{}
	br := bufio.NewReaderSize(r, 16<<10)
	pending := ""
	for {
		line, err := readLine(br, 1<<20)
		if err != nil && err != io.EOF {
			return nil, err
		}
		done := err == io.EOF
		t := strings.TrimLeft(line, " \t\f")
		if pending == "" && (t == "" || t[0] == '#' || t[0] == '!') {
			if done {
				break
			}
			continue
		}
		if n := len(t) - len(strings.TrimRight(t, `\`)); n%2 == 1 && !done {
			pending += t[:len(t)-1]
			if len(pending) > 1<<20 {
				return nil, errors.New("properties line too long")
			}
			continue
		}
		t = pending + t
		pending = ""
		i := strings.IndexAny(t, "=: \t")
		k, v := t, ""
		if i >= 0 {
			k, v = t[:i], strings.TrimLeft(t[i:], " \t")
			if v != "" && (v[0] == '=' || v[0] == ':') {
				v = strings.TrimLeft(v[1:], " \t")
			}
		}
		m[unescapeProperty(k)] = unescapeProperty(strings.TrimSpace(v))
		if done {
			break
		}
	}
	return m, nil
}

func unescapeProperty(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
