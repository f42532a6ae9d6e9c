package vulnmatch

import (
	"fmt"
	"math"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
)

// Base scores from CVSS vectors, by the formulas of the specifications:
// v3.0 and v3.1 (https://www.first.org/cvss/v3.1/specification-document,
// section 7) and v2 (https://www.first.org/cvss/v2/guide, section 3.2.1).
// Only base metrics count: temporal and environmental metrics in a vector
// are accepted and ignored, as every advisory database publishes base
// scores. CVSS 4.0 is scored in cvss4.go.

// cvss3Weights are the base metric values of v3.x.
var cvss3Weights = map[string]map[string]float64{
	"AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
	"AC": {"L": 0.77, "H": 0.44},
	"PR": {"N": 0.85, "L": 0.62, "H": 0.27}, // L and H change with S:C
	"UI": {"N": 0.85, "R": 0.62},
	"S":  {"U": 0, "C": 0},
	"C":  {"H": 0.56, "L": 0.22, "N": 0},
	"I":  {"H": 0.56, "L": 0.22, "N": 0},
	"A":  {"H": 0.56, "L": 0.22, "N": 0},
}

// cvss3Optional are the temporal and environmental metrics of v3.x.
var cvss3Optional = map[string]bool{
	"E": true, "RL": true, "RC": true, "CR": true, "IR": true, "AR": true,
	"MAV": true, "MAC": true, "MPR": true, "MUI": true, "MS": true, "MC": true, "MI": true, "MA": true,
}

// CVSS3 computes the base score of a CVSS v3.0 or v3.1 vector
// ("CVSS:3.1/AV:N/AC:L/..."), returning the version ("3.0", "3.1") too.
func CVSS3(vector string) (score float64, version string, err error) {
	rest, ok := strings.CutPrefix(vector, "CVSS:3.1/")
	version = "3.1"
	if !ok {
		if rest, ok = strings.CutPrefix(vector, "CVSS:3.0/"); !ok {
			return 0, "", fmt.Errorf("CVSS vector %q: not CVSS:3.0 or CVSS:3.1", vector)
		}
		version = "3.0"
	}
	m, err := parseMetrics(vector, rest, func(k, v string) bool {
		if w, ok := cvss3Weights[k]; ok {
			_, ok = w[v]
			return ok
		}
		return cvss3Optional[k] && v != ""
	})
	if err != nil {
		return 0, "", err
	}
	for k := range cvss3Weights {
		if _, ok := m[k]; !ok {
			return 0, "", fmt.Errorf("CVSS vector %q: base metric %s missing", vector, k)
		}
	}
	changed := m["S"] == "C"
	pr := cvss3Weights["PR"][m["PR"]]
	if changed {
		switch m["PR"] {
		case "L":
			pr = 0.68
		case "H":
			pr = 0.5
		}
	}
	iss := 1 - (1-cvss3Weights["C"][m["C"]])*(1-cvss3Weights["I"][m["I"]])*(1-cvss3Weights["A"][m["A"]])
	var impact float64
	if changed {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	} else {
		impact = 6.42 * iss
	}
	exploitability := 8.22 * cvss3Weights["AV"][m["AV"]] * cvss3Weights["AC"][m["AC"]] * pr * cvss3Weights["UI"][m["UI"]]
	if impact <= 0 {
		return 0, version, nil
	}
	roundUp := roundUp31
	if version == "3.0" {
		roundUp = func(x float64) float64 { return math.Ceil(x*10) / 10 }
	}
	if changed {
		return roundUp(math.Min(1.08*(impact+exploitability), 10)), version, nil
	}
	return roundUp(math.Min(impact+exploitability, 10)), version, nil
}

// roundUp31 is v3.1's Roundup: the smallest number with one decimal that is
// equal to or higher than x, computed on integers so that floating point
// error (4.000000000000001) does not round up a whole step.
func roundUp31(x float64) float64 {
	i := int64(math.Round(x * 100000))
	if i%10000 == 0 {
		return float64(i) / 100000
	}
	return float64(i/10000+1) / 10
}

