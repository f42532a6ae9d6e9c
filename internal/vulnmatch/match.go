// Package vulnmatch matches installed packages against OSV records: which
// advisories affect which package, the first fixed version, and the
// severity.
//
// Matching follows the OSV schema's evaluation of affected versions
// (https://ossf.github.io/osv-schema/#evaluation): a version is affected if
// it is listed in `versions`, or if an ECOSYSTEM or SEMVER range's events,
// sorted by the ecosystem's version order, leave it inside an introduced /
// fixed (or last_affected) interval and below every limit. GIT ranges name
// commits, which an installed package does not carry; their records list
// the affected versions in `versions`, which is matched.
//
// Distributions publish advisories against source packages: Debian and
// Ubuntu packages are matched by their source package name and version,
// Alpine packages by their origin. Go modules match by module path, and the
// Go standard library as the package "stdlib" at the toolchain's version.
package vulnmatch

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/version"
	"github.com/palisade-sec/palisade/internal/version/semver"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// Source returns the records that name a package; *vulndb.DB is one.
type Source interface {
	Lookup(ecosystem, name string) ([]*vulndb.Record, error)
}

// Coverage is implemented by sources that know which ecosystems they hold
// records of (*vulndb.DB does). Match reports the packages of an
// ecosystem the source has no record of as not checked, rather than
// finding nothing in it: a database that only has Debian's advisories
// says nothing about an Alpine image.
type Coverage interface {
	HasEcosystem(ecosystem string) bool
}

// ReleaseCoverage is implemented by sources that know which releases of a
// distribution they hold records of (*vulndb.DB does, for Debian, Ubuntu
// and Alpine). Match reports a package of a release none of them applies
// to (Debian 13 against a database of Debian 11 and 12) as not checked:
// no record could ever match it, which says nothing about its safety.
type ReleaseCoverage interface {
	// Releases returns the release-qualified ecosystems of ecosystem's
	// base ("Debian:12"); nil when the source does not know them.
	Releases(ecosystem string) []string
}

// Options tune Match.
type Options struct {
	// IgnoreUnfixed drops vulnerabilities that have no fixed version yet.
	IgnoreUnfixed bool
	// IgnoreStatus drops vulnerabilities in these fix states
	// (finding.FixStates: "affected", "will_not_fix", "fix_deferred",
	// "end_of_life", "fixed").
	IgnoreStatus []string
	// VEX statements suppress the findings they declare not_affected or
	// fixed; the findings stay in the result, marked suppressed.
	VEX *VEX
	// Object is the object the findings are about (the image); when its
	// Kind is empty, findings name the package instead.
	Object finding.ObjectRef
	// Products are the identifiers VEX statements may name the scanned
	// artifact by (its pkg:oci PURL, its reference, its digest).
	Products []string
	// ContentSets are the Red Hat content sets (repositories) the image's
	// rpms come from, from its content manifests. With the source's
	// repository-to-CPE mapping they qualify Red Hat packages by the
	// product streams the image actually uses, instead of its release.
	ContentSets []string
	// AllowMissingData makes packages that could not be checked (their
	// ecosystem has no advisories in the source, or no version order in
	// Palisade) warnings instead of errors.
	AllowMissingData bool
	// Program is the binary that problems telling the user to update the
	// database name (`palisade-scan db update`); "" means
	// vulndb.DefaultProgram.
	Program string
}

// Result is what Match found.
type Result struct {
	Findings []finding.Finding
	// Problems are packages that could not be matched: an ecosystem without
	// advisories in the source or without a version order (errors, unless
	// Options.AllowMissingData), a version the ecosystem cannot parse.
	Problems []finding.Problem
	// Unchecked are the ecosystems whose packages were not checked at all,
	// in the order first met; each is one of Problems too.
	Unchecked []Unchecked
}

// Unchecked is an ecosystem whose packages were not checked.
type Unchecked struct {
	// Ecosystem is as the packages name it ("Alpine:v3.20").
	Ecosystem string
	// Packages counts them.
	Packages int
	// NoVersionOrder is true when Palisade cannot compare the ecosystem's
	// versions; otherwise the source has no advisories of it.
	NoVersionOrder bool
	// NoCPE is true for packages of an ecosystem advised on only by NVD's
	// CPE configurations (ConanCenter) whose names have no CPE product
	// mapped to them (vulndb.CPEMapped): nothing was looked up for them.
	NoCPE bool
}

