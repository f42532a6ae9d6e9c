package sbom

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Document is what an SBOM describes: a subject (an image or a directory),
// its operating system and its packages. The writers (WriteCycloneDX,
// WriteSPDX) only read it.
type Document struct {
	Subject  Subject
	OS       *OS
	Packages []Package
	// Created is the document's timestamp; zero means the time of
	// writing. Tests and reproducible builds set it.
	Created time.Time
	// Tool names the producer ("palisade") and its version.
	ToolName, ToolVersion string
}

// Subject is what was scanned.
type Subject struct {
	// Kind is "image" or "directory".
	Kind string
	// Name is the image reference or the directory path.
	Name string
	// Digest is the image's manifest digest ("sha256:..."), if known.
	Digest string
}

// SubjectImage and SubjectDirectory are the kinds of Subject.
const (
	SubjectImage     = "image"
	SubjectDirectory = "directory"
)

func (d *Document) created() time.Time {
	if d.Created.IsZero() {
		return time.Now().UTC().Truncate(time.Second)
	}
	return d.Created.UTC().Truncate(time.Second)
}

func (d *Document) tool() (name, version string) {
	name, version = d.ToolName, d.ToolVersion
	if name == "" {
		name = "palisade"
	}
	if version == "" {
		version = "devel"
	}
	return name, version
}

// sortedPackages returns the packages in a fixed order, so that the same
// content always gives the same document.
func (d *Document) sortedPackages() []Package {
	pkgs := append([]Package(nil), d.Packages...)
	sort.SliceStable(pkgs, func(i, j int) bool {
		a, b := pkgs[i], pkgs[j]
		for _, c := range [][2]string{{a.Ecosystem, b.Ecosystem}, {a.Name, b.Name}, {a.Version, b.Version}, {a.PURL, b.PURL}, {strings.Join(a.Locations, "\n"), strings.Join(b.Locations, "\n")}} {
			if c[0] != c[1] {
				return c[0] < c[1]
			}
		}
		return false
	})
	return pkgs
}

// contentUUID is a UUID (version 5 layout) derived from the subject, the
// creation time and the packages, so a document's serial number and
// namespace are unique per content and yet reproducible.
func (d *Document) contentUUID(pkgs []Package) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\n", d.Subject.Kind, d.Subject.Name, d.Subject.Digest, d.created().Format(time.RFC3339))
	for _, p := range pkgs {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\n", p.Ecosystem, p.Name, p.Version, p.PURL, strings.Join(p.Locations, "\x00"))
	}
	b := h.Sum(nil)[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	x := hex.EncodeToString(b)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

func (d *Document) subjectName() string {
	if d.Subject.Name != "" {
		return d.Subject.Name
	}
	return "unnamed"
}
