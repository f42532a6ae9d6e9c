package imageref

import "testing"

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