// NoFix is the text findings show for a vulnerability without a fix.
const NoFix = "no fix yet"

// Match finds the vulnerabilities of pkgs in src.
func Match(ctx context.Context, src Source, pkgs []sbom.Package, opts Options) (*Result, error) {
	res := &Result{Findings: []finding.Finding{}}
	unchecked := map[string]int{} // index in res.Unchecked
	skip := func(p *sbom.Package, noOrder, noCPE bool) {
		key := fmt.Sprint(p.Ecosystem, noOrder, noCPE)
		i, ok := unchecked[key]
		if !ok {
			i = len(res.Unchecked)
			unchecked[key] = i
			res.Unchecked = append(res.Unchecked, Unchecked{Ecosystem: p.Ecosystem, NoVersionOrder: noOrder, NoCPE: noCPE})
		}
		res.Unchecked[i].Packages++
	}
	coverage, _ := src.(Coverage)
	releases, _ := src.(ReleaseCoverage)
	enrich, _ := src.(CVESource)
	streams, problems, err := redHatStreams(src, pkgs, opts)
	if err != nil {
		return nil, err
	}
	res.Problems = append(res.Problems, problems...)
	for i := range pkgs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := &pkgs[i]
		q := queryOf(p)
		if isRedHat(p.Ecosystem) {
			q.streams = streams
		}
		if q.unknownVersion != "" {
			level := finding.LevelError
			if opts.AllowMissingData {
				level = finding.LevelWarning
			}
			res.Problems = append(res.Problems, finding.Problem{Level: level, File: firstLocation(p),
				Message: fmt.Sprintf("package %s: %s; not matched against vulnerabilities", p.Name, q.unknownVersion)})
			continue
		}
		if q.version == "" || q.name == "" {
			continue
		}
		cmp, err := version.For(p.Ecosystem)
		if err != nil {
			skip(p, true, false)
			continue
		}
		if coverage != nil && !coverage.HasEcosystem(p.Ecosystem) {
			skip(p, false, false)
			continue
		}
		if releases != nil && !releaseCovered(releases, q.ecosystem) {
			skip(p, false, false)
			continue
		}
		if _, err := cmp.Compare(q.version, q.version); err != nil {
			res.Problems = append(res.Problems, finding.Problem{Level: finding.LevelWarning, File: firstLocation(p),
				Message: fmt.Sprintf("package %s: not matched against vulnerabilities: %v", p.Name, err)})
			continue
		}
		var matches []match
		mapped, cpeOnly := vulndb.CPEMapped(p.Ecosystem, q.name)
		for _, lq := range lookups(p, q) {
			recs, err := src.Lookup(p.Ecosystem, lq.name)
			if err != nil {
				return nil, err
			}
			if cpeOnly && !mapped && len(recs) == 0 {
				skip(p, false, true)
				continue
			}
			for _, rec := range recs {
				m, ok, err := matchRecord(rec, p, lq, cmp)
				if err != nil {
					res.Problems = append(res.Problems, finding.Problem{Level: finding.LevelWarning, File: firstLocation(p),
						Message: fmt.Sprintf("package %s %s: advisory %s: %v", p.Name, p.Version, rec.ID, err)})
				}
				if ok {
					matches = append(matches, m)
				}
			}
		}
		for _, m := range dedupe(matches) {
			if opts.IgnoreUnfixed && m.fixed == "" {
				continue
			}
			var infos []*vulndb.CVEInfo
			if enrich != nil {
				for _, id := range cvesOf(m) {
					info, err := enrich.CVE(id)
					if err != nil {
						return nil, err
					}
					if info != nil {
						infos = append(infos, info)
					}
				}
			}
			if vendorNotAffected(p, q, infos) {
				continue
			}
			f := findingOf(p, q, m, opts.Object, infos)
			if slices.Contains(opts.IgnoreStatus, f.Vulnerability.FixState) {
				continue
			}
			if opts.VEX != nil {
				opts.VEX.apply(&f, p, opts.Products)
			}
			res.Findings = append(res.Findings, f)
		}
	}
	for _, u := range res.Unchecked {
		res.Problems = append(res.Problems, u.problem(opts))
	}
	return res, nil
}

