package catalog

import (
	"strings"
	"testing"
)

// TestComposerInstalled covers both installed.json layouts and the inputs
// that must be errors (never an empty, clean answer).
func TestComposerInstalled(t *testing.T) {
	checkParser(t, parseComposerInstalled, "vendor/composer/installed.json", "Packagist", "composer", nameVersionPURL, []parseCase{
		{"composer 2", `{"packages":[{"name":"psr/log","version":"3.0.0","license":["MIT"]}],"dev":false}`,
			[]string{"psr/log@3.0.0 pkg:composer/psr/log@3.0.0"}, ""},
		{"composer 1", `[{"name":"symfony/yaml","version":"v5.4.3"}]`,
			[]string{"symfony/yaml@v5.4.3 pkg:composer/symfony/yaml@v5.4.3"}, ""},
		{"composer 2 empty", `{"packages":[],"dev":true}`, nil, ""},
		{"composer 2 without packages", `{"dev":true}`, nil, `no "packages" list`},
		{"scalar", `"x"`, nil, "neither a list"},
		{"no version", `[{"name":"a/b"}]`, nil, "no name or version"},
		{"bad name", `[{"name":"ab","version":"1"}]`, nil, "not vendor/project"},
		{"deep name", `[{"name":"a/b/c","version":"1"}]`, nil, "not vendor/project"},
		{"truncated", `{"packages":[{"name":"a/b"`, nil, "unexpected EOF"},
	})
}

func TestComposerLicenses(t *testing.T) {
	tests := []struct{ in, want string }{
		{`["MIT","Apache-2.0"]`, "MIT,Apache-2.0"},
		{`"MIT"`, "MIT"},
		{`[""]`, ""},
		{`{"type":"MIT"}`, ""},
		{``, ""},
	}
	for _, tt := range tests {
		if got := strings.Join(composerLicenses([]byte(tt.in)), ","); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestComposerLock(t *testing.T) {
	checkParser(t, parseComposerLock, "composer.lock", "Packagist", "composer", nameVersionPURL, []parseCase{
		{"packages and dev", `{"_readme":["x"],"content-hash":"ab","packages":[{"name":"monolog/monolog","version":"3.5.0","license":["MIT"]}],"packages-dev":[{"name":"phpunit/phpunit","version":"10.5.5"}]}`,
			[]string{"monolog/monolog@3.5.0 pkg:composer/monolog/monolog@3.5.0", "phpunit/phpunit@10.5.5 pkg:composer/phpunit/phpunit@10.5.5"}, ""},
		{"no dev", `{"packages":[]}`, nil, ""},
		{"not a lock", `{"require":{"php":">=8.1"}}`, nil, `no "packages" list`},
		{"bad name", `{"packages":[{"name":"x","version":"1"}]}`, nil, "not vendor/project"},
	})
}
