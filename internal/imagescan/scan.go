// Package imagescan scans a container image end to end: it opens the image
// (a registry reference, an OCI layout, a docker save archive or a root
// file system directory), streams its layers once through the SBOM
// catalogers and the secret detectors, attributes every package to the
// layer that introduced it, matches the packages against the vulnerability
// database, and returns one finding.Report together with the SBOM.
//
// Layers are never unpacked to disk: internal/image keeps only the package
// databases and os-release in memory and feeds Go binaries and text files
// to streams as they pass. See docs/image-scanning.md.
package imagescan

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/image"
	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/sbom/catalog"
	"github.com/palisade-sec/palisade/internal/vulndb"
	"github.com/palisade-sec/palisade/internal/vulnmatch"
)

// Scanners choose what a scan looks for. The zero value means both.
type Scanners struct {
	Vuln   bool
	Secret bool
}

// Scanner names accepted by ParseScanners (--scanners).
const (
	ScannerVuln   = "vuln"
	ScannerSecret = "secret"
)

// ParseScanners reads a list such as ["vuln", "secret"] or ["vuln,secret"].
func ParseScanners(names []string) (Scanners, error) {
	var s Scanners
	for _, list := range names {
		for _, n := range strings.Split(list, ",") {
			switch strings.ToLower(strings.TrimSpace(n)) {
			case ScannerVuln, "vulnerability", "vulnerabilities":
				s.Vuln = true
			case ScannerSecret, "secrets":
				s.Secret = true
			case "":
			default:
				return Scanners{}, fmt.Errorf("unknown scanner %q (valid: %s, %s)", n, ScannerVuln, ScannerSecret)
			}
		}
	}
	if !s.Vuln && !s.Secret {
		return Scanners{}, errors.New("no scanner selected (valid: vuln, secret)")
	}
	return s, nil
}

func (s Scanners) orDefault() Scanners {
	if !s.Vuln && !s.Secret {
		return Scanners{Vuln: true, Secret: true}
	}
	return s
}

// Options tune a scan. The zero value scans for vulnerabilities and
// secrets with the database of the default cache directory.
type Options struct {
	// Image chooses the platform, credentials and insecure registries.
	Image image.Options
	// Limits bound what a hostile image may make the walk do; zero fields
	// take internal/image's defaults.
	Limits image.Limits
	// Scanners choose vulnerability and/or secret scanning.
	Scanners Scanners
	// DB is the vulnerability database to match against. When nil, the
	// database of CacheDir is opened read-only for the scan (and closed
	// after it), so an update swapped in meanwhile is used by the next scan.
	DB vulnmatch.Source
	// CacheDir is the cache directory (vulndb.CacheDir resolves the
	// default); used when DB is nil.
	CacheDir string
	// MaxDBAge is the age after which the report warns that the database is
	// stale; 0 means vulndb.DefaultMaxAge, negative disables the warning.
	MaxDBAge time.Duration
	// IgnoreUnfixed drops vulnerabilities without a fixed version.
	IgnoreUnfixed bool
	// IgnoreStatus drops vulnerabilities in these fix states
	// (finding.FixStates).
	IgnoreStatus []string
	// AllowMissingData makes packages of an ecosystem the database has no
	// advisories of (or whose versions Palisade cannot compare), and files
	// or entries the catalogers could not read, warnings of the report
	// instead of errors.
	AllowMissingData bool
	// VEX statements suppress findings (they stay in the report, marked).
	VEX *vulnmatch.VEX
	// Secrets tunes the secret scan.
	Secrets image.SecretOptions
	// Catalogers replace catalog.Default().
	Catalogers *catalog.Set
	// Packages, when set, are the image's software as an SBOM the caller
	// trusts (an attested SBOM whose signature verified) says: they are
	// matched instead of cataloguing the layers, which are then read only
	// for the secret scan, and the inventory is not cached.
	Packages *SuppliedPackages
	// Cache keeps inventories by image digest across scans (admission,
	// agents); nil disables it.
	Cache InventoryCache
	// Layers keeps what each layer contributed, by layer digest, so a new
	// image sharing layers with one scanned before reads only its own
	// (LayerDiskCache); nil disables it.
	Layers image.LayerCache
	// Executables, when positive, lists the image's executable paths in
	// the inventory (image.FS.Executables), at most this many: the agent
	// publishes them for the runtime sensors' drift check.
	Executables int
	// Progress, when set, is called as the scan advances.
	Progress func(Progress)
	// Now is the clock for staleness; nil means time.Now.
	Now func() time.Time
	// ToolName and ToolVersion name the producer in the SBOM.
	ToolName, ToolVersion string
	// Program is the binary that errors and warnings telling the user to
	// create or update the database name (`palisade-scan db update`); ""
	// means vulndb.DefaultProgram.
	Program string
}