// problem says that an ecosystem's packages were not checked: an error,
// since "no findings" would be false, unless missing data is accepted.
func (u Unchecked) problem(opts Options) finding.Problem {
	level := finding.LevelError
	if opts.AllowMissingData {
		level = finding.LevelWarning
	}
	subject := ""
	if opts.Object.Name != "" {
		subject = opts.Object.Kind + " " + opts.Object.Name + ": "
	}
	pkgs := "1 package"
	if u.Packages != 1 {
		pkgs = fmt.Sprintf("%d packages", u.Packages)
	}
	prog := vulndb.ProgramName(opts.Program)
	msg := fmt.Sprintf("%sno vulnerability data for ecosystem %s (%s not checked); run `%s db update` or `%[4]s db import` with advisories of %s",
		subject, u.Ecosystem, pkgs, prog, vulndb.BaseEcosystem(u.Ecosystem))
	if _, cpeOnly := vulndb.CPEMapped(u.Ecosystem, ""); cpeOnly {
		msg = fmt.Sprintf("%sno vulnerability data for ecosystem %s (%s not checked): its advisories come from NVD's CPE configurations; import NVD's feeds (`%s db update --source nvd-YYYY … --source nvd-modified`)",
			subject, u.Ecosystem, pkgs, prog)
	}
	switch {
	case u.NoVersionOrder:
		msg = fmt.Sprintf("%secosystem %s is not supported: Palisade cannot compare its versions (%s not checked)", subject, u.Ecosystem, pkgs)
	case u.NoCPE:
		msg = fmt.Sprintf("%s%s of ecosystem %s not checked: no CPE product is known for their names, and only NVD's CPE configurations advise on %s",
			subject, pkgs, u.Ecosystem, vulndb.BaseEcosystem(u.Ecosystem))
	}
	return finding.Problem{Level: level, Message: msg}
}

// query is what a package is looked up and compared as.
type query struct {
	name, version string
	// ecosystem is the package's, qualified with the release where the
	// package itself does not say it but its purl or version does (Red
	// Hat's "el9").
	ecosystem string
	// bySource is true when name/version are the source package's.
	bySource bool
	// unknownVersion says why a package with a version cannot be
	// matched at all (a development Go toolchain).
	unknownVersion string
	// sourceOnly restricts a lookup by the source package's name to
	// affected entries that name source packages (Red Hat's VEX).
	sourceOnly bool
	// streams are the Red Hat product streams of the image's content
	// sets ("enterprise_linux:8::baseos", "rhel_eus:8.6::appstream");
	// when set they, not the release, decide which records apply.
	streams []string
}

// lookups are the names a package's records are looked up by: its own
// (or its source package's, for distributions that publish by source),
// and for Red Hat and Fedora rpms also the source rpm's, under which Red
// Hat's VEX names components that have no fix and Bodhi names the
// builds of an update.
func lookups(p *sbom.Package, q query) []query {
	out := []query{q}
	base := strings.ToLower(vulndb.BaseEcosystem(p.Ecosystem))
	if (base == "red hat" || base == "fedora") && p.SourceName != "" && p.SourceName != q.name {
		sq := q
		sq.name, sq.sourceOnly = p.SourceName, true
		out = append(out, sq)
	}
	return out
}

func queryOf(p *sbom.Package) query {
	q := query{name: p.Name, version: p.Version, ecosystem: p.Ecosystem}
	switch strings.ToLower(vulndb.BaseEcosystem(p.Ecosystem)) {
	case "red hat":
		if release(p.Ecosystem) == "" {
			if r := redHatRelease(p); r != "" {
				q.ecosystem = p.Ecosystem + ":" + r
			}
		}
	case "suse", "opensuse":
		if release(p.Ecosystem) == "" {
			if r := suseRelease(p); r != "" {
				q.ecosystem = p.Ecosystem + ":" + r
			}
		}
	case "debian", "ubuntu", "alpine", "wolfi", "chainguard":
		if p.SourceName != "" {
			q.name, q.bySource = p.SourceName, p.SourceName != p.Name
		}
		if p.SourceVersion != "" {
			q.version = p.SourceVersion
		}
	case "go":
		switch {
		case p.Version == "(devel)":
			q.version = ""
		case p.Name == "stdlib" || p.Name == "toolchain":
			v, ok := goRelease(p.Version)
			if !ok {
				q.unknownVersion = fmt.Sprintf("development Go toolchain %q has no release version", p.Version)
			}
			q.version = v
		}
	}
	return q
}

