package catalog

import "testing"

// TestGemfileLock reads GEM specs (with platforms and prereleases), skips
// GIT and PATH gems and dependency lines, and refuses what is not a lock.
func TestGemfileLock(t *testing.T) {
	const lock = "GIT\n  remote: https://github.com/example/forked.git\n  revision: 0123abcd\n  specs:\n    forked (0.1.0)\n\n" +
		"PATH\n  remote: .\n  specs:\n    myapp (1.0.0)\n\n" +
		"GEM\n  remote: https://rubygems.org/\n  specs:\n    nokogiri (1.16.0-x86_64-linux)\n      racc (~> 1.4)\n    racc (1.7.3)\n    rails (7.1.0.rc1)\n    sass-embedded (1.69.5-arm64-darwin)\n    weird (1.0.0-beta)\n\n" +
		"PLATFORMS\n  x86_64-linux\n\nDEPENDENCIES\n  nokogiri\n  rails\n\nBUNDLED WITH\n   2.5.3\n"
	checkParser(t, parseGemfileLock, "Gemfile.lock", "RubyGems", "gem", nameVersionPURL, []parseCase{
		{"sections", lock, []string{
			"nokogiri@1.16.0 pkg:gem/nokogiri@1.16.0?platform=x86_64-linux",
			"racc@1.7.3 pkg:gem/racc@1.7.3",
			"rails@7.1.0.rc1 pkg:gem/rails@7.1.0.rc1",
			"sass-embedded@1.69.5 pkg:gem/sass-embedded@1.69.5?platform=arm64-darwin",
			"weird@1.0.0-beta pkg:gem/weird@1.0.0-beta",
		}, ""},
		{"CRLF", "GEM\r\n  remote: https://rubygems.org/\r\n  specs:\r\n    rack (3.0.8)\r\n", []string{"rack@3.0.8 pkg:gem/rack@3.0.8"}, ""},
		{"no gems", "DEPENDENCIES\n\nBUNDLED WITH\n   2.5.3\n", nil, ""},
		{"not a lock", "source 'https://rubygems.org'\ngem 'rails'\n", nil, "not a Gemfile.lock"},
		{"empty", "", nil, "not a Gemfile.lock"},
		{"spec without version", "GEM\n  specs:\n    rack\n", nil, "not \"name (version)\""},
		{"empty version", "GEM\n  specs:\n    rack ()\n", nil, "no version"},
	})
}
