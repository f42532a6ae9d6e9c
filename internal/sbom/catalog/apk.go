package catalog

// apk: lib/apk/db/installed, stanzas of "K:value" lines separated by
// blank lines (P name, V version, A arch, L licence, o origin). The
// origin is the source package that Alpine's advisories name; it shares
// the binary's version. A stanza without P or V is skipped (a half-written
// or tampered database) and returned as a PartialError naming its line, so
// the package is reported as not catalogued rather than dropped in
// silence; lines that are not "K:value" are ignored, as apk does.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/palisade-sec/palisade/internal/sbom"
)

// Apk returns the cataloger of Alpine (and Wolfi) packages.
func Apk() Cataloger {
	return Glob{
		ID:       "apk",
		Patterns: []string{"lib/apk/db/installed"},
		MaxSize:  64 << 20,
		Parse:    parseApk,
	}
}

func parseApk(_ context.Context, env Env, _ fs.FS, p string, r io.Reader) ([]sbom.Package, error) {
	entries, skipped, err := parseApkInstalled(r)
	if err != nil {
		return nil, err
	}
	eco, vendor, distro := apkEcosystem(env.OS)
	pkgs := make([]sbom.Package, 0, len(entries))
	for _, e := range entries {
		pkgs = append(pkgs, e.pkg(eco, vendor, distro, p))
	}
	if len(skipped) > 0 {
		return pkgs, &PartialError{Errs: skipped}
	}
	return pkgs, nil
}

type apkEntry struct {
	Name, Version, Arch, License, Origin string
}

func (e apkEntry) pkg(eco, vendor, distro, location string) sbom.Package {
	src := e.Origin
	if src == "" {
		src = e.Name
	}
	var lic []string
	if e.License != "" {
		lic = []string{e.License}
	}
	upstream := ""
	if src != e.Name {
		upstream = src
	}
	return sbom.Package{
		Name:          e.Name,
		Version:       e.Version,
		Ecosystem:     eco,
		Type:          "apk",
		PURL:          sbom.PURL("apk", vendor, e.Name, e.Version, sbom.Qualifier{Key: "arch", Value: e.Arch}, sbom.Qualifier{Key: "distro", Value: distro}, sbom.Qualifier{Key: "upstream", Value: upstream}),
		SourceName:    src,
		SourceVersion: e.Version,
		Arch:          e.Arch,
		Licenses:      lic,
		Locations:     []string{location},
		Cataloger:     "apk",
	}
}

const maxApkLine = 1 << 20

func parseApkInstalled(r io.Reader) (entries []apkEntry, skipped []error, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var cur apkEntry
	seen := false
	lineNo, start := 0, 0 // start: the line of the stanza's first field
	flush := func() {
		if !seen {
			return
		}
		if cur.Name == "" || cur.Version == "" {
			skipped = append(skipped, fmt.Errorf("stanza at line %d: package %q without name or version: not catalogued", start, cur.Name))
		} else {
			entries = append(entries, cur)
		}
		cur, seen = apkEntry{}, false
	}
	for {
		line, rerr := readLine(br, maxApkLine)
		if rerr != nil && rerr != io.EOF {
			return nil, nil, rerr
		}
		if rerr == io.EOF && line == "" {
			break
		}
		lineNo++
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			continue
		}
		if !seen {
			start = lineNo
		}
		seen = true
		v := strings.TrimSpace(line[2:])
		switch line[0] {
		case 'P':
			cur.Name = v
		case 'V':
			cur.Version = v
		case 'A':
			cur.Arch = v
		case 'L':
			cur.License = v
		case 'o':
			cur.Origin = v
		}
		if rerr == io.EOF {
			break
		}
	}
	flush()
	return entries, skipped, nil
}
