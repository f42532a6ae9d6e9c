// Package depscan finds the dependencies a source repository pins in its
// lock files and matches them against the vulnerability database, for
// `palisade scan repo`: load (the lock files under a root, skipping what
// scan repo skips: hidden directories, node_modules, vendor) → normalise
// (sbom.Packages, each with its lock file and line) → evaluate
// (internal/vulnmatch, one lock file at a time) → findings that name the
// lock file and the line of the package, problems that name the file.
//
// A lock file that cannot be parsed is an error problem of that file (the
// scan exits 2): its dependencies were not checked. So is every package
// left unchecked for want of advisories, and a database that is missing.
package depscan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/sbom/catalog"
	"github.com/palisade-sec/palisade/internal/vulnmatch"
)

// Limits of one repository.
const (
	// MaxLockFiles bounds the lock files read under one root.
	MaxLockFiles = 10_000
	// maxLockBytes bounds the bytes of one lock file read to find lines
	// (the catalogers' own caps are lower).
	maxLockBytes = 64 << 20
)

// Dependency is a package pinned by a lock file.
type Dependency struct {
	sbom.Package
	// File is the lock file, relative to the root, slash-separated.
	File string
	// Line is the package's line in File (1-based), 0 when not found.
	Line int
}

// LockFile is one lock file read.
type LockFile struct {
	Path      string
	Cataloger string
	// Dependencies are its packages, in the cataloger's order.
	Dependencies []Dependency
	// Unpinned are the first maxUnpinned requirements of a pip
	// requirements file that pin no version, and Unchecked is how many
	// there are: they were not checked.
	Unpinned  []catalog.UnpinnedRequirement
	Unchecked int
}

// maxUnpinned bounds the unpinned requirements named per file.
const maxUnpinned = 5

// Find reads the lock files under root that one of catalogers wants.
// Files that cannot be parsed are error problems naming the file.
func Find(ctx context.Context, root string, catalogers []catalog.Cataloger) ([]LockFile, []finding.Problem, error) {
	type job struct {
		c    catalog.Cataloger
		path string
	}
	var jobs []job
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if d != nil && d.IsDir() && p != root {
				return fs.SkipDir
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "vendor") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		for _, c := range catalogers {
			if c.Wants(rel, info.Size(), info.Mode()) {
				if len(jobs) >= MaxLockFiles {
					return fmt.Errorf("more than %d lock files", MaxLockFiles)
				}
				jobs = append(jobs, job{c, rel})
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("repository %s: %w", root, err)
	}
	fsys := os.DirFS(root)
	var files []LockFile
	var problems []finding.Problem
	for _, j := range jobs {
		pkgs, err := j.c.Catalog(ctx, catalog.Env{}, fsys, []string{j.path})
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, nil, err
		}
		if err != nil {
			problems = append(problems, finding.Problem{Level: finding.LevelError, File: j.path,
				Message: fmt.Sprintf("lock file not understood (%s), its dependencies were not checked: %v", j.c.Name(), err)})
			continue
		}
		lf := LockFile{Path: j.path, Cataloger: j.c.Name()}
		lines, err := readLines(fsys, j.path)
		if err != nil {
			return nil, nil, fmt.Errorf("repository %s: %s: %w", root, j.path, err)
		}
		if j.c.Name() == catalog.Requirements().Name() {
			// Only exact pins are versions; any other requirement is
			// resolved at install time and cannot be checked here.
			if lf.Unpinned, lf.Unchecked, err = unpinned(fsys, j.path); err != nil {
				return nil, nil, fmt.Errorf("repository %s: %s: %w", root, j.path, err)
			}
		}
		finder := newLineFinder(lines, pkgs)
		for _, p := range pkgs {
			lf.Dependencies = append(lf.Dependencies, Dependency{Package: p, File: j.path, Line: finder.line(p.Name, p.Version)})
		}
		files = append(files, lf)
	}
	return files, problems, nil
}

func readLines(fsys fs.FS, p string) ([]string, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxLockBytes))
	if err != nil {
		return nil, err
	}
	return strings.Split(string(bytes.ToLower(data)), "\n"), nil
}

// versionWindow is how many lines after a package's name its version may
// be written (Pipfile.lock puts a list of hashes between them).
const versionWindow = 64

