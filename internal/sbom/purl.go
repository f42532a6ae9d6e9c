package sbom

import (
	"sort"
	"strings"
)

// Qualifier is one key=value qualifier of a Package URL.
type Qualifier struct{ Key, Value string }

// PURL builds a Package URL (purl-spec): pkg:type/namespace/name@version?qualifiers.
// The namespace may hold several segments separated by "/" (Go module
// paths, Maven group IDs do not); each segment is percent-encoded on its
// own. Qualifiers with an empty value are dropped and the rest are sorted
// by key, as the specification's canonical form requires.
func PURL(typ, namespace, name, version string, qualifiers ...Qualifier) string {
	var b strings.Builder
	b.WriteString("pkg:")
	b.WriteString(strings.ToLower(typ))
	b.WriteByte('/')
	if namespace != "" {
		for _, seg := range strings.Split(strings.Trim(namespace, "/"), "/") {
			if seg == "" {
				continue
			}
			b.WriteString(purlEscape(seg))
			b.WriteByte('/')
		}
	}
	b.WriteString(purlEscape(name))
	if version != "" {
		b.WriteByte('@')
		b.WriteString(purlEscape(version))
	}
	q := make([]Qualifier, 0, len(qualifiers))
	for _, x := range qualifiers {
		if x.Value != "" {
			q = append(q, Qualifier{strings.ToLower(x.Key), x.Value})
		}
	}
	sort.Slice(q, func(i, j int) bool { return q[i].Key < q[j].Key })
	for i, x := range q {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(x.Key)
		b.WriteByte('=')
		b.WriteString(purlEscape(x.Value))
	}
	return b.String()
}

// purlEscape percent-encodes everything but the unreserved characters of
// RFC 3986 (and ':' which purl-spec allows unencoded), so "@" in npm
// scopes becomes %40 and "+" in Debian versions %2B.
func purlEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == ':':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
