package vulndb

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/palisade-sec/palisade/internal/jsonenc"
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
	b = jsonenc.AppendStringHTML(b, info.ID)
	if len(info.CVSS) > 0 {
		b = append(b, `,"cvss":[`...)
		for i, s := range info.CVSS {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"version":`...)
			b = jsonenc.AppendStringHTML(b, s.Version)
			b = append(b, `,"vector":`...)
			b = jsonenc.AppendStringHTML(b, s.Vector)
			if s.Source != "" {
				b = append(b, `,"source":`...)
				b = jsonenc.AppendStringHTML(b, s.Source)
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
			b = jsonenc.AppendStringHTML(b, e.Date)
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