// lineFinder finds packages in a lock file's lines (lower-cased): the
// first line naming a package (as a whole name, not the prefix of
// another) with its version on that line or within versionWindow lines
// after, before the next line naming it; else the first line naming it;
// else 0. The catalogers do not keep positions, and every lock format
// writes the name before or beside the version.
//
// One pass over the lines records where the tokens the packages need
// stand (the last segment of each name, the first of each version), so
// finding every package of a lock file costs its size plus the lines of
// those tokens, never lines × packages.
type lineFinder struct {
	lines []string
	at    map[string][]int // token → the lines (0-based, ascending) holding it
}

func newLineFinder(lines []string, pkgs []sbom.Package) *lineFinder {
	lf := &lineFinder{lines: lines, at: map[string][]int{}}
	want := map[string]bool{}
	for _, p := range pkgs {
		for _, n := range nameForms(strings.ToLower(p.Name)) {
			want[lastToken(n)] = true
		}
		want[firstToken(strings.ToLower(p.Version))] = true
	}
	for i, l := range lines {
		for j := 0; j < len(l); {
			if !nameByte(l[j]) {
				j++
				continue
			}
			k := j
			for k < len(l) && nameByte(l[k]) {
				k++
			}
			t := l[j:k]
			if !want[t] {
				// A repository URL's last segment ends in ".git".
				t = strings.TrimSuffix(t, ".git")
			}
			if want[t] {
				if at := lf.at[t]; len(at) == 0 || at[len(at)-1] != i {
					lf.at[t] = append(at, i)
				}
			}
			j = k
		}
	}
	return lf
}

// nameForms are the spellings of a package name in lock files: as the
// catalogers name it, and a Swift repository cloned over SSH
// ("git@github.com:vapor/vapor.git" for github.com/vapor/vapor).
func nameForms(name string) []string {
	if host, path, ok := strings.Cut(name, "/"); ok {
		return []string{name, host + ":" + path}
	}
	return []string{name}
}

func lastToken(s string) string {
	k := len(s)
	for k > 0 && !nameByte(s[k-1]) {
		k--
	}
	j := k
	for j > 0 && nameByte(s[j-1]) {
		j--
	}
	return s[j:k]
}

func firstToken(s string) string {
	j := 0
	for j < len(s) && !nameByte(s[j]) {
		j++
	}
	k := j
	for k < len(s) && nameByte(s[k]) {
		k++
	}
	return s[j:k]
}

// line returns the package's line (1-based), 0 when it is not found.
func (lf *lineFinder) line(name, version string) int {
	name, version = strings.ToLower(name), strings.ToLower(version)
	for _, n := range nameForms(name) {
		if l := lf.lineOfName(n, version); l > 0 {
			return l
		}
	}
	return 0
}

func (lf *lineFinder) lineOfName(name, version string) int {
	var named []int
	for _, i := range lf.at[lastToken(name)] {
		if hasToken(lf.lines[i], name) {
			named = append(named, i)
		}
	}
	if len(named) == 0 {
		return 0
	}
	var vlines []int
	if version != "" {
		vlines = lf.at[firstToken(version)]
	}
	for k, i := range named {
		end := i + versionWindow
		if k+1 < len(named) && named[k+1] <= end {
			end = named[k+1] - 1
		}
		v, _ := slices.BinarySearch(vlines, i)
		for ; v < len(vlines) && vlines[v] <= end; v++ {
			if hasToken(lf.lines[vlines[v]], version) {
				return i + 1
			}
		}
	}
	return named[0] + 1
}

// lineOf finds one package in lines (see lineFinder).
func lineOf(lines []string, name, version string) int {
	return newLineFinder(lines, []sbom.Package{{Name: name, Version: version}}).line(name, version)
}

// hasToken reports whether s contains tok not as part of a longer name or
// version: the bytes around it are not letters, digits, '.', '_' or '-'.
func hasToken(s, tok string) bool {
	if tok == "" {
		return false
	}
	for off := 0; ; {
		i := strings.Index(s[off:], tok)
		if i < 0 {
			return false
		}
		i += off
		end := i + len(tok)
		// A Swift package named by its repository is written with ".git".
		rest := strings.TrimPrefix(s[end:], ".git")
		if (i == 0 || !nameByte(s[i-1])) && (rest == "" || !nameByte(rest[0])) {
			return true
		}
		off = i + 1
	}
}

func nameByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-'
}