// goRelease returns the release a Go toolchain version builds on, in the
// form of the Go vulnerability database's stdlib and toolchain ranges:
// "go1.26.8-X:jsonv2" (a GOEXPERIMENT build), "go1.21.0 X:boringcrypto"
// and "1.26.8" are 1.26.8, "go1.26rc1" stays a release candidate (which
// the Go version order reads as 1.26.0-rc.1). A development toolchain
// ("devel go1.27-4c2e7d1a ...") is no release: ok is false.
func goRelease(v string) (string, bool) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "devel") {
		return "", false
	}
	if f := strings.Fields(v); len(f) > 0 {
		v = f[0]
	}
	v = strings.TrimPrefix(v, "go")
	// Suffixes after the release: "-X:exp1,exp2" (experiments), "+auto"
	// and similar build annotations.
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		v = v[:i]
	}
	return v, v != ""
}

// match is one record found to affect a package.
type match struct {
	rec   *vulndb.Record
	aff   *vulndb.Affected
	fixed string
	// aliases are the record's aliases and the IDs of duplicates merged in.
	aliases []string
}

// matchRecord evaluates every affected entry of rec that names the package;
// the record matches if any does. The fix reported is the lowest fixed
// version above the installed one among the matching entries.
func matchRecord(rec *vulndb.Record, p *sbom.Package, q query, cmp version.Comparer) (match, bool, error) {
	m := match{rec: rec}
	found := false
	var firstErr error
	for i := range rec.Affected {
		a := &rec.Affected[i]
		if !q.names(a.Package) || !onPlatform(a, p.Platform) || (q.sourceOnly && !a.SourcePackage()) {
			continue
		}
		affected, fixed, err := evaluate(a, p.Ecosystem, q.version, cmp)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if !affected {
			continue
		}
		switch {
		case !found:
			m.aff, m.fixed = a, fixed
		case fixed != "" && (m.fixed == "" || less(cmp, fixed, m.fixed)):
			m.fixed = fixed
		}
		found = true
	}
	return m, found, firstErr
}

// onPlatform reports whether a Go affected entry applies to a binary built
// for platform ("linux/amd64"), as govulncheck decides it: an entry
// without ecosystem_specific.imports, or with one import whose goos and
// goarch lists (empty: every platform) include the binary's, applies. An
// unknown platform, or imports that cannot be read, apply too: a record
// is only ever dropped on evidence.
func onPlatform(a *vulndb.Affected, platform string) bool {
	goos, goarch, ok := strings.Cut(platform, "/")
	if !ok || len(a.EcosystemSpecific) == 0 || !strings.EqualFold(vulndb.BaseEcosystem(a.Package.Ecosystem), "Go") {
		return true
	}
	var es struct {
		Imports []struct {
			GOOS   []string `json:"goos"`
			GOARCH []string `json:"goarch"`
		} `json:"imports"`
	}
	if json.Unmarshal(a.EcosystemSpecific, &es) != nil || len(es.Imports) == 0 {
		return true
	}
	for _, imp := range es.Imports {
		if (len(imp.GOOS) == 0 || slices.Contains(imp.GOOS, goos)) && (len(imp.GOARCH) == 0 || slices.Contains(imp.GOARCH, goarch)) {
			return true
		}
	}
	return false
}

func less(cmp version.Comparer, a, b string) bool {
	c, err := cmp.Compare(a, b)
	return err == nil && c < 0
}

// names reports whether an affected entry names the package q looks
// up: same base ecosystem, a compatible release, the same normalised
// name.
func (q query) names(ap vulndb.Package) bool {
	if !strings.EqualFold(vulndb.BaseEcosystem(ap.Ecosystem), vulndb.BaseEcosystem(q.ecosystem)) {
		return false
	}
	if vulndb.NormalizeName(ap.Ecosystem, ap.Name) != vulndb.NormalizeName(q.ecosystem, q.name) {
		return false
	}
	return q.releaseOK(ap.Ecosystem)
}

// releaseOK reports whether what a source says of a release (the
// release part of recordEcosystem) applies to the package q looks up:
// by the image's Red Hat streams where it has them, else by the
// distribution's way of naming releases.
func (q query) releaseOK(recordEcosystem string) bool {
	if len(q.streams) > 0 {
		return inRedHatStreams(release(recordEcosystem), q.streams)
	}
	return releaseApplies(q.ecosystem, release(recordEcosystem), release(q.ecosystem))
}

