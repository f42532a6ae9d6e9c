package vulnmatch

import (
	"regexp"
	"strings"
	"sync"

	"github.com/palisade-sec/palisade/internal/sbom"
)

// SUSE and openSUSE records in OSV name the product they were published
// for after the ecosystem ("SUSE:Linux Enterprise Server 15 SP5",
// "SUSE:Linux Enterprise Module for Basesystem 15 SP5", "SUSE:Linux
// Enterprise Micro 5.5", "openSUSE:Leap 15.5", "openSUSE:Tumbleweed"),
// while an image's rpms say only "SUSE" or "openSUSE" and carry the
// release in the purl's distro qualifier, from os-release
// ("sles-15.5", "opensuse-leap-15.5", "opensuse-tumbleweed-20240101",
// "sle-micro-5.5"). A record applies to a package of the same product
// family (SUSE Linux Enterprise 15 and its modules and flavours, SLE
// Micro, openSUSE Leap, Leap Micro, Tumbleweed) and the same release
// (service pack). Long-term and extended service packs (LTSS, ESPOS,
// BCL) publish fixes a standard image does not receive, as Red Hat's EUS
// streams do, and products of other families (SUSE Manager, CaaS
// Platform) say nothing of an SLES image.

// suseProduct is a product family and release: "sle" "15.5",
// "sle-micro" "5.5", "leap" "15.5", "leap-micro" "5.5", "tumbleweed" "".
type suseProduct struct {
	family, release string
	extended        bool
}

var (
	suseServicePack = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\b(\d{2})(?:[ -]?sp(\d+))?\b`) })
	suseMinor       = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\b(\d+\.\d+)\b`) })
)

// parseSUSEProduct reads the product of an OSV SUSE/openSUSE ecosystem's
// release part; ok is false for products outside the known families.
func parseSUSEProduct(s string) (p suseProduct, ok bool) {
	l := strings.ToLower(s)
	for _, ext := range []string{"ltss", "espos", "bcl", "teradata"} {
		if strings.Contains(l, ext) {
			p.extended = true
		}
	}
	minor := func() string {
		if m := suseMinor().FindStringSubmatch(l); m != nil {
			return m[1]
		}
		return ""
	}
	switch {
	case strings.Contains(l, "tumbleweed") || strings.Contains(l, "microos"):
		p.family = "tumbleweed"
	case strings.Contains(l, "leap micro"):
		p.family, p.release = "leap-micro", minor()
	case strings.Contains(l, "leap"):
		p.family, p.release = "leap", minor()
	case strings.Contains(l, "micro"):
		p.family, p.release = "sle-micro", minor()
	case strings.Contains(l, "enterprise") || strings.HasPrefix(l, "sle"):
		m := suseServicePack().FindStringSubmatch(l)
		if m == nil {
			return p, false
		}
		sp := m[2]
		if sp == "" {
			sp = "0"
		}
		p.family, p.release = "sle", m[1]+"."+sp
	default:
		return p, false
	}
	return p, p.family == "tumbleweed" || p.release != ""
}

// suseRelease returns the product a SUSE or openSUSE package is from, in
// the spelling of OSV's ecosystems ("Linux Enterprise Server 15 SP5",
// "Leap 15.5", "Tumbleweed"), read from its purl's distro qualifier;
// "" when the purl does not say.
func suseRelease(p *sbom.Package) string {
	d := distroQualifier(p.PURL)
	i := strings.LastIndexByte(d, '-')
	if i <= 0 {
		return ""
	}
	id, ver := d[:i], d[i+1:]
	switch {
	case strings.Contains(id, "tumbleweed") || strings.Contains(id, "microos"):
		return "Tumbleweed"
	case strings.Contains(id, "leap-micro"):
		return "Leap Micro " + ver
	case strings.Contains(id, "leap"):
		return "Leap " + ver
	case strings.Contains(id, "micro"):
		return "Linux Enterprise Micro " + ver
	case strings.HasPrefix(id, "sle"):
		major, sp, _ := strings.Cut(ver, ".")
		if major == "" {
			return ""
		}
		if sp == "" || sp == "0" {
			return "Linux Enterprise Server " + major
		}
		return "Linux Enterprise Server " + major + " SP" + sp
	}
	return ""
}

// distroQualifier returns the value of a purl's distro qualifier.
func distroQualifier(purl string) string {
	_, qs, ok := strings.Cut(purl, "?")
	if !ok {
		return ""
	}
	qs, _, _ = strings.Cut(qs, "#")
	for _, kv := range strings.Split(qs, "&") {
		if v, ok := strings.CutPrefix(kv, "distro="); ok {
			return v
		}
	}
	return ""
}

// sameSUSEProduct reports whether a record published for product record
// applies to a package of product pkg (both release parts of OSV
// ecosystems). Either unknown: it applies (a package of unknown release
// is matched against every product).
func sameSUSEProduct(record, pkg string) bool {
	if record == "" || pkg == "" {
		return true
	}
	pp, ok := parseSUSEProduct(pkg)
	if !ok {
		return true
	}
	rp, ok := parseSUSEProduct(record)
	if !ok || (rp.extended && !pp.extended) {
		return false
	}
	return rp.family == pp.family && rp.release == pp.release
}
