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
	ref, err := name.ParseReference(s)
	if err != nil {
		return Ref{}, fmt.Errorf("image %q: %w", s, err)
	}
	r := Ref{Original: s, Registry: ref.Context().RegistryStr(), Repository: ref.Context().RepositoryStr()}
	if r.Registry == name.DefaultRegistry {
		r.Registry = DockerHub
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
	if entry == "index.docker.io" || strings.HasPrefix(entry, "index.docker.io/") {
		entry = DockerHub + strings.TrimPrefix(entry, "index.docker.io")
	}
	pattern := strings.Split(entry, "/")
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