// releaseCovered reports whether src holds records of the release of a
// package of ecosystem, or cannot say: true when the package names no
// release (matched against every release) or src lists none of its base.
func releaseCovered(src ReleaseCoverage, ecosystem string) bool {
	pkg := release(ecosystem)
	if pkg == "" {
		return true
	}
	known := src.Releases(ecosystem)
	if len(known) == 0 {
		return true
	}
	return slices.ContainsFunc(known, func(r string) bool { return releaseApplies(ecosystem, release(r), pkg) })
}

// releaseApplies reports whether what a source says of release record
// (an advisory's or a fix state's) applies to a package of release pkg,
// by the distribution's own way of naming releases.
func releaseApplies(ecosystem, record, pkg string) bool {
	switch strings.ToLower(vulndb.BaseEcosystem(ecosystem)) {
	case "red hat":
		return sameRedHatStream(record, pkg)
	case "suse", "opensuse":
		return sameSUSEProduct(record, pkg)
	}
	return sameRelease(record, pkg)
}

// redHatRelease returns the major release of a Red Hat family rpm ("9"):
// from the purl's distro qualifier ("rhel-9.4", "centos-9"), else from
// the ".elN" of the rpm release ("3.11.5-1.el9_3"), else "".
func redHatRelease(p *sbom.Package) string {
	if _, qs, ok := strings.Cut(p.PURL, "?"); ok {
		for _, kv := range strings.Split(qs, "&") {
			if v, ok := strings.CutPrefix(kv, "distro="); ok {
				if i := strings.LastIndexByte(v, '-'); i >= 0 {
					if m := leadingDigits(v[i+1:]); m != "" {
						return m
					}
				}
			}
		}
	}
	_, rel, ok := strings.Cut(p.Version, "-")
	if !ok {
		return ""
	}
	for _, part := range strings.Split(rel, ".") {
		if n, ok := strings.CutPrefix(part, "el"); ok {
			if m := leadingDigits(n); m != "" {
				return m
			}
		}
	}
	return ""
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// sameRedHatStream reports whether an OSV Red Hat record's stream applies
// to a package of major release pkg. Red Hat qualifies its records by CPE
// product and version ("enterprise_linux:9::appstream",
// "rhel_eus:9.2::baseos"); an image records neither its repositories nor
// its subscription, so a package is matched against the standard stream
// of its major release only: the extended-support streams (EUS, AUS,
// E4S, TUS) publish fixes that a standard image does not receive, and
// another major release's fixed versions say nothing about this one's. A
// package of unknown release is matched against every stream.
func sameRedHatStream(record, pkg string) bool {
	rec, pk := releaseTokens(record), releaseTokens(pkg)
	if len(rec) == 0 || len(pk) == 0 {
		return true
	}
	if len(rec) < 2 || rec[0] != "enterprise_linux" {
		return false
	}
	major, _, _ := strings.Cut(rec[1], ".")
	return major == pk[0]
}

func release(ecosystem string) string {
	_, r, _ := strings.Cut(ecosystem, ":")
	return strings.TrimSpace(r)
}

// sameRelease compares the release parts of two ecosystem names. A record
// without a release applies to every release; a package without one (its
// OS release is unknown) is matched against every release's records.
// Releases are compared as tokens, because OSV spells them with extra
// fields: "Ubuntu:22.04:LTS", "Ubuntu:Pro:18.04:LTS", "Alpine:v3.20",
// "Red Hat:enterprise_linux:9::appstream".
func sameRelease(record, pkg string) bool {
	rec, pk := releaseTokens(record), releaseTokens(pkg)
	if len(rec) == 0 || len(pk) == 0 {
		return true
	}
	// Ubuntu Pro (ESM) fixes apply only to hosts that use Pro.
	if slices.Contains(rec, "pro") && !slices.Contains(pk, "pro") {
		return false
	}
	for _, t := range pk {
		if !slices.ContainsFunc(rec, func(r string) bool { return r == t || strings.HasPrefix(t, r+".") }) {
			return false
		}
	}
	return true
}

// releaseTokens splits a release into lower-case tokens without "v"
// prefixes, dropping empty ones and "LTS".
func releaseTokens(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ":") {
		t = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(t)), "v")
		if t != "" && t != "lts" {
			out = append(out, t)
		}
	}
	return out
}

