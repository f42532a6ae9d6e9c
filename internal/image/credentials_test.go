package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// TestLoadDockerConfig reads both Docker config formats and resolves each
// registry to its credentials (anonymous when it has none); helpers are
// never run and bad files are errors that do not show their content.
func TestLoadDockerConfig(t *testing.T) {
	const basic = "dXNlcjpzM2NyZXQ=" // user:s3cret
	for _, tc := range []struct {
		name, file string
		want       map[string]string // registry -> "user:password", "" anonymous
		err        string
	}{
		{name: "config.json", file: `{"auths": {"https://registry.example:5000/v1/": {"auth": "` + basic + `"}, "docker.io": {"username": "hub", "password": "pw"}}}`,
			want: map[string]string{"registry.example:5000": "user:s3cret", "index.docker.io": "hub:pw", "other.example": ""}},
		{name: "legacy .dockercfg", file: `{"registry.example:5000": {"auth": "` + basic + `"}}`,
			want: map[string]string{"registry.example:5000": "user:s3cret"}},
		{name: "credential helper only", file: `{"credsStore": "desktop", "credHelpers": {"registry.example:5000": "ecr-login"}}`,
			want: map[string]string{"registry.example:5000": ""}},
		{name: "bad base64", file: `{"auths": {"registry.example:5000": {"auth": "!!s3cret"}}}`, err: "auth for registry.example:5000 is not base64"},
		{name: "not JSON", file: `password=s3cret`, err: "not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "config.json")
			if err := os.WriteFile(p, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := LoadDockerConfig(p)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("error %v, want %q without the secret", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for host, want := range tc.want {
				reg, err := name.NewRegistry(host)
				if err != nil {
					t.Fatal(err)
				}
				a, err := c.Resolve(reg)
				if err != nil {
					t.Fatal(err)
				}
				cfg, err := a.Authorization()
				if err != nil {
					t.Fatal(err)
				}
				got := ""
				if a != authn.Anonymous {
					got = cfg.Username + ":" + cfg.Password
				}
				if got != want {
					t.Errorf("%s: %q, want %q", host, got, want)
				}
			}
		})
	}
	if _, err := LoadDockerConfig(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file accepted")
	}
}
