// Package catalog finds installed software packages in a file system.
//
// A Cataloger declares which files it needs (Wants, decided from a path,
// a size and a mode alone, so an image walker can keep only those files
// while it streams the layers) and turns them into sbom.Packages. Every
// cataloger works on an io/fs.FS, so the same code reads a plain directory
// in tests and the final file system of an image.
//
// Files too large to keep (Go binaries) are read by a StreamCataloger
// straight from an io.Reader, once, while the walker passes over them.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/palisade-sec/palisade/internal/sbom"
)

// Env is what a cataloger may know about the file system beyond its own
// files: the operating system found in os-release, used to name the
// ecosystem release of OS packages ("Debian:12").
type Env struct {
	OS *sbom.OS
}

// Cataloger finds one kind of package in the files it asked for.
type Cataloger interface {
	// Name identifies the cataloger in sbom.Package.Cataloger and errors.
	Name() string
	// Wants reports whether the file at path (slash-separated, relative to
	// the root, without a leading slash) with the given size and mode is
	// needed. It is called for every regular file of an image, so it must
	// be cheap and must not touch the file.
	Wants(path string, size int64, mode fs.FileMode) bool
	// Catalog parses the wanted files (paths, sorted, all present in fsys)
	// into packages.
	Catalog(ctx context.Context, env Env, fsys fs.FS, paths []string) ([]sbom.Package, error)
}

// StreamCataloger reads a single file as a stream, for files that are too
// large to keep in memory or in a file system view (Go binaries). The
// packages it returns belong to path; a caller that walks image layers
// drops them when a later layer removes or replaces the file.
type StreamCataloger interface {
	Name() string
	Wants(path string, size int64, mode fs.FileMode) bool
	CatalogStream(ctx context.Context, path string, r io.Reader) ([]sbom.Package, error)
}

// ParseFunc parses one file, read from r, into packages. path names the
// file for errors and sbom.Package.Locations; fsys lets a parser read
// neighbouring files it also asked for (a dpkg status.d entry's name).
type ParseFunc func(ctx context.Context, env Env, fsys fs.FS, path string, r io.Reader) ([]sbom.Package, error)

// Glob is the generic cataloger: it wants every file whose path matches
// one of its patterns (see Match) and is no larger than MaxSize, and hands
// each to Parse. Adding an ecosystem is a ParseFunc and a Glob literal.
type Glob struct {
	ID       string
	Patterns []string
	// MaxSize is the largest file handed to Parse; larger files are not
	// wanted. Zero means DefaultMaxSize.
	MaxSize int64
	Parse   ParseFunc
	// Lenient makes a file that fails to parse a skipped file rather than
	// an error of the whole catalog (one broken package.json among
	// thousands should not hide the others). The errors are still
	// returned, joined, by CatalogErrors.
	Lenient bool
}

// DefaultMaxSize caps files handed to a Glob's parser: package databases
// are kilobytes to a few megabytes; anything beyond this is hostile.
const DefaultMaxSize = 64 << 20

// Name returns g.ID.
func (g Glob) Name() string { return g.ID }

// Wants reports whether path matches one of g's patterns and the file is a
// regular file no larger than g's cap.
func (g Glob) Wants(path string, size int64, mode fs.FileMode) bool {
	if !mode.IsRegular() || size > g.maxSize() {
		return false
	}
	for _, p := range g.Patterns {
		if Match(p, path) {
			return true
		}
	}
	return false
}

func (g Glob) maxSize() int64 {
	if g.MaxSize > 0 {
		return g.MaxSize
	}
	return DefaultMaxSize
}

// Catalog opens and parses each path in turn.
func (g Glob) Catalog(ctx context.Context, env Env, fsys fs.FS, paths []string) ([]sbom.Package, error) {
	var pkgs []sbom.Package
	var errs []error
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		got, err := g.parseFile(ctx, env, fsys, p)
		var partial *PartialError
		if errors.As(err, &partial) {
			// Some entries of the file were skipped: the others stand, and
			// the skipped ones are said, never dropped in silence.
			errs = append(errs, partial.Errs...)
		} else if err != nil {
			if g.Lenient {
				errs = append(errs, err)
				continue
			}
			return nil, err
		}
		for i := range got {
			if got[i].Cataloger == "" {
				got[i].Cataloger = g.ID
			}
			if len(got[i].Locations) == 0 {
				got[i].Locations = []string{p}
			}
		}
		pkgs = append(pkgs, got...)
	}
	if len(errs) > 0 {
		return pkgs, &PartialError{Errs: errs}
	}
	return pkgs, nil
}

