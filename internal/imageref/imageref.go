// Package imageref parses container image references as the container
// runtime resolves them, and matches them against registry allow-lists.
package imageref

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// DockerHub is the canonical name of the default registry.
const DockerHub = "docker.io"

// Ref is a parsed image reference.
type Ref struct {
	// Original is the reference as written.
	Original string
	// Registry is the registry host, "docker.io" when none is written.
	Registry string
	// Repository is the path inside the registry ("library/nginx").
	Repository string
	// Tag is the tag as written; empty when none was written.
	Tag string
	// Digest is "sha256:..." when the reference pins one.
	Digest string
}

// Parse parses an image reference. A reference without tag or digest is
// valid; the runtime pulls ":latest" for it, which HasMutableTag reports.
func Parse(s string) (Ref, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Ref{}, fmt.Errorf("empty image reference")
	}
	if r, ok := parseSimple(s); ok {
		return r, nil
	}
	return parseSlow(s)
}

// parseSlow is Parse by go-containerregistry, for every reference
// parseSimple leaves to it; it decides every error.
func parseSlow(s string) (Ref, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return Ref{}, fmt.Errorf("image %q: %w", s, err)
	}
	r := Ref{Original: s, Registry: NormaliseHost(ref.Context().RegistryStr()), Repository: ref.Context().RepositoryStr()}
	if r.Registry == "" || strings.HasPrefix(r.Registry, ":") {
		// go-containerregistry accepts ":443/x"; no runtime pulls it.
		return Ref{}, fmt.Errorf("image %q: no registry host before the port", s)
	}
	if r.Registry == DockerHub && !strings.Contains(r.Repository, "/") {
		// Docker Hub's official images live under "library/", however
		// the host was spelt.
		r.Repository = "library/" + r.Repository
	}
	rest := s
	if i := strings.Index(rest, "@"); i >= 0 {
		r.Digest = rest[i+1:]
		rest = rest[:i]
	}
	// A tag follows the last ":" after the last "/" (a ":" before a "/"
	// is a registry port).
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		r.Tag = rest[i+1:]
	}
	return r, nil
}

// parseSimple parses the common shape of a reference,
// [host[:port]/]path[:tag][@sha256:hex], where every part has only
// characters go-containerregistry accepts there, exactly as parseSlow
// would; ok is false for anything else (errors included), which then
// takes parseSlow. go-containerregistry validates the host with
// url.Parse and splits the reference more than once: ~5 µs a reference,
// ~7% of the CPU of a 10,000-workload scan, whose 20,000 containers have
// mostly distinct images. FuzzParseSimpleMatchesSlow holds the two equal.
func parseSimple(s string) (Ref, bool) {
	base, dig, pinned := strings.Cut(s, "@")
	if !pinned {
		return parseSimpleTagged(s)
	}
	if !sha256Digest(dig) {
		return Ref{}, false
	}
	// go-containerregistry parses the name before the digest, and then
	// its canonical name again (with "library/" on Docker Hub), whose
	// repository must still fit 255 characters.
	r, ok := parseSimpleTagged(base)
	if !ok || len(r.Repository) > 255 {
		return Ref{}, false
	}
	r.Original, r.Digest = s, dig
	return r, true
}

