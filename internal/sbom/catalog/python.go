package catalog

// Python: installed distributions, found by their metadata, which is in
// the email-header format of the core metadata specification: a
// *.dist-info/METADATA (wheels, pip) or *.egg-info/PKG-INFO (setuptools,
// eggs; a *.egg-info may also be a single file). Name and Version are
// required; License-Expression (metadata 2.4) is preferred to License.

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"regexp"
	"strings"
	"sync"

	"github.com/palisade-sec/palisade/internal/sbom"
)

// Python returns the cataloger of Python distributions.
func Python() Cataloger {
	return Glob{
		ID:       "python",
		Patterns: []string{"**/*.dist-info/METADATA", "**/*.egg-info/PKG-INFO", "**/*.egg-info"},
		MaxSize:  4 << 20,
		Parse:    parsePython,
		Lenient:  true,
	}
}

var errNoNameVersion = errors.New("no name or version")

func parsePython(_ context.Context, _ Env, _ fs.FS, p string, r io.Reader) ([]sbom.Package, error) {
	h, err := parseMetadataHeaders(r)
	if err != nil {
		return nil, err
	}
	name, version := h["name"], h["version"]
	if name == "" || version == "" {
		return nil, errNoNameVersion
	}
	var lic []string
	if l := h["license-expression"]; l != "" {
		lic = []string{l}
	} else if l := h["license"]; l != "" && !strings.Contains(l, "\n") && len(l) < 200 {
		// Some projects paste the whole licence text into License;
		// only a short one-line value names a licence.
		lic = []string{l}
	}
	return []sbom.Package{{
		Name:      name,
		Version:   version,
		Ecosystem: sbom.EcosystemPyPI,
		Type:      "pypi",
		PURL:      sbom.PURL("pypi", "", pep503Name(name), version),
		Licenses:  lic,
	}}, nil
}

// parseMetadataHeaders reads the header block (up to the first blank
// line) into lower-cased keys; continuation lines (leading whitespace)
// extend the previous value, repeated keys keep the first value.
func parseMetadataHeaders(r io.Reader) (map[string]string, error) {
	h := map[string]string{}
	br := bufio.NewReaderSize(r, 16<<10)
	last := ""
	for {
		line, err := readLine(br, 1<<20)
		if err != nil && err != io.EOF {
			return nil, err
		}
		if err == io.EOF && line == "" {
			break
		}
		if strings.TrimSpace(line) == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last != "" {
				h[last] += "\n" + strings.TrimSpace(line)
			}
		} else if k, v, ok := strings.Cut(line, ":"); ok {
			k = strings.ToLower(strings.TrimSpace(k))
			if _, dup := h[k]; dup {
				last = ""
			} else {
				h[k] = strings.TrimSpace(v)
				last = k
			}
		}
		if err == io.EOF {
			break
		}
	}
	return h, nil
}

var pep503Sep = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[-_.]+`) })

// pep503Name is PEP 503's normalised project name, the form purl-spec
// asks for in pypi PURLs.
func pep503Name(n string) string {
	return strings.ToLower(pep503Sep().ReplaceAllString(n, "-"))
}