var cvss2Weights = map[string]map[string]float64{
	"AV": {"L": 0.395, "A": 0.646, "N": 1.0},
	"AC": {"H": 0.35, "M": 0.61, "L": 0.71},
	"Au": {"M": 0.45, "S": 0.56, "N": 0.704},
	"C":  {"N": 0, "P": 0.275, "C": 0.660},
	"I":  {"N": 0, "P": 0.275, "C": 0.660},
	"A":  {"N": 0, "P": 0.275, "C": 0.660},
}

var cvss2Optional = map[string]bool{"E": true, "RL": true, "RC": true, "CDP": true, "TD": true, "CR": true, "IR": true, "AR": true}

// CVSS2 computes the base score of a CVSS v2 vector ("AV:N/AC:L/Au:N/C:P/I:P/A:P",
// optionally in parentheses or prefixed "CVSS:2.0/").
func CVSS2(vector string) (float64, error) {
	rest := strings.TrimPrefix(strings.Trim(vector, "()"), "CVSS:2.0/")
	m, err := parseMetrics(vector, rest, func(k, v string) bool {
		if w, ok := cvss2Weights[k]; ok {
			_, ok = w[v]
			return ok
		}
		return cvss2Optional[k] && v != ""
	})
	if err != nil {
		return 0, err
	}
	for k := range cvss2Weights {
		if _, ok := m[k]; !ok {
			return 0, fmt.Errorf("CVSS vector %q: base metric %s missing", vector, k)
		}
	}
	impact := 10.41 * (1 - (1-cvss2Weights["C"][m["C"]])*(1-cvss2Weights["I"][m["I"]])*(1-cvss2Weights["A"][m["A"]]))
	exploitability := 20 * cvss2Weights["AV"][m["AV"]] * cvss2Weights["AC"][m["AC"]] * cvss2Weights["Au"][m["Au"]]
	f := 1.176
	if impact == 0 {
		f = 0
	}
	base := (0.6*impact + 0.4*exploitability - 1.5) * f
	return math.Round(base*10) / 10, nil
}

// parseMetrics splits "K:V/K:V" into a map, rejecting unknown or repeated
// metrics.
func parseMetrics(vector, s string, valid func(k, v string) bool) (map[string]string, error) {
	if len(vector) > 256 {
		return nil, fmt.Errorf("CVSS vector too long (%d bytes)", len(vector))
	}
	m := map[string]string{}
	for _, part := range strings.Split(s, "/") {
		k, v, ok := strings.Cut(part, ":")
		if !ok || !valid(k, v) {
			return nil, fmt.Errorf("CVSS vector %q: invalid metric %q", vector, part)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("CVSS vector %q: metric %s repeated", vector, k)
		}
		m[k] = v
	}
	return m, nil
}

// SeverityOfScore maps a CVSS v3/v4 base score to its qualitative rating.
// A score of 0 ("None") is SeverityUnknown: no finding is less than Low.
func SeverityOfScore(score float64) finding.Severity {
	switch {
	case score >= 9:
		return finding.SeverityCritical
	case score >= 7:
		return finding.SeverityHigh
	case score >= 4:
		return finding.SeverityMedium
	case score > 0:
		return finding.SeverityLow
	}
	return finding.SeverityUnknown
}

// severityOfCVSS2 maps a v2 base score (which has no Critical).
func severityOfCVSS2(score float64) finding.Severity {
	switch {
	case score >= 7:
		return finding.SeverityHigh
	case score >= 4:
		return finding.SeverityMedium
	case score > 0:
		return finding.SeverityLow
	}
	return finding.SeverityUnknown
}

// SeverityOfWord maps the words advisory databases rate with: GitHub's
// (CRITICAL, HIGH, MODERATE, LOW), Debian's urgencies (unimportant, low,
// medium, high), Ubuntu's priorities (negligible ... critical), Red Hat's
// (important, moderate). ok is false for words without a rating
// ("not yet assigned", "end-of-life").
func SeverityOfWord(word string) (finding.Severity, bool) {
	w := strings.ToLower(strings.TrimSpace(word))
	w = strings.TrimSuffix(w, "*") // Debian marks guessed urgencies with *
	switch w {
	case "critical":
		return finding.SeverityCritical, true
	case "high", "important":
		return finding.SeverityHigh, true
	case "medium", "moderate":
		return finding.SeverityMedium, true
	case "low", "negligible", "unimportant":
		return finding.SeverityLow, true
	}
	return finding.SeverityUnknown, false
}