// SuppliedPackages are an image's packages from somewhere other than its
// layers.
type SuppliedPackages struct {
	OS       *sbom.OS
	Packages []sbom.Package
}

// Progress reports how far a scan is.
type Progress struct {
	// Stage is "resolving", "reading", "cataloguing" or "matching".
	Stage string
	// Layer (1-based) and Layers count layers while reading; Bytes and
	// Total are the compressed bytes of that layer read so far and its size.
	Layer, Layers int
	Bytes, Total  int64
}

// ImageInfo identifies the scanned image.
type ImageInfo struct {
	// Ref is the reference as given ("app:1", "oci:/x", "rootfs:/r").
	Ref  string     `json:"ref"`
	Kind image.Kind `json:"kind"`
	// Digest is the manifest digest of the scanned image; IndexDigest that
	// of the multi-arch index it was chosen from, if any.
	Digest      string           `json:"digest,omitempty"`
	IndexDigest string           `json:"indexDigest,omitempty"`
	Platform    string           `json:"platform,omitempty"`
	Layers      []image.LayerRef `json:"layers,omitempty"`
}

// Name is the reference with its digest ("registry/app:1@sha256:…"), the
// object name of the scan's findings.
func (i ImageInfo) Name() string {
	if i.Digest == "" || strings.Contains(i.Ref, "@"+i.Digest) {
		return i.Ref
	}
	if _, rest, ok := strings.Cut(i.Ref, "@"); ok && strings.HasPrefix(rest, "sha256:") {
		return i.Ref // pinned to another digest (an index): keep what was asked
	}
	return i.Ref + "@" + i.Digest
}

// Object is the finding object of the image.
func (i ImageInfo) Object() finding.ObjectRef {
	return finding.ObjectRef{Kind: "Image", Name: i.Name()}
}

// Inventory is what one walk of an image found: its OS, packages (each
// with the layer that introduced it), and secret findings. It depends only
// on the image content, so it can be cached by digest; callers must treat
// it as read-only.
type Inventory struct {
	Image    ImageInfo      `json:"image"`
	OS       *sbom.OS       `json:"os,omitempty"`
	Packages []sbom.Package `json:"packages"`
	// ContentSets are the Red Hat content sets (repositories) the image
	// was built from, read from its content manifests
	// (/root/buildinfo/content_manifests/*.json); Match qualifies Red Hat
	// packages by them.
	ContentSets []string `json:"contentSets,omitempty"`
	// Secrets are the secret findings (nil unless the secret scanner ran).
	Secrets []finding.Finding `json:"secrets,omitempty"`
	// Problems are files the walk or the catalogers skipped.
	Problems []finding.Problem `json:"problems,omitempty"`
	// Scanned records which scanners' inputs were collected.
	Scanned Scanners `json:"scanned"`
	// Executables are the image's executable paths, when
	// Options.Executables asked for them; nil when not collected.
	Executables *Executables `json:"executables,omitempty"`
}

// Executables lists an image's executable paths (absolute, aliases through
// directory symlinks included) or says there were more than the bound.
type Executables struct {
	Paths []string `json:"paths,omitempty"`
	// Over: more than the bound, none listed (a partial list would make
	// the image's own binaries look like drift).
	Over bool `json:"over,omitempty"`
}

