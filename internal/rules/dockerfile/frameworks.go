package dockerfile

import "github.com/palisade-sec/palisade/internal/finding"

// Frameworks maps each rule of this package to the frameworks' controls
// (see finding.Frameworks); rules.Builtin merges it into the rules.
func Frameworks() map[string]finding.Frameworks {
	images := []string{"pod-security.secure-images"}
	return map[string]finding.Frameworks{
		"dockerfile/add-remote-url":        {NSA: images},
		"dockerfile/base-image-latest":     {NSA: images, MITRE: []string{"T1204.003"}},
		"dockerfile/base-image-not-pinned": {NSA: images, MITRE: []string{"T1525"}},
		"dockerfile/package-cache":         {NSA: images},
		"dockerfile/pipe-to-shell":         {NSA: images},
		"dockerfile/runs-as-root":          {NSA: []string{"pod-security.non-root", "pod-security.secure-images"}},
		"dockerfile/secret-in-env-arg":     {NSA: images, MITRE: []string{"T1552.001"}},
		"dockerfile/sudo":                  {NSA: []string{"pod-security.non-root"}, MITRE: []string{"T1548.001"}},
	}
}