func (g Glob) parseFile(ctx context.Context, env Env, fsys fs.FS, p string) ([]sbom.Package, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	defer f.Close()
	r := &capReader{r: f, n: g.maxSize()}
	pkgs, err := g.Parse(ctx, env, fsys, p, r)
	if r.over {
		err = fmt.Errorf("larger than %d bytes", g.maxSize())
	}
	var partial *PartialError
	if errors.As(err, &partial) {
		errs := make([]error, len(partial.Errs))
		for i, e := range partial.Errs {
			errs[i] = fmt.Errorf("%s: %w", p, e)
		}
		return pkgs, &PartialError{Errs: errs}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return pkgs, nil
}

// PartialError is returned with the packages that were found when some
// files, or some entries of a file, could not be parsed: what they hold
// was not catalogued, so callers must say so (an image scan reports it as
// not checked). A ParseFunc returns one for the entries it skipped.
type PartialError struct{ Errs []error }

func (e *PartialError) Error() string { return errors.Join(e.Errs...).Error() }

// Unwrap returns the per-file errors.
func (e *PartialError) Unwrap() []error { return e.Errs }

// capReader reads at most n bytes and then reports io.ErrUnexpectedEOF,
// so a parser can never read more than its cataloger's cap even if a file
// system lies about sizes.
type capReader struct {
	r    io.Reader
	n    int64
	over bool
}

var errTooLarge = errors.New("file exceeds size cap")

func (c *capReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		// One probe byte tells a file that ends exactly at the cap from
		// one that goes on.
		var b [1]byte
		if n, _ := c.r.Read(b[:]); n > 0 {
			c.over = true
			return 0, errTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

// Match reports whether the slash-separated path matches pattern. Pattern
// segments are path.Match patterns, and a segment "**" matches any number
// of segments, including none: "**/node_modules/**/package.json".
func Match(pattern, name string) bool {
	// The last segment of a pattern that does not end in "**" matches the
	// last segment of the name, whatever comes before. Checking it first,
	// without splitting, rejects almost every file of an image at no
	// allocation (the walker asks about each one).
	if last := compileSeg(pattern[strings.LastIndexByte(pattern, '/')+1:]); !last.match(name[strings.LastIndexByte(name, '/')+1:]) {
		return false
	}
	return matchSegs(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

func matchSegs(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			// Collapse repeated "**" so hostile patterns stay linear.
			for len(pat) > 1 && pat[1] == "**" {
				pat = pat[1:]
			}
			if len(pat) == 1 {
				return true
			}
			for i := 0; i <= len(name); i++ {
				if matchSegs(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, err := path.Match(pat[0], name[0]); err != nil || !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// Set runs several catalogers over one file system and detects its OS.
// Its catalogers must not change once Wants or Run was called (their
// patterns are compiled then).
type Set struct {
	Catalogers []Cataloger
	Streams    []StreamCataloger

	indexOnce sync.Once
	index     *globIndex
}

func (s *Set) globs() *globIndex {
	s.indexOnce.Do(func() { s.index = newGlobIndex(s.Catalogers) })
	return s.index
}

// Default returns the catalogers of images with their default limits:
// what is installed (package databases, installed metadata, binaries) and
// the lock files of ecosystems that leave no installed metadata behind
// (Cargo, NuGet, Mix, Conan), and language runtimes built outside the
// package manager (runtime.go).
func Default() *Set {
	return &Set{
		Catalogers: []Cataloger{
			Dpkg(), Apk(), RPM(), Python(), NPM(), Java(), Composer(), Gemspec(), DotnetDeps(), Swift(), Pub(),
			CargoLock(), NuGetLock(), MixLock(), ConanLock(), OpenJDK(),
		},
		Streams: []StreamCataloger{GoBinary(), RuntimeBinary(), RustBinary()},
	}
}

// Repo returns Default and the lock files of a source repository that an
// image carries its installed packages for instead (Gemfile.lock beside
// installed gemspecs, composer.lock beside installed.json, Node and Python
// lock files beside node_modules and site-packages): scanning both in an
// image would report each package twice.
func Repo() *Set {
	s := Default()
	s.Catalogers = append(s.Catalogers, GemfileLock(), ComposerLock(),
		NPMLock(), PNPMLock(), YarnLock(), PoetryLock(), UVLock(), PipfileLock(), Requirements())
	return s
}

// LockFiles returns the catalogers of a source repository's lock and
// manifest files, the dependencies a project pins before anything is
// installed: what `palisade scan repo` matches.
func LockFiles() []Cataloger {
	return []Cataloger{NPMLock(), PNPMLock(), YarnLock(), PoetryLock(), UVLock(), PipfileLock(), Requirements(),
		GemfileLock(), ComposerLock(), NuGetLock(), CargoLock(), MixLock(), ConanLock(), Pub(), Swift()}
}

// Wants reports whether any cataloger of s, or OS detection, needs the
// file. An image walker keeps exactly these files.
func (s *Set) Wants(path string, size int64, mode fs.FileMode) bool {
	if WantsOSRelease(path, size, mode) {
		return true
	}
	found := false
	s.globs().wanted(s.Catalogers, path, size, mode, func(int) bool { found = true; return false })
	return found
}

// StreamWants returns the stream catalogers that want the file.
func (s *Set) StreamWants(path string, size int64, mode fs.FileMode) []StreamCataloger {
	var out []StreamCataloger
	for _, c := range s.Streams {
		if c.Wants(path, size, mode) {
			out = append(out, c)
		}
	}
	return out
}

// Result is what Run found.
type Result struct {
	OS       *sbom.OS
	Packages []sbom.Package
	// Warnings are files that could not be parsed by lenient catalogers;
	// the packages of the other files are still in Packages.
	Warnings []error
}

// FileLister is an fs.FS that lists its regular files more cheaply than
// fs.WalkDir can (image.FS, whose tree is in memory): RegularFiles calls fn
// with the path, size and mode of exactly the files fs.WalkDir would report
// as regular, in any order, and returns fn's first error.
type FileLister interface {
	RegularFiles(fn func(path string, size int64, mode fs.FileMode) error) error
}

// Run walks fsys once, detects the OS, and runs every cataloger on the
// files it wants; stream catalogers get each wanted file opened from fsys.
// Packages are sorted by ecosystem, name, version and location.
func (s *Set) Run(ctx context.Context, fsys fs.FS) (*Result, error) {
	osInfo, err := DetectOS(fsys)
	if err != nil {
		return nil, err
	}
	env := Env{OS: osInfo}
	wanted := make([][]string, len(s.Catalogers))
	type streamJob struct {
		c    StreamCataloger
		path string
	}
	var streams []streamJob
	visit := func(p string, size int64, mode fs.FileMode) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.globs().wanted(s.Catalogers, p, size, mode, func(i int) bool {
			wanted[i] = append(wanted[i], p)
			return true
		})
		for _, c := range s.Streams {
			if c.Wants(p, size, mode) {
				streams = append(streams, streamJob{c, p})
			}
		}
		return nil
	}
	// Each cataloger's paths are sorted below, so the order of listing
	// matters only to stream jobs, which run in fs.WalkDir's order.
	if l, ok := fsys.(FileLister); ok && len(s.Streams) == 0 {
		err = l.RegularFiles(visit)
	} else {
		err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return ctx.Err()
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			return visit(p, info.Size(), info.Mode())
		})
	}
	if err != nil {
		return nil, fmt.Errorf("walking file system: %w", err)
	}
	res := &Result{OS: osInfo}
	for i, c := range s.Catalogers {
		if len(wanted[i]) == 0 {
			continue
		}
		sort.Strings(wanted[i])
		pkgs, err := c.Catalog(ctx, env, fsys, wanted[i])
		var partial *PartialError
		if errors.As(err, &partial) {
			res.Warnings = append(res.Warnings, partial.Errs...)
		} else if err != nil {
			return nil, fmt.Errorf("cataloger %s: %w", c.Name(), err)
		}
		res.Packages = append(res.Packages, pkgs...)
	}
	for _, j := range streams {
		pkgs, err := streamFile(ctx, j.c, fsys, j.path)
		if err != nil {
			res.Warnings = append(res.Warnings, err)
			continue
		}
		res.Packages = append(res.Packages, pkgs...)
	}
	SortPackages(res.Packages)
	return res, nil
}

func streamFile(ctx context.Context, c StreamCataloger, fsys fs.FS, p string) ([]sbom.Package, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	defer f.Close()
	pkgs, err := c.CatalogStream(ctx, p, f)
	if err != nil {
		return nil, fmt.Errorf("cataloger %s: %s: %w", c.Name(), p, err)
	}
	return pkgs, nil
}

// SortPackages orders packages deterministically.
func SortPackages(pkgs []sbom.Package) {
	sort.SliceStable(pkgs, func(i, j int) bool {
		a, b := pkgs[i], pkgs[j]
		if a.Ecosystem != b.Ecosystem {
			return a.Ecosystem < b.Ecosystem
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return strings.Join(a.Locations, "\n") < strings.Join(b.Locations, "\n")
	})
}
