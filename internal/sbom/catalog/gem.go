package catalog

// gemspec: the gems RubyGems installed, one specifications/<name>-<version>.gemspec
// each under a gem home (/usr/local/bundle, /usr/lib/ruby/gems/3.1.0,
// vendor/bundle/ruby/3.2.0 ...), and specifications/default/ for the gems
// that ship with Ruby itself (json, openssl ...). RubyGems writes these files itself from
// the gem's metadata (Gem::Specification#to_ruby): one assignment a line,
// strings as "…".freeze, for example
//
//	# stub: rack 2.2.8 ruby lib
//	Gem::Specification.new do |s|
//	  s.name = "rack".freeze
//	  s.version = "2.2.8".freeze
//	  s.licenses = ["MIT".freeze]
//
// The file is Ruby and is never evaluated: only these assignments are read
// (and the "# stub:" comment when they are missing). A gemspec without a
// name or version is an error of that file.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strings"
	"sync"

	"github.com/palisade-sec/palisade/internal/sbom"
)

// Gemspec returns the cataloger of installed Ruby gems.
func Gemspec() Cataloger {
	return Glob{
		ID:       "gemspec",
		Patterns: []string{"**/specifications/*.gemspec", "**/specifications/default/*.gemspec"},
		MaxSize:  1 << 20,
		Parse:    parseGemspec,
		Lenient:  true,
	}
}

var (
	// gemAssign matches `s.name = "rack".freeze` (any receiver name).
	gemAssign = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\s*\w+\.(name|version|licenses?)\s*=\s*(.*)$`) })
	gemString = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`) })
)

// maxGemspecLine bounds one line of a gemspec (descriptions can be long).
const maxGemspecLine = 256 << 10

func parseGemspec(_ context.Context, _ Env, _ fs.FS, _ string, r io.Reader) ([]sbom.Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxGemspecLine)
	var name, version, stubName, stubVersion string
	var licenses []string
	for line := 1; sc.Scan(); line++ {
		t := sc.Text()
		if rest, ok := strings.CutPrefix(t, "# stub: "); ok {
			// The first stub line names the gem; later ones list extensions.
			if f := strings.Fields(rest); len(f) >= 2 && stubName == "" {
				stubName, stubVersion = f[0], f[1]
			}
			continue
		}
		m := gemAssign().FindStringSubmatch(t)
		if m == nil {
			continue
		}
		strs := gemString().FindAllStringSubmatch(m[2], 64)
		switch m[1] {
		case "name":
			if len(strs) > 0 && name == "" {
				name = strs[0][1]
			}
		case "version":
			if len(strs) > 0 && version == "" {
				version = strs[0][1]
			}
		case "license", "licenses":
			for _, s := range strs {
				if s[1] != "" {
					licenses = append(licenses, s[1])
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if name == "" {
		name = stubName
	}
	if version == "" {
		version = stubVersion
	}
	if name == "" || version == "" || strings.ContainsAny(name, " /\\") {
		return nil, fmt.Errorf("no gem name and version (s.name, s.version or a \"# stub:\" line)")
	}
	return []sbom.Package{{
		Name:      name,
		Version:   version,
		Ecosystem: sbom.EcosystemRubyGems,
		Type:      "gem",
		PURL:      sbom.PURL("gem", "", name, version),
		Licenses:  licenses,
	}}, nil
}