// Document is the inventory as an SBOM document.
func (inv *Inventory) Document(toolName, toolVersion string) sbom.Document {
	kind := sbom.SubjectImage
	if inv.Image.Kind == image.KindRootFS {
		kind = sbom.SubjectDirectory
	}
	return sbom.Document{
		Subject:     sbom.Subject{Kind: kind, Name: inv.Image.Ref, Digest: inv.Image.Digest},
		OS:          inv.OS,
		Packages:    append([]sbom.Package(nil), inv.Packages...),
		ToolName:    toolName,
		ToolVersion: toolVersion,
	}
}

// Result is what Scan returns.
type Result struct {
	Image ImageInfo
	// Report holds the vulnerability and secret findings about the image
	// (object Image/<reference@digest>) and the problems met.
	Report *finding.Report
	// SBOM is the software found.
	SBOM sbom.Document
	// DB describes the database matched against; nil when the
	// vulnerability scanner did not run or DB was not a *vulndb.DB.
	DB *vulndb.Metadata
	// Warnings are notes for a person (a stale database); they are in
	// Report.Problems too.
	Warnings []string
	// Cached is true when the inventory came from Options.Cache.
	Cached bool
}

// Scan scans the image ref end to end. Errors (an image that cannot be
// opened or read, a hostile layer, no vulnerability database) name the
// image; problems with single files are in the report.
func Scan(ctx context.Context, ref string, opts Options) (*Result, error) {
	sc := opts.Scanners.orDefault()
	var (
		db      vulnmatch.Source
		meta    *vulndb.Metadata
		closeDB func()
	)
	if sc.Vuln {
		// Open the database first: without one there is no point in
		// downloading layers.
		var err error
		if db, meta, closeDB, err = openDB(ctx, opts); err != nil {
			return nil, fmt.Errorf("image %s: %w", ref, err)
		}
		defer closeDB()
	}
	inv, cached, err := inventory(ctx, ref, opts, sc)
	if err != nil {
		return nil, err
	}
	obj := inv.Image.Object()
	res := &Result{Image: inv.Image, DB: meta, Cached: cached, SBOM: inv.Document(opts.ToolName, opts.ToolVersion)}
	var findings []finding.Finding
	problems := append([]finding.Problem(nil), inv.Problems...)
	if opts.AllowMissingData || !sc.Vuln {
		// Software that was not catalogued is unchecked, which missing
		// data accepts and a secret scan alone does not care about.
		for i := range problems {
			if problems[i].Level == finding.LevelError {
				problems[i].Level = finding.LevelWarning
			}
		}
	}
	if sc.Vuln {
		report(opts, Progress{Stage: "matching"})
		m, err := Match(ctx, inv, db, opts)
		if err != nil {
			return nil, err
		}
		findings = append(findings, m.Findings...)
		problems = append(problems, m.Problems...)
		if meta != nil {
			now := time.Now
			if opts.Now != nil {
				now = opts.Now
			}
			maxAge := opts.MaxDBAge
			if maxAge == 0 {
				maxAge = vulndb.DefaultMaxAge
			}
			if w := meta.StaleWarning(now(), maxAge, opts.Program); w != "" {
				res.Warnings = append(res.Warnings, w)
				problems = append(problems, finding.Problem{Level: finding.LevelWarning, Message: w})
			}
		}
	}
	var rules []finding.RuleInfo
	if sc.Secret {
		used := map[string]bool{}
		for _, f := range inv.Secrets {
			f.Object = obj
			findings = append(findings, f)
			used[f.RuleID] = true
		}
		for _, r := range image.SecretRules() {
			if used[r.ID] {
				rules = append(rules, r)
			}
		}
	}
	res.Report = finding.NewReport(findings, problems, 1, rules)
	return res, nil
}