// Result is what Scan found.
type Result struct {
	Files    []LockFile
	Findings []finding.Finding
	Problems []finding.Problem
}

// Packages counts the dependencies of every file.
func (r *Result) Packages() int {
	n := 0
	for _, f := range r.Files {
		n += len(f.Dependencies)
	}
	return n
}

// Scan finds the lock files under root and matches their dependencies in
// src (nil: no database; every file's packages are then unchecked, an
// error unless opts.AllowMissingData). Findings name the lock file and the
// package's line; a development dependency says so in its message.
func Scan(ctx context.Context, root string, src vulnmatch.Source, opts vulnmatch.Options) (*Result, error) {
	files, problems, err := Find(ctx, root, catalog.LockFiles())
	if err != nil {
		return nil, err
	}
	return Match(ctx, files, problems, src, opts)
}

// Match matches the dependencies of files found by Find (with the
// problems Find met) in src, as Scan does.
func Match(ctx context.Context, files []LockFile, problems []finding.Problem, src vulnmatch.Source, opts vulnmatch.Options) (*Result, error) {
	res := &Result{Files: files, Problems: problems}
	for _, lf := range files {
		if lf.Unchecked > 0 {
			res.Problems = append(res.Problems, unpinnedProblem(lf, opts.AllowMissingData))
		}
	}
	if src == nil {
		if n := res.Packages(); n > 0 {
			level := finding.LevelError
			if opts.AllowMissingData {
				level = finding.LevelWarning
			}
			res.Problems = append(res.Problems, finding.Problem{Level: level,
				Message: fmt.Sprintf("no vulnerability database: %d dependencies of %d lock files not checked; run `palisade db update` or `palisade db import`", n, len(files))})
		}
		sortProblems(res.Problems)
		return res, nil
	}
	for _, lf := range files {
		pkgs := make([]sbom.Package, len(lf.Dependencies))
		for i, d := range lf.Dependencies {
			pkgs[i] = d.Package
		}
		m, err := vulnmatch.Match(ctx, src, pkgs, opts)
		if err != nil {
			return nil, fmt.Errorf("lock file %s: %w", lf.Path, err)
		}
		for _, f := range m.Findings {
			d := lf.find(f.Vulnerability.Package)
			f.File = lf.Path
			if d != nil {
				f.Line = d.Line
				if d.Dev {
					f.Message += " (development dependency)"
					f.Vulnerability.Package.Dev = true
				}
			}
			res.Findings = append(res.Findings, f)
		}
		for _, p := range m.Problems {
			if p.File == "" {
				p.File = lf.Path
			}
			res.Problems = append(res.Problems, p)
		}
	}
	sortProblems(res.Problems)
	return res, nil
}

func unpinned(fsys fs.FS, p string) ([]catalog.UnpinnedRequirement, int, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	return catalog.UnpinnedRequirements(f, maxUnpinned)
}

// unpinnedProblem says which requirements of a requirements file were
// not checked: an error (the scan exits 2) unless missing data is allowed.
func unpinnedProblem(lf LockFile, allowMissing bool) finding.Problem {
	level := finding.LevelError
	if allowMissing {
		level = finding.LevelWarning
	}
	names := make([]string, len(lf.Unpinned))
	for i, u := range lf.Unpinned {
		names[i] = fmt.Sprintf("%q (line %d)", u.Text, u.Line)
	}
	list := strings.Join(names, ", ")
	if more := lf.Unchecked - len(lf.Unpinned); more > 0 {
		list += fmt.Sprintf(" and %d more", more)
	}
	p := finding.Problem{Level: level, File: lf.Path,
		Message: fmt.Sprintf("%d requirement(s) not checked, not pinned to one version (name==version) or bringing in a file or source the scan does not read (-r, -c, -e): %s; pin them (pip-compile, pip freeze) or scan the lock file that does", lf.Unchecked, list)}
	if len(lf.Unpinned) > 0 {
		p.Line = lf.Unpinned[0].Line
	}
	return p
}

func sortProblems(ps []finding.Problem) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].File < ps[j].File })
}

// find returns the dependency a finding is about.
func (lf *LockFile) find(p finding.VulnerablePackage) *Dependency {
	for i := range lf.Dependencies {
		d := &lf.Dependencies[i]
		if d.Name == p.Name && d.Version == p.Version && d.Ecosystem == p.Ecosystem {
			return d
		}
	}
	return nil
}