// evaluate decides whether version v is affected by entry a, and if so the
// fixed version (or "").
func evaluate(a *vulndb.Affected, ecosystem, v string, cmp version.Comparer) (bool, string, error) {
	affected := false
	var firstErr error
	for _, listed := range a.Versions {
		if listed == v {
			affected = true
			break
		}
		if c, err := cmp.Compare(listed, v); err == nil && c == 0 {
			affected = true
			break
		}
	}
	fixed := ""
	for _, r := range a.Ranges {
		var rc version.Comparer
		switch r.Type {
		case vulndb.RangeEcosystem:
			rc = cmp
		case vulndb.RangeSemver:
			rc = semverComparer(ecosystem, cmp)
		default:
			continue
		}
		in, fix, err := inRange(rc, v, r.Events)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if in && r.IntroducedExcluded() && atIntroduced(rc, v, r.Events) {
			// NVD's versionStartExcluding: the start itself is not affected.
			in = false
		}
		if in {
			if !affected || fixed == "" || (fix != "" && less(rc, fix, fixed)) {
				fixed = fix
			}
			affected = true
		}
	}
	return affected, fixed, firstErr
}

// atIntroduced reports whether v is one of the range's introduced
// versions (other than "0").
func atIntroduced(cmp version.Comparer, v string, events []vulndb.Event) bool {
	for _, e := range events {
		if e.Introduced == "" || e.Introduced == "0" {
			continue
		}
		if c, err := cmp.Compare(v, e.Introduced); e.Introduced == v || (err == nil && c == 0) {
			return true
		}
	}
	return false
}

// semverComparer orders SEMVER ranges: the ecosystem's own order where it is
// SemVer already (Go accepts "v" prefixes and toolchain versions), else
// SemVer 2.0 read leniently.
func semverComparer(ecosystem string, eco version.Comparer) version.Comparer {
	switch strings.ToLower(vulndb.BaseEcosystem(ecosystem)) {
	case "go", "npm", "crates.io":
		return eco
	}
	return version.Func(func(a, b string) (int, error) {
		if a == "0" || b == "0" {
			switch {
			case a == b:
				return 0, nil
			case a == "0":
				return -1, nil
			default:
				return 1, nil
			}
		}
		return semver.CompareLoose(a, b)
	})
}

// inRange evaluates one range's events for version v, following the OSV
// schema's algorithm: sort the events by version ("introduced": "0" first),
// and let the last event at or below v decide; last_affected counts
// strictly below. The fix is the first fixed event above v.
func inRange(cmp version.Comparer, v string, events []vulndb.Event) (bool, string, error) {
	type ev struct {
		kind, ver string
	}
	var evs, limits []ev
	var badVersion error
	for _, e := range events {
		var x ev
		switch {
		case e.Introduced != "":
			x = ev{"introduced", e.Introduced}
		case e.Fixed != "":
			x = ev{"fixed", e.Fixed}
		case e.LastAffected != "":
			x = ev{"last_affected", e.LastAffected}
		case e.Limit != "":
			limits = append(limits, ev{"limit", e.Limit})
			continue
		}
		if x.ver == "0" && x.kind == "introduced" {
			evs = append(evs, x)
			continue
		}
		if _, err := cmp.Compare(x.ver, x.ver); err != nil {
			// An event we cannot order is dropped; the rest still count.
			if badVersion == nil {
				badVersion = fmt.Errorf("range event %s %q: %w", x.kind, x.ver, err)
			}
			continue
		}
		evs = append(evs, x)
	}
	if _, err := cmp.Compare(v, v); err != nil {
		return false, "", fmt.Errorf("installed version %q: %w", v, err)
	}
	compare := func(a, b string) int {
		if a == b {
			return 0
		}
		c, _ := cmp.Compare(a, b)
		return c
	}
	sort.SliceStable(evs, func(i, j int) bool {
		a, b := evs[i], evs[j]
		if a.kind == "introduced" && a.ver == "0" {
			return !(b.kind == "introduced" && b.ver == "0")
		}
		if b.kind == "introduced" && b.ver == "0" {
			return false
		}
		return compare(a.ver, b.ver) < 0
	})
	affected := false
	next := -1
	for i, e := range evs {
		if e.kind == "introduced" && e.ver == "0" {
			affected = true
			continue
		}
		c := compare(v, e.ver)
		if c < 0 || (c == 0 && e.kind == "last_affected") {
			if c < 0 {
				next = i
				break
			}
			continue
		}
		switch e.kind {
		case "introduced":
			affected = true
		case "fixed", "last_affected":
			affected = false
		}
	}
	if affected && len(limits) > 0 {
		below := false
		for _, l := range limits {
			if l.ver == "*" || compare(v, l.ver) < 0 {
				below = true
			}
		}
		affected = below
	}
	if !affected {
		return false, "", badVersion
	}
	fixed := ""
	if next >= 0 {
		for _, e := range evs[next:] {
			if e.kind == "fixed" {
				fixed = e.ver
				break
			}
			if e.kind != "introduced" {
				break
			}
		}
	}
	return true, fixed, badVersion
}

