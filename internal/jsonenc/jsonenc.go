// Package jsonenc appends JSON strings exactly as encoding/json writes
// them, with HTML escaping off (AppendString) or on (AppendStringHTML),
// without reflection or allocation. The manifest loader (which turns YAML
// into JSON), the report writer (which streams tens of thousands of
// findings) and the vulnerability database's CVE encoder (which must write
// the bytes json.Marshal wrote before it) all write strings on hot paths.
package jsonenc

import "unicode/utf8"

const hex = "0123456789abcdef"

// plain marks the bytes written as they are: printable ASCII but `"` and
// `\`. One table look-up per byte instead of four comparisons: reports
// write tens of megabytes of strings.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainHTML is plain without <, > and &, which json.Marshal writes as
// \u003c, \u003e and \u0026.
var plainHTML = func() (t [256]bool) {
	t = plain
	t['<'], t['>'], t['&'] = false, false, false
	return t
}()

// AppendString appends s as a quoted JSON string: `"` and `\` escaped,
// control characters as \n, \r, \t, \b, \f or \u00XX, invalid UTF-8 as
// \ufffd, and U+2028/U+2029 escaped, as encoding/json does.
func AppendString[T string | []byte](dst []byte, s T) []byte {
	return appendString(dst, s, &plain)
}

// AppendStringHTML appends s as json.Marshal quotes it: as AppendString,
// and <, > and & escaped as \u003c, \u003e and \u0026.
func AppendStringHTML[T string | []byte](dst []byte, s T) []byte {
	return appendString(dst, s, &plainHTML)
}

func appendString[T string | []byte](dst []byte, s T, plain *[256]bool) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func decodeRune[T string | []byte](s T) (rune, int) {
	// At most 4 bytes: the conversion is cheap and only non-ASCII text
	// reaches here.
	n := min(len(s), utf8.UTFMax)
	var b [utf8.UTFMax]byte
	copy(b[:], s[:n])
	return utf8.DecodeRune(b[:n])
}

// Strings follows the string literals of valid JSON one byte at a time,
// for byte loops that must not look inside strings (stripping whitespace,
// counting nesting) and would otherwise each keep the same two flags.
type Strings struct{ in, escaped bool }

// Inside reports whether c, the next byte of the JSON text, belongs to a
// string literal, its quotes included.
func (s *Strings) Inside(c byte) bool {
	switch {
	case s.in:
		switch {
		case s.escaped:
			s.escaped = false
		case c == '\\':
			s.escaped = true
		case c == '"':
			s.in = false
		}
		return true
	case c == '"':
		s.in = true
		return true
	}
	return false
}

// SkipSpace returns the index of the first byte at or after i in data that
// is not JSON white space (space, tab, newline, carriage return), or
// len(data): the one white-space rule of the hand-written decoders.
func SkipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}
