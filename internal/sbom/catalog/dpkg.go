package catalog

// dpkg: var/lib/dpkg/status (one deb822 stanza per package) and the
// distroless layout var/lib/dpkg/status.d/<name> (one stanza per file,
// usually without a Status field). A package is reported when dpkg would
// have its files on disk: Status is present and its state is neither
// not-installed nor config-files (removed, only conffiles left). Entries
// of status.d/ without Status are installed by construction. A stanza of
// an installed package without Package or Version, or whose Version does
// not parse as a Debian version, is left out (dpkg-query drops it with a
// warning) and returned as a PartialError naming its line: its package
// was not catalogued, which a scan must say.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/version/deb"
)

// Dpkg returns the cataloger of Debian packages.
func Dpkg() Cataloger {
	return Glob{
		ID:       "dpkg",
		Patterns: []string{"var/lib/dpkg/status", "var/lib/dpkg/status.d/*"},
		MaxSize:  64 << 20,
		Parse:    parseDpkg,
	}
}

// Files beside the stanzas in status.d/ that are not stanzas.
var dpkgStatusDSuffixes = []string{".md5sums", ".preinst", ".postinst", ".prerm", ".postrm",
	".conffiles", ".list", ".triggers", ".shlibs", ".symbols", ".templates", ".config"}

func parseDpkg(_ context.Context, env Env, _ fs.FS, p string, r io.Reader) ([]sbom.Package, error) {
	statusD := path.Base(path.Dir(p)) == "status.d"
	if statusD {
		for _, s := range dpkgStatusDSuffixes {
			if strings.HasSuffix(p, s) {
				return nil, nil
			}
		}
	}
	entries, skipped, err := parseDpkgStatus(r, statusD)
	if err != nil {
		return nil, err
	}
	eco, vendor, distro := debEcosystem(env.OS)
	var pkgs []sbom.Package
	for _, e := range entries {
		if !e.filesPresent() {
			continue
		}
		pkgs = append(pkgs, e.pkg(eco, vendor, distro, p))
	}
	if len(skipped) > 0 {
		return pkgs, &PartialError{Errs: skipped}
	}
	return pkgs, nil
}

// dpkgEntry is one stanza, with the fields dpkg-query -W shows.
type dpkgEntry struct {
	Package, Version, Architecture, Source string
	// Want, Flag and State are the three words of Status; all empty when
	// the stanza has none.
	Want, Flag, State string
	statusD           bool
}

// listed reports whether dpkg-query -W lists the entry: every package
// whose state is not not-installed.
func (e dpkgEntry) listed() bool {
	return e.State != "" && e.State != "not-installed"
}

// filesPresent reports whether the package's files are on disk.
func (e dpkgEntry) filesPresent() bool {
	if e.State == "" {
		return e.statusD
	}
	return e.State != "not-installed" && e.State != "config-files"
}

// source returns the source package name and version: "Source: name
// (version)" names both; a bare "Source: name" shares the binary's
// version; no Source means the source is named like the binary.
func (e dpkgEntry) source() (name, version string) {
	src := strings.TrimSpace(e.Source)
	if src == "" {
		return e.Package, e.Version
	}
	if n, v, ok := strings.Cut(src, " "); ok {
		v = strings.TrimSpace(v)
		if strings.HasPrefix(v, "(") && strings.HasSuffix(v, ")") {
			return n, strings.TrimSpace(v[1 : len(v)-1])
		}
		return n, e.Version
	}
	return src, e.Version
}

func (e dpkgEntry) pkg(eco, vendor, distro, location string) sbom.Package {
	srcName, srcVersion := e.source()
	upstream := ""
	if srcName != e.Package || srcVersion != e.Version {
		upstream = srcName
		if srcVersion != e.Version {
			upstream += "@" + srcVersion
		}
	}
	return sbom.Package{
		Name:          e.Package,
		Version:       e.Version,
		Ecosystem:     eco,
		Type:          "deb",
		PURL:          sbom.PURL("deb", vendor, e.Package, e.Version, sbom.Qualifier{Key: "arch", Value: e.Architecture}, sbom.Qualifier{Key: "distro", Value: distro}, sbom.Qualifier{Key: "upstream", Value: upstream}),
		SourceName:    srcName,
		SourceVersion: srcVersion,
		Arch:          e.Architecture,
		Locations:     []string{location},
		Cataloger:     "dpkg",
	}
}