// dedupe drops records that describe a vulnerability already reported for
// the package under another ID (a GO- record and its GHSA- alias, a DSA and
// its CVE), keeping the one with a CVSS vector and merging the IDs into
// its aliases.
func dedupe(ms []match) []match {
	sort.SliceStable(ms, func(i, j int) bool {
		ai, aj := hasVector(ms[i].rec), hasVector(ms[j].rec)
		if ai != aj {
			return ai
		}
		return ms[i].rec.ID < ms[j].rec.ID
	})
	var out []match
	owner := map[string]int{}
	for _, m := range ms {
		ids := append([]string{m.rec.ID}, m.rec.Aliases...)
		ids = append(ids, m.rec.Upstream...)
		dup := -1
		for _, id := range ids {
			if k, ok := owner[id]; ok {
				dup = k
				break
			}
		}
		if dup >= 0 {
			for _, id := range ids {
				owner[id] = dup
			}
			if out[dup].fixed == "" {
				out[dup].fixed = m.fixed
			}
			continue
		}
		for _, id := range ids {
			owner[id] = len(out)
		}
		out = append(out, m)
	}
	// Collect the merged IDs as aliases of the record kept.
	merged := make([][]string, len(out))
	for id, k := range owner {
		if id != out[k].rec.ID {
			merged[k] = append(merged[k], id)
		}
	}
	for k := range out {
		sort.Strings(merged[k])
		out[k].aliases = merged[k]
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].rec.ID < out[j].rec.ID })
	return out
}

func hasVector(r *vulndb.Record) bool {
	for _, s := range r.Severity {
		if strings.HasPrefix(s.Type, "CVSS_") {
			return true
		}
	}
	for _, a := range r.Affected {
		for _, s := range a.Severity {
			if strings.HasPrefix(s.Type, "CVSS_") {
				return true
			}
		}
	}
	return false
}

func firstLocation(p *sbom.Package) string {
	if len(p.Locations) > 0 {
		return p.Locations[0]
	}
	return ""
}

// findingOf renders a match as a finding.
func findingOf(p *sbom.Package, q query, m match, obj finding.ObjectRef, infos []*vulndb.CVEInfo) finding.Finding {
	rec := m.rec
	r := rate(m, q, infos)
	sev := r.severity
	v := &finding.Vulnerability{
		ID:             rec.ID,
		Aliases:        m.aliases,
		Package:        finding.VulnerablePackage{Name: p.Name, Ecosystem: p.Ecosystem, Version: p.Version, PURL: p.PURL},
		Installed:      q.version,
		Fixed:          m.fixed,
		CVSS:           r.scores,
		SeveritySource: r.source,
		KEV:            r.kev,
		EPSS:           r.epss,
		Layer:          p.LayerDigest,
		Links:          links(rec),
	}
	v.FixState, v.FixStateReason = fixState(m, q, infos)
	v.Reachable, v.Symbols = reachability(rec, p, q)
	if q.bySource {
		v.Package.SourceName = q.name
	}
	if obj.Kind == "" {
		obj = finding.ObjectRef{Kind: "Package", Name: p.Name}
	}
	title := rec.Summary
	if title == "" {
		title = rec.ID + " in " + q.name
	}
	pkgText := p.Name + " " + p.Version
	if q.bySource {
		pkgText += fmt.Sprintf(" (source %s %s)", q.name, q.version)
	}
	fixText, remediation := NoFix, fmt.Sprintf("No fixed version of %s is available yet; consider mitigations or removing the package.", q.name)
	switch {
	case m.fixed != "":
		fixText = "fixed in " + m.fixed
		remediation = fmt.Sprintf("Upgrade %s to %s or later.", q.name, m.fixed)
	case v.FixState == finding.FixStateWillNotFix:
		fixText = "the distribution will not fix it"
		remediation = fmt.Sprintf("The distribution will not fix %s in this release; mitigate, or replace the package or the base image.", q.name)
	case v.FixState == finding.FixStateDeferred:
		fixText = "the distribution has deferred the fix"
	case v.FixState == finding.FixStateEndOfLife:
		fixText = "the release is past its end of life, no fix will come"
		remediation = "Move to a supported release of the distribution."
	}
	if v.FixStateReason != "" {
		fixText += " (" + v.FixStateReason + ")"
	}
	msg := fmt.Sprintf("%s is affected by %s; %s", pkgText, rec.ID, fixText)
	if len(m.aliases) > 0 {
		msg += fmt.Sprintf(" (aliases: %s)", strings.Join(m.aliases, ", "))
	}
	msg += "; " + r.note()
	if len(v.Links) > 0 {
		msg += "\n" + v.Links[0]
	}
	switch v.Reachable {
	case finding.ReachableTrue:
		msg += "; the binary links the vulnerable " + strings.Join(v.Symbols, ", ")
	case finding.ReachableFalse:
		msg += "; the binary links none of the vulnerable symbols"
	}
	f := finding.Finding{
		RuleID:        rec.ID,
		Severity:      sev,
		Title:         strings.TrimSpace(title),
		Message:       msg,
		Object:        obj,
		File:          firstLocation(p),
		Remediation:   remediation,
		Vulnerability: v,
	}
	v.Priority = finding.PriorityOf(f)
	return f
}

