package imageref

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in                          string
		registry, repo, tag, digest string
		latest, pinned              bool
	}{
		{"nginx", "docker.io", "library/nginx", "", "", true, false},
		{"nginx:1.27", "docker.io", "library/nginx", "1.27", "", false, false},
		{"nginx:latest", "docker.io", "library/nginx", "latest", "", true, false},
		{"localhost:5000/app", "localhost:5000", "app", "", "", true, false},
		{"localhost:5000/app:v1", "localhost:5000", "app", "v1", "", false, false},
		{"ghcr.io/acme/api@sha256:" + sha, "ghcr.io", "acme/api", "", "sha256:" + sha, false, true},
		{"ghcr.io/acme/api:v2@sha256:" + sha, "ghcr.io", "acme/api", "v2", "sha256:" + sha, false, true},
		{"index.docker.io/bitnami/redis:7", "docker.io", "bitnami/redis", "7", "", false, false},
	}
	for _, tt := range tests {
		r, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if r.Registry != tt.registry || r.Repository != tt.repo || r.Tag != tt.tag || r.Digest != tt.digest || r.Latest() != tt.latest || r.Pinned() != tt.pinned {
			t.Errorf("Parse(%q) = %+v latest=%v pinned=%v", tt.in, r, r.Latest(), r.Pinned())
		}
	}
	for _, bad := range []string{"", "UPPER/case", "nginx@sha256:short", "a b"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestMatches(t *testing.T) {
	tests := []struct {
		image, entry string
		want         bool
	}{
		{"nginx", "docker.io", true},
		{"nginx", "docker.io/library/*", true},
		{"nginx", "docker.io/library/nginx", true},
		{"nginx", "index.docker.io", true},
		{"bitnami/redis", "docker.io/library/*", false},
		{"ghcr.io/acme/api:v1", "ghcr.io/acme/*", true},
		{"ghcr.io/acme/team/api:v1", "ghcr.io/acme/*", true},
		{"ghcr.io/evil/api", "ghcr.io/acme/*", false},
		{"eu.gcr.io/p/x", "*.gcr.io", true},
		{"gcr.io/p/x", "*.gcr.io", false},
		{"registry.example.com.evil.io/x", "registry.example.com", false},
		{"localhost:5000/app", "localhost:5000", true},
	}
	for _, tt := range tests {
		r, err := Parse(tt.image)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Matches(tt.entry); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.image, tt.entry, got, tt.want)
		}
	}
}

// TestRespellings: a registry spelt differently but reached the same way
// by the runtime is the same registry for every policy decision.
func TestRespellings(t *testing.T) {
	tests := []struct {
		image, name string
	}{
		{"REGISTRY.EXAMPLE.COM/app:1", "registry.example.com/app"},
		{"Registry.Example.Com/team/app@sha256:" + sha, "registry.example.com/team/app"},
		{"registry.example.com:443/app:1", "registry.example.com/app"},
		{"REGISTRY.EXAMPLE.COM:443/app", "registry.example.com/app"},
		{"registry.example.com:5000/app", "registry.example.com:5000/app"},
		{"docker.io/nginx", "docker.io/library/nginx"},
		{"index.docker.io/nginx", "docker.io/library/nginx"},
		{"registry-1.docker.io/nginx", "docker.io/library/nginx"},
		{"registry-1.docker.io/library/nginx:1", "docker.io/library/nginx"},
		{"DOCKER.IO/nginx", "docker.io/library/nginx"},
		{"docker.io:443/bitnami/redis", "docker.io/bitnami/redis"},
		{"LOCALHOST:5000/app", "localhost:5000/app"},
	}
	for _, tt := range tests {
		r, err := Parse(tt.image)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.image, err)
			continue
		}
		if r.Name() != tt.name {
			t.Errorf("Parse(%q).Name() = %q, want %q", tt.image, r.Name(), tt.name)
		}
	}
}

// TestMatchesRespelt: allow-lists and requirements decide the same for
// every spelling of the image and of the entry.
func TestMatchesRespelt(t *testing.T) {
	tests := []struct {
		image, entry      string
		matches, required bool
	}{
		{"REGISTRY.EXAMPLE.COM/app:1", "registry.example.com", true, true},
		{"registry.example.com:443/app:1", "registry.example.com/*", true, true},
		{"registry.example.com/app:1", "REGISTRY.example.com:443/*", true, true},
		{"registry.example.com:5000/app", "registry.example.com", false, false},
		{"registry-1.docker.io/nginx", "docker.io/library/*", true, true},
		{"index.docker.io/library/nginx", "docker.io/nginx", true, true},
		{"nginx", "registry-1.docker.io/library/nginx", true, true},
		{"docker.io/bitnami/redis", "docker.io/nginx", false, false},
		// Loopback names are different registries to the runtime: an
		// allow-list entry grants only the name written, a requirement
		// covers every name of the local host.
		{"localhost:5000/app", "127.0.0.1:5000/*", false, true},
		{"127.0.0.1:5000/app", "localhost:5000", false, true},
		{"[::1]:5000/app", "localhost:5000", false, true},
		{"localhost/app", "127.0.0.1", false, true},
		{"localhost:5001/app", "127.0.0.1:5000", false, false},
		{"localhost:5000/app", "localhost:5000", true, true},
	}
	for _, tt := range tests {
		r, err := Parse(tt.image)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.MatchesAny([]string{tt.entry}); got != tt.matches {
			t.Errorf("%q MatchesAny %q = %v, want %v", tt.image, tt.entry, got, tt.matches)
		}
		if got := r.RequiredByAny([]string{tt.entry}); got != tt.required {
			t.Errorf("%q RequiredByAny %q = %v, want %v", tt.image, tt.entry, got, tt.required)
		}
	}
}

