package catalog

// mix-lock: the Hex packages Mix resolved for an Elixir project, mix.lock.
// The file is an Elixir map literal, one dependency a line:
//
//	%{
//	  "jason": {:hex, :jason, "1.4.1", "af1504e3…", [:mix], [{:decimal, …}], "hexpm", "fbb01ecd…"},
//	  "phoenix": {:git, "https://github.com/phoenixframework/phoenix.git", "2c6a…", []},
//	}
//
// The tuple's first element is the SCM; for :hex the second is the
// package name (an atom, quoted when it needs to be) and the third its
// version. Git and path dependencies are skipped: Hex advisories are about
// hex.pm's versions. The file is never evaluated; only this shape is read.

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

// maxMixDeps bounds the dependencies of one mix.lock.
const maxMixDeps = 100_000

// MixLock returns the cataloger of Elixir's mix.lock.
func MixLock() Cataloger {
	return Glob{
		ID:       "mix-lock",
		Patterns: []string{"**/mix.lock"},
		MaxSize:  8 << 20,
		Parse:    parseMixLock,
	}
}

var (
	mixEntry = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\s*"([^"]+)"\s*:\s*\{\s*:(\w+)\s*,`) })
	mixHex   = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^\s*"[^"]+"\s*:\s*\{\s*:hex\s*,\s*:(?:"([^"]+)"|(\w+))\s*,\s*"([^"]+)"`)
	})
)

func parseMixLock(_ context.Context, _ Env, _ fs.FS, _ string, r io.Reader) ([]sbom.Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var out []sbom.Package
	opened := false
	for line := 1; sc.Scan(); line++ {
		t := sc.Text()
		if !opened {
			if s := strings.TrimSpace(t); s == "" {
				continue
			} else if !strings.HasPrefix(s, "%{") {
				return nil, fmt.Errorf("line %d: a mix.lock starts with %%{", line)
			}
			opened = true
		}
		m := mixEntry().FindStringSubmatch(t)
		if m == nil || m[2] != "hex" {
			continue
		}
		h := mixHex().FindStringSubmatch(t)
		if h == nil {
			return nil, fmt.Errorf("line %d: hex dependency %q is not {:hex, :name, \"version\", …}", line, m[1])
		}
		name := h[1] + h[2]
		if len(out) >= maxMixDeps {
			return nil, fmt.Errorf("more than %d dependencies", maxMixDeps)
		}
		out = append(out, sbom.Package{
			Name:      name,
			Version:   h[3],
			Ecosystem: sbom.EcosystemHex,
			Type:      "hex",
			PURL:      sbom.PURL("hex", "", name, h[3]),
		})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !opened {
		return nil, fmt.Errorf("empty mix.lock")
	}
	return out, nil
}