// Match matches an inventory's packages against db, as Scan does after
// the walk (opts.IgnoreUnfixed and opts.VEX apply; findings name the
// inventory's image). Callers that keep inventories, such as the agent's
// on-disk cache, call it again when the database changes, without reading
// the image again.
func Match(ctx context.Context, inv *Inventory, db vulnmatch.Source, opts Options) (*vulnmatch.Result, error) {
	m, err := vulnmatch.Match(ctx, db, inv.Packages, vulnmatch.Options{
		IgnoreUnfixed:    opts.IgnoreUnfixed,
		IgnoreStatus:     opts.IgnoreStatus,
		VEX:              opts.VEX,
		Object:           inv.Image.Object(),
		Products:         products(inv.Image),
		ContentSets:      inv.ContentSets,
		AllowMissingData: opts.AllowMissingData,
		Program:          opts.Program,
	})
	if err != nil {
		return nil, fmt.Errorf("image %s: matching vulnerabilities: %w", inv.Image.Name(), err)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if f, ok := vulnmatch.EndOfLife(inv.OS, now(), inv.Image.Object()); ok {
		m.Findings = append(m.Findings, f)
	}
	if p, ok := vulnmatch.EndOfLifeUnknown(inv.OS); ok {
		m.Problems = append(m.Problems, p)
	}
	return m, nil
}

// Catalog walks the image once for its SBOM (and, with Scanners.Secret,
// its secrets) without matching vulnerabilities: no database is needed.
func Catalog(ctx context.Context, ref string, opts Options) (*Inventory, error) {
	sc := opts.Scanners
	sc.Vuln = true // packages are always catalogued
	inv, _, err := inventory(ctx, ref, opts, sc)
	return inv, err
}

// openDB returns the database to match against and a function that
// releases it.
func openDB(ctx context.Context, opts Options) (vulnmatch.Source, *vulndb.Metadata, func(), error) {
	if opts.DB != nil {
		var meta *vulndb.Metadata
		if d, ok := opts.DB.(*vulndb.DB); ok {
			m := d.Metadata()
			meta = &m
		}
		return opts.DB, meta, func() {}, nil
	}
	dir := opts.CacheDir
	if dir == "" {
		var err error
		if dir, err = vulndb.CacheDir("", func(string) string { return "" }); err != nil {
			return nil, nil, nil, err
		}
	}
	c := vulndb.Cache{Dir: dir, Program: opts.Program}
	db, err := c.Open(ctx)
	if errors.Is(err, vulndb.ErrNoDatabase) {
		return nil, nil, nil, fmt.Errorf("no vulnerability database in %s: run `%s db update` or `%[2]s db import` (for air-gapped hosts, import a bundle made by `%[2]s db export`)", dir, vulndb.ProgramName(opts.Program))
	}
	if err != nil {
		return nil, nil, nil, err
	}
	m := db.Metadata()
	return db, &m, func() { db.Close() }, nil
}

// products are the names VEX documents may give the scanned image.
func products(img ImageInfo) []string {
	out := []string{img.Ref, img.Name()}
	if img.Digest == "" {
		return out
	}
	out = append(out, img.Digest)
	kind, rest := image.ParseRef(img.Ref)
	repo := rest
	if kind == image.KindRegistry {
		if i := strings.IndexAny(repo, "@"); i >= 0 {
			repo = repo[:i]
		}
		if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
			repo = repo[:i]
		}
	}
	name := strings.TrimSuffix(repo, "/")
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	if name == "" {
		return out
	}
	var q []sbom.Qualifier
	if kind == image.KindRegistry {
		q = append(q, sbom.Qualifier{Key: "repository_url", Value: repo})
	}
	for _, d := range []string{img.Digest, img.IndexDigest} {
		if d == "" {
			continue
		}
		if d != img.Digest {
			out = append(out, d)
		}
		// purl-spec's OCI examples percent-encode the digest's colon;
		// sbom.PURL leaves it as it is. VEX authors write either.
		purl := sbom.PURL("oci", "", strings.ToLower(name), d, q...)
		out = append(out, purl, strings.Replace(purl, "@sha256:", "@sha256%3A", 1))
	}
	return out
}

func report(opts Options, p Progress) {
	if opts.Progress != nil {
		opts.Progress(p)
	}
}

// sortProblems orders problems by file then message, for stable reports.
func sortProblems(ps []finding.Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		return ps[i].Message < ps[j].Message
	})
}