// FuzzParse: any input parses or fails without panicking, and a parsed
// reference is normalised: parsing its name again changes nothing.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"nginx", "REGISTRY.EXAMPLE.COM:443/app:1", "registry-1.docker.io/nginx@sha256:" + sha, "[::1]:5000/app", "localhost/x", "docker.io:443/a/b/c:tag"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(r.Name())
		if err != nil {
			t.Fatalf("Parse(%q) gave name %q that does not parse: %v", s, r.Name(), err)
		}
		if again.Name() != r.Name() {
			t.Fatalf("Parse(%q).Name() = %q, parsed again %q", s, r.Name(), again.Name())
		}
		_ = r.RequiredByAny([]string{r.Name(), "*", "localhost:5000/*"})
	})
}

// parseSimple must parse exactly as go-containerregistry does, or leave
// the reference to it.
var simpleCases = []string{
	"nginx", "nginx:latest", "nginx:1.27", "library/nginx", "docker.io/nginx", "docker.io/library/nginx:1",
	"index.docker.io/bitnami/redis:7", "registry-1.docker.io/nginx", "ghcr.io/acme/app-24:v17",
	"localhost/x", "localhost:5000/app:v1", "registry.example.com:443/app", "reg.example.com:443/a/b:c",
	"gcr.io/distroless/static:nonroot", "quay.io/a/b/c/d:TAG_1.2-x", "my-registry:5000/x",
	"foo:bar/baz", "a:1:2", "UPPER/case", "ghcr.io/Acme/app", "x:", ":x", "/x", "x/", "a//b", "ghcr.io/",
	"REGISTRY.EXAMPLE.COM/app", "[::1]:5000/app", "127.0.0.1:5000/app", "host:99999999/app", "host:/app",
	"example.com:443:1/x", "docker.io:443/a/b/c:tag", "a.b/c:" + strings.Repeat("t", 129), "a b", "é/x",
	"-x.io/y", "x.io/_y", "x.io/y:-", "localhost", "localhost:5000", "http://x.io/y",
	"nginx@sha256:" + sha, "nginx:1.27@sha256:" + sha, "registry.example.com/team/app-0:1.5.6@sha256:" + sha,
	"localhost:5000/a@sha256:" + sha, "a@b@sha256:" + sha, "nginx@sha256:" + strings.ToUpper(sha), "nginx@sha256:abc",
	"nginx@sha512:" + sha + sha, "nginx@", "@sha256:" + sha, "x.io/y:@sha256:" + sha,
	strings.Repeat("n", 250) + "@sha256:" + sha, "ghcr.io/" + strings.Repeat("n", 250) + "@sha256:" + sha,
	strings.Repeat("n", 250),
}

func TestParseSimpleMatchesSlow(t *testing.T) {
	took := 0
	for _, s := range simpleCases {
		if checkSimpleMatchesSlow(t, s) {
			took++
		}
	}
	if took < 15 {
		t.Errorf("parseSimple took %d of the %d cases; the common ones must not need go-containerregistry", took, len(simpleCases))
	}
	if _, ok := parseSimple("nginx:1.27"); !ok {
		t.Error("parseSimple does not take nginx:1.27")
	}
}

// checkSimpleMatchesSlow reports whether parseSimple took s, failing t
// when its result differs from parseSlow's.
func checkSimpleMatchesSlow(t *testing.T, s string) bool {
	t.Helper()
	got, ok := parseSimple(s)
	if !ok {
		return false
	}
	want, err := parseSlow(s)
	if err != nil {
		t.Errorf("parseSimple(%q) = %+v; go-containerregistry refuses it: %v", s, got, err)
	} else if got != want {
		t.Errorf("parseSimple(%q) = %+v, go-containerregistry %+v", s, got, want)
	}
	return true
}

func FuzzParseSimpleMatchesSlow(f *testing.F) {
	for _, s := range simpleCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkSimpleMatchesSlow(t, strings.TrimSpace(s))
	})
}
