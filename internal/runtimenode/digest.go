package runtimenode

import "strings"

// digestOf returns the sha256 digest of an image reference or image ID
// ("…@sha256:…" or "sha256:…"), or "" when it has none.
func digestOf(s string) string {
	if i := strings.LastIndex(s, "@"); i >= 0 {
		s = s[i+1:]
	}
	if strings.HasPrefix(s, "sha256:") && len(s) == len("sha256:")+64 {
		return s
	}
	return ""
}
