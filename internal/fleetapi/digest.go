package fleetapi

import "strings"

// DigestOf returns the sha256 digest of an image reference or a
// container status's image ID ("…@sha256:…" or "sha256:…"), or "" when it
// has none: the key under which the agent and the node sensors name an
// image.
func DigestOf(s string) string {
	if i := strings.LastIndex(s, "@"); i >= 0 {
		s = s[i+1:]
	}
	if strings.HasPrefix(s, "sha256:") && len(s) == len("sha256:")+64 {
		return s
	}
	return ""
}
