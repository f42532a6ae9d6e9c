package sbom

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Bounds of a document Read accepts: an SBOM of a large image lists a
// few thousand packages; anything far beyond is hostile or not an image's.
const (
	MaxReadBytes      = 16 << 20
	MaxReadComponents = 100_000
	// maxComponentDepth bounds CycloneDX's nested components.
	maxComponentDepth = 16
)

// Read is what Read understood of an SBOM document: its format, the
// operating system it names, its packages, and what it could not place.
type Read struct {
	// Format is "CycloneDX" or "SPDX".
	Format string
	OS     *OS
	// Packages are those whose Package URL (or Palisade's own
	// properties) says their ecosystem, name and version.
	Packages []Package
	// Unidentified names the components left out: no Package URL, a
	// Package URL Palisade cannot parse, or a type it has no ecosystem
	// for. They were not checked; callers say so.
	Unidentified []string
}

// ReadDocument reads a CycloneDX (JSON, 1.x) or SPDX (JSON, 2.x) document,
// such as the predicate of a cosign SBOM attestation, into packages a
// vulnerability matcher understands. Packages are identified by their
// Package URL; Palisade's own "palisade:*" CycloneDX properties, when
// present, name the ecosystem and source package exactly. A document of
// neither format, or over the bounds, is an error.
func ReadDocument(data []byte) (*Read, error) {
	if len(data) > MaxReadBytes {
		return nil, fmt.Errorf("SBOM is %d bytes, over the %d-byte limit", len(data), MaxReadBytes)
	}
	var head struct {
		BOMFormat   string `json:"bomFormat"`
		SPDXVersion string `json:"spdxVersion"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("SBOM: %w", err)
	}
	switch {
	case head.BOMFormat == "CycloneDX":
		return readCycloneDX(data)
	case strings.HasPrefix(head.SPDXVersion, "SPDX-2."):
		return readSPDX(data)
	case head.SPDXVersion != "":
		return nil, fmt.Errorf("SBOM: SPDX version %q is not supported (want SPDX-2.x JSON)", head.SPDXVersion)
	}
	return nil, errors.New("SBOM: neither CycloneDX (bomFormat) nor SPDX 2.x JSON (spdxVersion)")
}

type cdxReadBOM struct {
	Components []cdxReadComponent `json:"components"`
}

type cdxReadComponent struct {
	Type       string             `json:"type"`
	Name       string             `json:"name"`
	Version    string             `json:"version"`
	PURL       string             `json:"purl"`
	Properties []cdxProperty      `json:"properties"`
	Components []cdxReadComponent `json:"components"`
}

func readCycloneDX(data []byte) (*Read, error) {
	var bom cdxReadBOM
	if err := json.Unmarshal(data, &bom); err != nil {
		return nil, fmt.Errorf("CycloneDX: %w", err)
	}
	out := &Read{Format: "CycloneDX"}
	n := 0
	var walk func(cs []cdxReadComponent, depth int) error
	walk = func(cs []cdxReadComponent, depth int) error {
		if depth > maxComponentDepth {
			return fmt.Errorf("CycloneDX: components nested more than %d levels deep", maxComponentDepth)
		}
		for _, c := range cs {
			if n++; n > MaxReadComponents {
				return fmt.Errorf("CycloneDX: more than %d components", MaxReadComponents)
			}
			props := map[string]string{}
			for _, p := range c.Properties {
				if _, dup := props[p.Name]; !dup {
					props[p.Name] = p.Value
				}
			}
			if c.Type == "operating-system" {
				if out.OS == nil && c.Name != "" {
					out.OS = &OS{ID: strings.ToLower(c.Name), VersionID: c.Version, Codename: props["palisade:os:codename"], PrettyName: props["palisade:os:prettyName"]}
				}
			} else {
				out.add(c.Name, c.Version, c.PURL, props)
			}
			if err := walk(c.Components, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(bom.Components, 0); err != nil {
		return nil, err
	}
	return out, nil
}

type spdxReadDocument struct {
	Packages []spdxReadPackage `json:"packages"`
}

type spdxReadPackage struct {
	Name                  string            `json:"name"`
	VersionInfo           string            `json:"versionInfo"`
	ExternalRefs          []spdxExternalRef `json:"externalRefs"`
	PrimaryPackagePurpose string            `json:"primaryPackagePurpose"`
	SourceInfo            string            `json:"sourceInfo"`
}

// spdxSourcePrefix is how WriteSPDX records a source package in
// sourceInfo ("built from source package NAME VERSION").
const spdxSourcePrefix = "built from source package "

func readSPDX(data []byte) (*Read, error) {
	var doc spdxReadDocument
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("SPDX: %w", err)
	}
	if len(doc.Packages) > MaxReadComponents {
		return nil, fmt.Errorf("SPDX: more than %d packages", MaxReadComponents)
	}
	out := &Read{Format: "SPDX"}
	for _, p := range doc.Packages {
		purl := ""
		for _, r := range p.ExternalRefs {
			if r.ReferenceType == "purl" {
				purl = r.ReferenceLocator
				break
			}
		}
		switch p.PrimaryPackagePurpose {
		case "OPERATING_SYSTEM", "OPERATING-SYSTEM":
			if out.OS == nil && p.Name != "" {
				out.OS = &OS{ID: strings.ToLower(p.Name), VersionID: p.VersionInfo}
			}
			continue
		case "CONTAINER", "FILE":
			if purl == "" {
				continue // the subject (an image, a directory), not software in it
			}
		}
		n := len(out.Packages)
		out.add(p.Name, p.VersionInfo, purl, nil)
		if len(out.Packages) > n && out.Packages[n].SourceName == "" {
			for _, part := range strings.Split(p.SourceInfo, "; ") {
				if src, ok := strings.CutPrefix(part, spdxSourcePrefix); ok {
					out.Packages[n].SourceName, out.Packages[n].SourceVersion, _ = strings.Cut(src, " ")
				}
			}
		}
	}
	return out, nil
}

// subjectTypes are Package URL types that name the image or repository an
// SBOM describes, not software in it.
var subjectTypes = map[string]bool{"oci": true, "docker": true}

// add places one component: by Palisade's properties when present, else
// by its Package URL; otherwise it is unidentified.
func (r *Read) add(name, version, purl string, props map[string]string) {
	label := name
	if version != "" {
		label += "@" + version
	}
	if purl != "" {
		label = purl
	}
	if eco := props["palisade:ecosystem"]; eco != "" && name != "" && version != "" {
		r.Packages = append(r.Packages, Package{Name: name, Version: version, Ecosystem: eco, Type: props["palisade:type"], PURL: purl,
			SourceName: props["palisade:sourceName"], SourceVersion: props["palisade:sourceVersion"], Arch: props["palisade:arch"], Cataloger: "sbom-attestation"})
		return
	}
	if purl == "" {
		r.Unidentified = append(r.Unidentified, label+" (no package URL)")
		return
	}
	p, err := packageFromPURL(purl)
	if err != nil {
		r.Unidentified = append(r.Unidentified, fmt.Sprintf("%s (%v)", label, err))
		return
	}
	if p == nil {
		return // the subject itself
	}
	if r.OS == nil && (p.Type == "deb" || p.Type == "apk" || p.Type == "rpm") {
		// No operating-system component: the distro qualifier names it.
		if u, err := parsePURL(purl); err == nil {
			if id, ver, ok := strings.Cut(u.qualifiers.Get("distro"), "-"); ok && id != "" {
				r.OS = &OS{ID: id, VersionID: ver}
			}
		}
	}
	r.Packages = append(r.Packages, *p)
}

// purlParts is a parsed Package URL.
type purlParts struct {
	typ, namespace, name, version string
	qualifiers                    url.Values
}

func parsePURL(s string) (purlParts, error) {
	var p purlParts
	rest, ok := strings.CutPrefix(s, "pkg:")
	if !ok {
		return p, errors.New("not a package URL")
	}
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		q, err := url.ParseQuery(rest[i+1:])
		if err != nil {
			return p, fmt.Errorf("qualifiers: %w", err)
		}
		p.qualifiers, rest = q, rest[:i]
	}
	rest = strings.Trim(rest, "/")
	if i := strings.LastIndexByte(rest, '@'); i > strings.LastIndexByte(rest, '/') {
		v, err := url.PathUnescape(rest[i+1:])
		if err != nil {
			return p, fmt.Errorf("version: %w", err)
		}
		p.version, rest = v, rest[:i]
	}
	typ, path, ok := strings.Cut(rest, "/")
	if !ok || typ == "" || path == "" {
		return p, errors.New("no type or name")
	}
	p.typ = strings.ToLower(typ)
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		u, err := url.PathUnescape(seg)
		if err != nil {
			return p, fmt.Errorf("name: %w", err)
		}
		segs[i] = u
	}
	p.name = segs[len(segs)-1]
	p.namespace = strings.Join(segs[:len(segs)-1], "/")
	if p.name == "" {
		return p, errors.New("no name")
	}
	return p, nil
}

// packageFromPURL places a Package URL in an OSV ecosystem, named as the
// catalogers name its packages. nil, nil is the SBOM's subject (an image).
func packageFromPURL(s string) (*Package, error) {
	u, err := parsePURL(s)
	if err != nil {
		return nil, err
	}
	if subjectTypes[u.typ] {
		return nil, nil
	}
	if u.version == "" {
		return nil, errors.New("no version")
	}
	p := &Package{Name: u.name, Version: u.version, Type: u.typ, PURL: s, Arch: u.qualifiers.Get("arch"), Cataloger: "sbom-attestation"}
	joined := u.name
	if u.namespace != "" {
		joined = u.namespace + "/" + u.name
	}
	switch u.typ {
	case "deb", "apk", "rpm":
		eco, err := osEcosystem(u.typ, strings.ToLower(u.namespace), u.qualifiers.Get("distro"))
		if err != nil {
			return nil, err
		}
		p.Ecosystem = eco
		if up := u.qualifiers.Get("upstream"); up != "" {
			p.SourceName, p.SourceVersion, _ = strings.Cut(up, "@")
		}
		if p.SourceName != "" && p.SourceVersion == "" {
			p.SourceVersion = p.Version
		}
	case "golang":
		p.Ecosystem, p.Name = EcosystemGo, joined
	case "npm":
		p.Ecosystem, p.Name = EcosystemNPM, joined
	case "maven":
		p.Ecosystem = EcosystemMaven
		if u.namespace != "" {
			p.Name = strings.ReplaceAll(u.namespace, "/", ".") + ":" + u.name
		}
	case "composer":
		p.Ecosystem, p.Name = EcosystemPackagist, joined
	case "swift":
		p.Ecosystem, p.Name = EcosystemSwiftURL, joined
	case "pypi", "gem", "nuget", "cargo", "hex", "pub", "conan":
		if u.namespace != "" {
			return nil, fmt.Errorf("purl type %s has no namespace", u.typ)
		}
		p.Ecosystem = map[string]string{"pypi": EcosystemPyPI, "gem": EcosystemRubyGems, "nuget": EcosystemNuGet,
			"cargo": EcosystemCrates, "hex": EcosystemHex, "pub": EcosystemPub, "conan": EcosystemConan}[u.typ]
	default:
		return nil, fmt.Errorf("purl type %q has no vulnerability ecosystem Palisade knows", u.typ)
	}
	return p, nil
}

// osEcosystem names an OS package's ecosystem from its purl namespace and
// distro qualifier ("debian-12.5", "alpine-3.20.1", "rocky-9.3"), with the
// release the catalogers give it.
func osEcosystem(typ, vendor, distro string) (string, error) {
	_, ver, _ := strings.Cut(distro, "-")
	major, _, _ := strings.Cut(ver, ".")
	with := func(eco, release string) string {
		if release == "" {
			return eco
		}
		return eco + ":" + release
	}
	switch typ + "/" + vendor {
	case "deb/debian":
		return with(EcosystemDebian, major), nil
	case "deb/ubuntu":
		return with(EcosystemUbuntu, ver), nil
	case "apk/alpine":
		parts := strings.SplitN(ver, ".", 3)
		if len(parts) >= 2 {
			return EcosystemAlpine + ":v" + parts[0] + "." + parts[1], nil
		}
		return EcosystemAlpine, nil
	case "apk/wolfi":
		return EcosystemWolfi, nil
	case "apk/chainguard":
		return EcosystemChainguard, nil
	case "rpm/redhat", "rpm/centos", "rpm/rhel":
		return EcosystemRedHat, nil
	case "rpm/rocky":
		return with(EcosystemRockyLinux, major), nil
	case "rpm/almalinux":
		return with(EcosystemAlmaLinux, major), nil
	case "rpm/fedora":
		return with(EcosystemFedora, ver), nil
	case "rpm/amazon", "rpm/amzn":
		return with(EcosystemAmazon, ver), nil
	case "rpm/mariner", "rpm/azurelinux":
		return with(EcosystemMariner, ver), nil
	case "rpm/oracle", "rpm/ol":
		return with(EcosystemOracle, major), nil
	case "rpm/photon":
		return with(EcosystemPhoton, ver), nil
	case "rpm/opensuse":
		return EcosystemOpenSUSE, nil
	case "rpm/suse", "rpm/sles":
		return EcosystemSUSE, nil
	}
	return "", fmt.Errorf("%s packages of %q: no distribution Palisade knows", typ, vendor)
}
