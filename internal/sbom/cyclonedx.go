package sbom

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// CycloneDX 1.6 JSON (https://cyclonedx.org/docs/1.6/json/). The subject
// is metadata.component (a container for an image, a file otherwise);
// the OS is an operating-system component; every package is a library
// component with its PURL, licences, and the fields CycloneDX has no
// place for (ecosystem, source package, locations, layer) as properties
// in the "palisade:" namespace. The dependency graph records only that
// the subject contains every component: catalogers do not resolve
// package dependencies.

type cdxBOM struct {
	BOMFormat    string          `json:"bomFormat"`
	SpecVersion  string          `json:"specVersion"`
	SerialNumber string          `json:"serialNumber"`
	Version      int             `json:"version"`
	Metadata     cdxMetadata     `json:"metadata"`
	Components   []cdxComponent  `json:"components"`
	Dependencies []cdxDependency `json:"dependencies"`
}

type cdxMetadata struct {
	Timestamp string       `json:"timestamp"`
	Tools     cdxTools     `json:"tools"`
	Component cdxComponent `json:"component"`
}

type cdxTools struct {
	Components []cdxComponent `json:"components"`
}

type cdxComponent struct {
	Type       string        `json:"type"`
	BOMRef     string        `json:"bom-ref,omitempty"`
	Name       string        `json:"name"`
	Version    string        `json:"version,omitempty"`
	Hashes     []cdxHash     `json:"hashes,omitempty"`
	Licenses   []cdxLicense  `json:"licenses,omitempty"`
	PURL       string        `json:"purl,omitempty"`
	Properties []cdxProperty `json:"properties,omitempty"`
}

type cdxHash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

type cdxLicense struct {
	License cdxLicenseName `json:"license"`
}

type cdxLicenseName struct {
	Name string `json:"name"`
}

type cdxProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type cdxDependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

// WriteCycloneDX writes doc as a CycloneDX 1.6 JSON document. The output
// depends only on doc: packages are sorted, and the serial number is
// derived from the content and doc.Created.
func WriteCycloneDX(w io.Writer, doc Document) error {
	pkgs := doc.sortedPackages()
	toolName, toolVersion := doc.tool()
	subject := cdxComponent{Type: "file", BOMRef: "subject", Name: doc.subjectName()}
	if doc.Subject.Kind == SubjectImage {
		subject.Type = "container"
	}
	if alg, hexDigest, ok := splitDigest(doc.Subject.Digest); ok {
		subject.Version = doc.Subject.Digest
		subject.Hashes = []cdxHash{{Alg: alg, Content: hexDigest}}
	}
	bom := cdxBOM{
		BOMFormat:    "CycloneDX",
		SpecVersion:  "1.6",
		SerialNumber: "urn:uuid:" + doc.contentUUID(pkgs),
		Version:      1,
		Metadata: cdxMetadata{
			Timestamp: doc.created().Format(time.RFC3339),
			Tools:     cdxTools{Components: []cdxComponent{{Type: "application", Name: toolName, Version: toolVersion}}},
			Component: subject,
		},
		Components: []cdxComponent{},
	}
	refs := []string{}
	if doc.OS != nil && doc.OS.ID != "" {
		c := cdxComponent{Type: "operating-system", BOMRef: "os", Name: doc.OS.ID, Version: doc.OS.VersionID}
		if doc.OS.PrettyName != "" {
			c.Properties = append(c.Properties, cdxProperty{"palisade:os:prettyName", doc.OS.PrettyName})
		}
		if doc.OS.Codename != "" {
			c.Properties = append(c.Properties, cdxProperty{"palisade:os:codename", doc.OS.Codename})
		}
		bom.Components = append(bom.Components, c)
		refs = append(refs, c.BOMRef)
	}
	seen := map[string]int{}
	for _, p := range pkgs {
		ref := p.PURL
		if ref == "" {
			ref = "pkg:" + p.Type + "/" + p.Name + "@" + p.Version
		}
		seen[ref]++
		if n := seen[ref]; n > 1 {
			ref = fmt.Sprintf("%s#%d", ref, n)
		}
		c := cdxComponent{Type: "library", BOMRef: ref, Name: p.Name, Version: p.Version, PURL: p.PURL}
		for _, l := range p.Licenses {
			c.Licenses = append(c.Licenses, cdxLicense{cdxLicenseName{l}})
		}
		c.Properties = packageProperties(p)
		bom.Components = append(bom.Components, c)
		refs = append(refs, ref)
	}
	bom.Dependencies = []cdxDependency{{Ref: "subject", DependsOn: refs}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(bom); err != nil {
		return fmt.Errorf("writing CycloneDX: %w", err)
	}
	return nil
}

func packageProperties(p Package) []cdxProperty {
	var props []cdxProperty
	add := func(k, v string) {
		if v != "" {
			props = append(props, cdxProperty{"palisade:" + k, v})
		}
	}
	add("ecosystem", p.Ecosystem)
	add("type", p.Type)
	add("sourceName", p.SourceName)
	add("sourceVersion", p.SourceVersion)
	add("arch", p.Arch)
	add("cataloger", p.Cataloger)
	for _, l := range p.Locations {
		add("location", l)
	}
	add("layerDigest", p.LayerDigest)
	return props
}

// splitDigest splits "sha256:hex" into CycloneDX's algorithm name and the
// hex value.
func splitDigest(d string) (alg, hexValue string, ok bool) {
	a, h, ok := strings.Cut(d, ":")
	if !ok || h == "" {
		return "", "", false
	}
	switch a {
	case "sha256":
		return "SHA-256", h, true
	case "sha384":
		return "SHA-384", h, true
	case "sha512":
		return "SHA-512", h, true
	}
	return "", "", false
}
