package vulndb

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// encodeCVEInfo returns info's stored JSON: byte for byte what
// encoding/json's Marshal gives (the database is the same whichever way
// it was built), written directly for the two kinds of entry an import
// holds hundreds of thousands of (NVD's scores, EPSS's scores), where
// reflection was a tenth of an import's CPU. Other entries go through
// encoding/json.
func encodeCVEInfo(info *CVEInfo) ([]byte, error) {
	if info.KEV != nil || info.Statuses != nil || info.Priorities != nil ||
		(info.EPSS != nil && !(finite(info.EPSS.Score) && finite(info.EPSS.Percentile))) {
		return json.Marshal(info)
	}
	b := make([]byte, 0, 64+len(info.ID)+len(info.CVSS)*128)
	b = append(b, `{"id":`...)
	b = appendJSONString(b, info.ID)
	if len(info.CVSS) > 0 {
		b = append(b, `,"cvss":[`...)
		for i, s := range info.CVSS {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"version":`...)
			b = appendJSONString(b, s.Version)
			b = append(b, `,"vector":`...)
			b = appendJSONString(b, s.Vector)
			if s.Source != "" {
				b = append(b, `,"source":`...)
				b = appendJSONString(b, s.Source)
			}
			if s.Primary {
				b = append(b, `,"primary":true`...)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if e := info.EPSS; e != nil {
		b = append(b, `,"epss":{"score":`...)
		b = appendJSONFloat(b, e.Score)
		b = append(b, `,"percentile":`...)
		b = appendJSONFloat(b, e.Percentile)
		if e.Date != "" {
			b = append(b, `,"date":`...)
			b = appendJSONString(b, e.Date)
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

func finite(f float64) bool { return !math.IsInf(f, 0) && !math.IsNaN(f) }

// appendJSONFloat appends f as encoding/json writes a float64 (ES6's
// number to string conversion); f must be finite.
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 is written e-9.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendJSONString appends s quoted as encoding/json quotes it: HTML's
// <, > and & escaped, invalid UTF-8 replaced by U+FFFD, U+2028 and U+2029
// escaped.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(append(dst, s[start:]...), '"')
}