const (
	maxDpkgLine   = 1 << 20
	maxDpkgFields = 4096
)

var errDpkgSyntax = errors.New("dpkg status syntax")

// parseDpkgStatus reads deb822 stanzas. Stanzas without Package, or
// whose Version is missing or invalid, are skipped and reported in
// skipped; a line that is neither a field nor a continuation is an error,
// as it is for dpkg. Memory is bounded by the longest line and the few
// fields kept per stanza.
func parseDpkgStatus(r io.Reader, statusD bool) (entries []dpkgEntry, skipped []error, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var cur dpkgEntry
	var fields int
	var last string       // field name a continuation line belongs to
	lineNo, start := 0, 0 // start: the line of the stanza's first field
	flush := func() {
		if fields == 0 {
			return
		}
		cur.statusD = statusD
		// A stanza of a package whose files are not on disk (removed,
		// purged, no Status in the status file) hides nothing when it is
		// left out.
		gone := !cur.filesPresent()
		skip := func(err error) {
			if !gone {
				skipped = append(skipped, err)
			}
		}
		switch {
		case cur.Package == "":
			skip(fmt.Errorf("stanza at line %d: stanza without Package: not catalogued", start))
		case cur.Version == "":
			skip(fmt.Errorf("stanza at line %d: package %s: no Version: not catalogued", start, cur.Package))
		default:
			if _, verr := deb.Parse(cur.Version); verr != nil {
				skip(fmt.Errorf("stanza at line %d: package %s: %w: not catalogued", start, cur.Package, verr))
			} else {
				entries = append(entries, cur)
			}
		}
		cur, fields, last = dpkgEntry{}, 0, ""
	}
	for {
		line, rerr := readLine(br, maxDpkgLine)
		if rerr != nil && rerr != io.EOF {
			return nil, nil, rerr
		}
		if rerr == io.EOF && line == "" {
			break
		}
		lineNo++
		if strings.TrimSpace(line) == "" {
			flush()
		} else if line[0] == ' ' || line[0] == '\t' {
			if last == "" {
				return nil, nil, fmt.Errorf("line %d: %w: continuation line outside a field", lineNo, errDpkgSyntax)
			}
			// Only multi-line fields continue; none of the fields kept
			// here does, so the text is dropped.
		} else {
			name, value, ok := strings.Cut(line, ":")
			if !ok || name == "" || strings.ContainsAny(name, " \t") {
				return nil, nil, fmt.Errorf("line %d: %w: field name %q not followed by a colon", lineNo, errDpkgSyntax, truncate(name, 40))
			}
			if fields == 0 {
				start = lineNo
			}
			fields++
			if fields > maxDpkgFields {
				return nil, nil, fmt.Errorf("line %d: %w: more than %d fields in one stanza", lineNo, errDpkgSyntax, maxDpkgFields)
			}
			last = name
			value = strings.TrimSpace(value)
			switch strings.ToLower(name) {
			case "package":
				cur.Package = value
			case "version":
				cur.Version = value
			case "architecture":
				cur.Architecture = value
			case "source":
				cur.Source = value
			case "status":
				w := strings.Fields(value)
				if len(w) != 3 {
					return nil, nil, fmt.Errorf("line %d: %w: Status %q has not three words", lineNo, errDpkgSyntax, truncate(value, 80))
				}
				cur.Want, cur.Flag, cur.State = w[0], w[1], w[2]
			}
		}
		if rerr == io.EOF {
			break
		}
	}
	flush()
	return entries, skipped, nil
}

// readLine reads one line without its newline, failing on lines longer
// than limit.
func readLine(br *bufio.Reader, limit int) (string, error) {
	var buf []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			if err == io.EOF && len(buf) > 0 {
				return string(buf), nil
			}
			return string(buf), err
		}
		if len(buf)+len(chunk) > limit {
			return "", fmt.Errorf("line longer than %d bytes", limit)
		}
		buf = append(buf, chunk...)
		if !isPrefix {
			return strings.TrimSuffix(string(buf), "\r"), nil
		}
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
