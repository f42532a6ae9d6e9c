package sbom

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// SPDX 2.3 JSON (https://spdx.github.io/spdx-spec/v2.3/). The document
// DESCRIBES one package for the subject, which CONTAINS one package for
// the OS and one per software package. Licences found in package
// metadata are not always SPDX expressions ("GPLv2+", "Apache 2.0"), so
// licenseDeclared stays NOASSERTION and the recorded text goes to
// licenseComments; the PURL is an external reference of category
// PACKAGE-MANAGER.

type spdxDocument struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreationInfo   `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	SPDXID                string            `json:"SPDXID"`
	Name                  string            `json:"name"`
	VersionInfo           string            `json:"versionInfo,omitempty"`
	DownloadLocation      string            `json:"downloadLocation"`
	FilesAnalyzed         bool              `json:"filesAnalyzed"`
	Checksums             []spdxChecksum    `json:"checksums,omitempty"`
	SourceInfo            string            `json:"sourceInfo,omitempty"`
	LicenseConcluded      string            `json:"licenseConcluded"`
	LicenseDeclared       string            `json:"licenseDeclared"`
	LicenseComments       string            `json:"licenseComments,omitempty"`
	CopyrightText         string            `json:"copyrightText"`
	ExternalRefs          []spdxExternalRef `json:"externalRefs,omitempty"`
	PrimaryPackagePurpose string            `json:"primaryPackagePurpose,omitempty"`
}

type spdxChecksum struct {
	Algorithm     string `json:"algorithm"`
	ChecksumValue string `json:"checksumValue"`
}

type spdxExternalRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	SPDXElementID      string `json:"spdxElementId"`
	RelationshipType   string `json:"relationshipType"`
	RelatedSPDXElement string `json:"relatedSpdxElement"`
}

const noAssertion = "NOASSERTION"

// WriteSPDX writes doc as an SPDX 2.3 JSON document. Like
// WriteCycloneDX, the output depends only on doc.
func WriteSPDX(w io.Writer, doc Document) error {
	pkgs := doc.sortedPackages()
	toolName, toolVersion := doc.tool()
	name := doc.subjectName()
	out := spdxDocument{
		SPDXVersion: "SPDX-2.3",
		DataLicense: "CC0-1.0",
		SPDXID:      "SPDXRef-DOCUMENT",
		Name:        name,
		DocumentNamespace: "https://github.com/palisade-sec/palisade/spdx/" +
			url.PathEscape(strings.ReplaceAll(name, "/", "-")) + "-" + doc.contentUUID(pkgs),
		CreationInfo: spdxCreationInfo{
			Created:  doc.created().Format(time.RFC3339),
			Creators: []string{"Tool: " + toolName + "-" + toolVersion},
		},
	}
	subject := spdxPackage{
		SPDXID: "SPDXRef-Subject", Name: name, DownloadLocation: noAssertion,
		LicenseConcluded: noAssertion, LicenseDeclared: noAssertion, CopyrightText: noAssertion,
		PrimaryPackagePurpose: "FILE",
	}
	if doc.Subject.Kind == SubjectImage {
		subject.PrimaryPackagePurpose = "CONTAINER"
	}
	if a, h, ok := strings.Cut(doc.Subject.Digest, ":"); ok && a == "sha256" {
		subject.VersionInfo = doc.Subject.Digest
		subject.Checksums = []spdxChecksum{{Algorithm: "SHA256", ChecksumValue: h}}
	}
	out.Packages = append(out.Packages, subject)
	out.Relationships = append(out.Relationships, spdxRelationship{"SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Subject"})
	if doc.OS != nil && doc.OS.ID != "" {
		out.Packages = append(out.Packages, spdxPackage{
			SPDXID: "SPDXRef-OperatingSystem", Name: doc.OS.ID, VersionInfo: doc.OS.VersionID,
			DownloadLocation: noAssertion, LicenseConcluded: noAssertion, LicenseDeclared: noAssertion,
			CopyrightText: noAssertion, PrimaryPackagePurpose: "OPERATING_SYSTEM",
		})
		out.Relationships = append(out.Relationships, spdxRelationship{"SPDXRef-Subject", "CONTAINS", "SPDXRef-OperatingSystem"})
	}
	for i, p := range pkgs {
		sp := spdxPackage{
			SPDXID:                fmt.Sprintf("SPDXRef-Package-%s-%d", spdxIDPart(p.Type), i+1),
			Name:                  p.Name,
			VersionInfo:           p.Version,
			DownloadLocation:      noAssertion,
			LicenseConcluded:      noAssertion,
			LicenseDeclared:       noAssertion,
			CopyrightText:         noAssertion,
			PrimaryPackagePurpose: "LIBRARY",
		}
		if len(p.Licenses) > 0 {
			sp.LicenseComments = "Licence as recorded by the package: " + strings.Join(p.Licenses, "; ")
		}
		var info []string
		if p.Cataloger != "" {
			info = append(info, "found by cataloger "+p.Cataloger)
		}
		if len(p.Locations) > 0 {
			info = append(info, "in "+strings.Join(p.Locations, ", "))
		}
		if p.SourceName != "" && (p.SourceName != p.Name || p.SourceVersion != p.Version) {
			info = append(info, "built from source package "+p.SourceName+" "+p.SourceVersion)
		}
		if p.LayerDigest != "" {
			info = append(info, "layer "+p.LayerDigest)
		}
		sp.SourceInfo = strings.Join(info, "; ")
		if p.PURL != "" {
			sp.ExternalRefs = []spdxExternalRef{{"PACKAGE-MANAGER", "purl", p.PURL}}
		}
		out.Packages = append(out.Packages, sp)
		out.Relationships = append(out.Relationships, spdxRelationship{"SPDXRef-Subject", "CONTAINS", sp.SPDXID})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("writing SPDX: %w", err)
	}
	return nil
}

// spdxIDPart keeps the characters an SPDX identifier allows.
func spdxIDPart(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 && (r == '.' || r == '-' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}