// links returns the record's links, with a canonical page for its ID first
// where one is known.
func links(rec *vulndb.Record) []string {
	out := rec.Links()
	var canon string
	switch {
	case strings.HasPrefix(rec.ID, "GO-"):
		canon = "https://pkg.go.dev/vuln/" + rec.ID
	case strings.HasPrefix(rec.ID, "CVE-"), strings.HasPrefix(rec.ID, "GHSA-"), strings.HasPrefix(rec.ID, "PYSEC-"),
		strings.HasPrefix(rec.ID, "DEBIAN-"), strings.HasPrefix(rec.ID, "DSA-"), strings.HasPrefix(rec.ID, "DLA-"),
		strings.HasPrefix(rec.ID, "USN-"), strings.HasPrefix(rec.ID, "ALPINE-"):
		canon = "https://osv.dev/vulnerability/" + rec.ID
	}
	if canon != "" && !slices.Contains(out, canon) {
		out = append([]string{canon}, out...)
	}
	return out
}

// fixState tells whether and how a match is fixed: fixed when it has a
// fixed version, else the state the distribution gives the package in
// the CVE enrichment (Debian's no-dsa/ignored, postponed, end-of-life),
// else affected.
func fixState(m match, q query, infos []*vulndb.CVEInfo) (state, reason string) {
	if m.fixed != "" {
		return finding.FixStateFixed, ""
	}
	if st, why := m.aff.SpecificFixState(); slices.Contains(finding.FixStates, st) && st != finding.FixStateFixed {
		return st, why
	}
	for _, info := range infos {
		for _, st := range info.Statuses {
			if !strings.EqualFold(vulndb.BaseEcosystem(st.Ecosystem), vulndb.BaseEcosystem(q.ecosystem)) || st.Package != q.name {
				continue
			}
			if !q.releaseOK(st.Ecosystem) {
				continue
			}
			if slices.Contains(finding.FixStates, st.State) {
				return st.State, st.Reason
			}
		}
	}
	return finding.FixStateAffected, ""
}

// vendorNotAffected reports whether the distribution declares the package
// of this release not affected by any of the CVEs (Red Hat's
// known_not_affected): its statement outranks an advisory that does not
// say which streams it covers.
func vendorNotAffected(p *sbom.Package, q query, infos []*vulndb.CVEInfo) bool {
	for _, info := range infos {
		for _, st := range info.Statuses {
			if st.State != vulndb.StateNotAffected || (st.Package != q.name && st.Package != p.SourceName) ||
				!strings.EqualFold(vulndb.BaseEcosystem(st.Ecosystem), vulndb.BaseEcosystem(q.ecosystem)) {
				continue
			}
			if (release(q.ecosystem) != "" || len(q.streams) > 0) && q.releaseOK(st.Ecosystem) {
				return true
			}
		}
	}
	return false
}