// sha256Digest reports "sha256:" and 64 lower-case hex digits.
func sha256Digest(d string) bool {
	hex, ok := strings.CutPrefix(d, "sha256:")
	return ok && len(hex) == 64 && onlyBytes(hex, func(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' })
}

// parseSimpleTagged is parseSimple of a reference without a digest.
func parseSimpleTagged(s string) (Ref, bool) {
	if strings.IndexByte(s, '@') >= 0 {
		return Ref{}, false
	}
	base, tag := s, ""
	if i := strings.LastIndexByte(s, ':'); i >= 0 && strings.IndexByte(s[i+1:], '/') < 0 {
		base, tag = s[:i], s[i+1:]
		if len(tag) < 1 || len(tag) > 128 || !onlyBytes(tag, tagByte) {
			return Ref{}, false
		}
	}
	host, repo := "", base
	if j := strings.IndexByte(base, '/'); j >= 0 {
		if first := base[:j]; first == "localhost" || strings.ContainsAny(first, ".:") {
			host, repo = first, base[j+1:]
		}
	}
	if len(repo) < 1 || len(repo) > 255 || !onlyBytes(repo, repoByte) {
		return Ref{}, false
	}
	if host == "" || host == DockerHub {
		host = name.DefaultRegistry
	} else if !simpleHost(host) {
		return Ref{}, false
	}
	r := Ref{Original: s, Registry: NormaliseHost(host), Repository: repo, Tag: tag}
	if r.Registry == DockerHub && strings.IndexByte(r.Repository, '/') < 0 {
		r.Repository = "library/" + r.Repository
	}
	return r, true
}

// simpleHost reports a host that url.Parse takes as it is: lower-case
// letters, digits, dots and dashes, then at most a port of 1-5 digits.
func simpleHost(h string) bool {
	port := ""
	if i := strings.IndexByte(h, ':'); i >= 0 {
		h, port = h[:i], h[i+1:]
		if len(port) < 1 || len(port) > 5 || !onlyBytes(port, func(c byte) bool { return '0' <= c && c <= '9' }) {
			return false
		}
	}
	return h != "" && onlyBytes(h, func(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-' })
}

// tagByte and repoByte are go-containerregistry's tag and repository
// characters.
func tagByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.'
}

func repoByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' || c == '/'
}

func onlyBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// dockerHubHosts are the spellings of Docker Hub the runtime sends to the
// same registry.
var dockerHubHosts = map[string]bool{DockerHub: true, name.DefaultRegistry: true, "registry-1.docker.io": true}

// NormaliseHost returns a registry host as the runtime reaches it: DNS
// names are case-insensitive, 443 is the default HTTPS port, and Docker Hub
// has several names. Every policy decision compares normalised hosts, so a
// respelling of a registry cannot escape a rule written for it.
func NormaliseHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if bare, ok := strings.CutSuffix(h, ":443"); ok && (strings.ContainsAny(bare, ".]") || bare == "localhost") {
		// Without its port a host with neither "." nor ":" would read as
		// a Docker Hub namespace, so the port stays on such names.
		h = bare
	}
	if dockerHubHosts[h] {
		return DockerHub
	}
	return h
}

// loopbackHosts are names of the local host. A runtime treats them as
// different registries (their certificates and credentials differ), but
// they reach the same listener, so requirements match any of them.
var loopbackHosts = []string{"localhost", "127.0.0.1", "[::1]"}

// aliases returns the registry/repository names a requirement compares:
// the canonical name and, for a loopback host, the same repository under
// the other loopback names (port kept).
func (r Ref) aliases() []string {
	out := []string{r.Name()}
	host, port := r.Registry, ""
	if i := strings.LastIndex(host, ":"); i >= 0 && !strings.HasSuffix(host, "]") {
		host, port = host[:i], host[i:]
	}
	for _, l := range loopbackHosts {
		if l == host {
			for _, other := range loopbackHosts {
				if other != host {
					out = append(out, other+port+"/"+r.Repository)
				}
			}
			break
		}
	}
	return out
}

// RequiredByAny reports whether a requirement (a signature or a scan) with
// these image patterns applies to the image. Unlike MatchesAny, which
// grants, it errs towards applying: a loopback registry written as
// "localhost" is covered by a pattern for "127.0.0.1" and the reverse.
func (r Ref) RequiredByAny(patterns []string) bool {
	for _, n := range r.aliases() {
		alias := r
		alias.Registry, alias.Repository, _ = strings.Cut(n, "/")
		if alias.MatchesAny(patterns) {
			return true
		}
	}
	return false
}

// Pinned reports whether the reference names a digest, so what runs is
// exactly what was reviewed.
func (r Ref) Pinned() bool { return r.Digest != "" }

// Latest reports whether the image resolves to the mutable "latest" tag,
// explicitly or because no tag and no digest were written.
func (r Ref) Latest() bool {
	return r.Tag == "latest" || (r.Tag == "" && r.Digest == "")
}

// Name is registry/repository, e.g. "docker.io/library/nginx".
func (r Ref) Name() string { return r.Registry + "/" + r.Repository }

// MatchesAny reports whether the image matches an allow-list entry. An
// entry is a registry host ("registry.example.com", "*.example.com") or a
// registry and repository prefix ("ghcr.io/acme/*", "docker.io/library/nginx").
// "*" matches any run of characters within one path segment.
func (r Ref) MatchesAny(allowed []string) bool {
	for _, a := range allowed {
		if r.Matches(a) {
			return true
		}
	}
	return false
}

// Matches reports whether the image matches one allow-list entry.
func (r Ref) Matches(entry string) bool {
	entry = strings.TrimSuffix(strings.TrimSpace(entry), "/")
	if entry == "" {
		return false
	}
	pattern := strings.Split(entry, "/")
	// The entry's host is normalised as the image's is; "docker.io/nginx"
	// means the official image, as it does on the command line.
	pattern[0] = NormaliseHost(pattern[0])
	if pattern[0] == DockerHub && len(pattern) == 2 && pattern[1] != "*" {
		pattern = []string{DockerHub, "library", pattern[1]}
	}
	subject := strings.Split(r.Name(), "/")
	if len(pattern) == 1 {
		return segmentMatch(pattern[0], subject[0])
	}
	// A trailing "*" segment covers any depth below it.
	if pattern[len(pattern)-1] == "*" {
		prefix := pattern[:len(pattern)-1]
		if len(subject) <= len(prefix) {
			return false
		}
		subject = subject[:len(prefix)]
		pattern = prefix
	}
	if len(pattern) != len(subject) {
		return false
	}
	for i := range pattern {
		if !segmentMatch(pattern[i], subject[i]) {
			return false
		}
	}
	return true
}

// segmentMatch matches one segment, "*" standing for any characters.
func segmentMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}
