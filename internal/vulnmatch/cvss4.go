package vulnmatch

import (
	"fmt"
	"math"
	"strings"
)

// CVSS 4.0 scores (https://www.first.org/cvss/v4.0/specification-document,
// section 8). Unlike v3.x, v4.0 has no formula: a vector falls into one of
// 270 "macro vectors" (six equivalence classes EQ1..EQ6 of its metrics),
// each scored by FIRST's expert-ranked lookup table; the vector's score is
// its macro vector's, lowered by how far the vector lies from the most
// severe vectors of that macro vector, in proportion to the score gap to
// the next lower macro vector of each class. The threat metric (E) and
// the environmental metrics count when present (CVSS-BT, -BE, -BTE
// scores); absent, they take the worst case, as the specification says.
// Supplemental metrics are validated and never change the score.

// cvss4Values lists each metric's allowed values, in the specification's
// order. Base metrics are required; every other metric defaults to X.
var cvss4Values = map[string][]string{
	"AV": {"N", "A", "L", "P"}, "AC": {"L", "H"}, "AT": {"N", "P"}, "PR": {"N", "L", "H"}, "UI": {"N", "P", "A"},
	"VC": {"H", "L", "N"}, "VI": {"H", "L", "N"}, "VA": {"H", "L", "N"},
	"SC": {"H", "L", "N"}, "SI": {"H", "L", "N"}, "SA": {"H", "L", "N"},
	"E":  {"X", "A", "P", "U"},
	"CR": {"X", "H", "M", "L"}, "IR": {"X", "H", "M", "L"}, "AR": {"X", "H", "M", "L"},
	"MAV": {"X", "N", "A", "L", "P"}, "MAC": {"X", "L", "H"}, "MAT": {"X", "N", "P"}, "MPR": {"X", "N", "L", "H"},
	"MUI": {"X", "N", "P", "A"}, "MVC": {"X", "H", "L", "N"}, "MVI": {"X", "H", "L", "N"}, "MVA": {"X", "H", "L", "N"},
	"MSC": {"X", "H", "L", "N"}, "MSI": {"X", "S", "H", "L", "N"}, "MSA": {"X", "S", "H", "L", "N"},
	"S": {"X", "N", "P"}, "AU": {"X", "N", "Y"}, "R": {"X", "A", "U", "I"}, "V": {"X", "D", "C"},
	"RE": {"X", "L", "M", "H"}, "U": {"X", "Clear", "Green", "Amber", "Red"},
}

// cvss4Base are the base metrics, which every vector must have.
var cvss4Base = []string{"AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA"}

// cvss4Metrics are a parsed vector's metrics.
type cvss4Metrics map[string]string

// parseCVSS4 parses and validates a "CVSS:4.0/..." vector.
func parseCVSS4(vector string) (cvss4Metrics, error) {
	rest, ok := strings.CutPrefix(vector, "CVSS:4.0/")
	if !ok {
		return nil, fmt.Errorf("CVSS vector %q: not CVSS:4.0", vector)
	}
	m, err := parseMetrics(vector, rest, func(k, v string) bool {
		for _, x := range cvss4Values[k] {
			if x == v {
				return true
			}
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	for _, k := range cvss4Base {
		if _, ok := m[k]; !ok {
			return nil, fmt.Errorf("CVSS vector %q: base metric %s missing", vector, k)
		}
	}
	return m, nil
}

// CheckCVSS4 validates a CVSS 4.0 vector.
func CheckCVSS4(vector string) error {
	_, err := parseCVSS4(vector)
	return err
}

// CVSS4 computes the score of a CVSS 4.0 vector.
func CVSS4(vector string) (float64, error) {
	m, err := parseCVSS4(vector)
	if err != nil {
		return 0, err
	}
	return m.score(), nil
}

// get is the value a metric takes in the score: the modified
// (environmental) value where one is set, the worst case for an unset
// threat or security requirement, else the base value.
func (m cvss4Metrics) get(k string) string {
	v := m[k]
	switch k {
	case "E":
		if v == "" || v == "X" {
			return "A"
		}
		return v
	case "CR", "IR", "AR":
		if v == "" || v == "X" {
			return "H"
		}
		return v
	}
	if mv := m["M"+k]; mv != "" && mv != "X" {
		return mv
	}
	if v == "" {
		return "X"
	}
	return v
}

// macroVector returns the six EQ levels of the vector (specification
// section 8.2, table 24), each 0 (most severe) to 2.
func (m cvss4Metrics) macroVector() [6]int {
	g := m.get
	var eq [6]int
	switch av, pr, ui := g("AV"), g("PR"), g("UI"); {
	case av == "N" && pr == "N" && ui == "N":
		eq[0] = 0
	case (av == "N" || pr == "N" || ui == "N") && av != "P":
		eq[0] = 1
	default:
		eq[0] = 2
	}
	if !(g("AC") == "L" && g("AT") == "N") {
		eq[1] = 1
	}
	switch vc, vi, va := g("VC"), g("VI"), g("VA"); {
	case vc == "H" && vi == "H":
		eq[2] = 0
	case vc == "H" || vi == "H" || va == "H":
		eq[2] = 1
	default:
		eq[2] = 2
	}
	// EQ4 reads the modified MSI/MSA themselves: only they can be Safety.
	switch {
	case m["MSI"] == "S" || m["MSA"] == "S":
		eq[3] = 0
	case g("SC") == "H" || g("SI") == "H" || g("SA") == "H":
		eq[3] = 1
	default:
		eq[3] = 2
	}
	switch g("E") {
	case "A":
		eq[4] = 0
	case "P":
		eq[4] = 1
	default:
		eq[4] = 2
	}
	if !((g("CR") == "H" && g("VC") == "H") || (g("IR") == "H" && g("VI") == "H") || (g("AR") == "H" && g("VA") == "H")) {
		eq[5] = 1
	}
	return eq
}

func macroKey(eq [6]int) string {
	var b [6]byte
	for i, e := range eq {
		b[i] = byte('0' + e)
	}
	return string(b[:])
}

// lookup returns the score of a macro vector, and whether it exists.
func cvss4Lookup(eq [6]int) (float64, bool) {
	for _, e := range eq {
		if e < 0 || e > 2 {
			return 0, false
		}
	}
	s, ok := cvss4MacroScores[macroKey(eq)]
	return s, ok
}

// cvss4Levels are the severity levels of each metric's values within a
// macro vector (0 is the most severe), in steps of 0.1 as the
// specification's reference implementation counts them.
var cvss4Levels = map[string]map[string]float64{
	"AV": {"N": 0, "A": 0.1, "L": 0.2, "P": 0.3}, "PR": {"N": 0, "L": 0.1, "H": 0.2}, "UI": {"N": 0, "P": 0.1, "A": 0.2},
	"AC": {"L": 0, "H": 0.1}, "AT": {"N": 0, "P": 0.1},
	"VC": {"H": 0, "L": 0.1, "N": 0.2}, "VI": {"H": 0, "L": 0.1, "N": 0.2}, "VA": {"H": 0, "L": 0.1, "N": 0.2},
	"SC": {"H": 0.1, "L": 0.2, "N": 0.3}, "SI": {"S": 0, "H": 0.1, "L": 0.2, "N": 0.3}, "SA": {"S": 0, "H": 0.1, "L": 0.2, "N": 0.3},
	"CR": {"H": 0, "M": 0.1, "L": 0.2}, "IR": {"H": 0, "M": 0.1, "L": 0.2}, "AR": {"H": 0, "M": 0.1, "L": 0.2},
}

// score implements section 8.3 of the specification.
func (m cvss4Metrics) score() float64 {
	g := m.get
	if g("VC") == "N" && g("VI") == "N" && g("VA") == "N" && g("SC") == "N" && g("SI") == "N" && g("SA") == "N" {
		return 0
	}
	eq := m.macroVector()
	value, _ := cvss4Lookup(eq)
	lower := func(i, by int) [6]int {
		l := eq
		l[i] += by
		return l
	}
	// The score of the next lower macro vector in each class; EQ3 and EQ6
	// are one joint class.
	var next [5]float64
	var exists [5]bool
	next[0], exists[0] = cvss4Lookup(lower(0, 1))
	next[1], exists[1] = cvss4Lookup(lower(1, 1))
	switch {
	case eq[2] == 0 && eq[5] == 0:
		left, lok := cvss4Lookup(lower(5, 1))
		right, rok := cvss4Lookup(lower(2, 1))
		switch {
		case lok && (!rok || left > right):
			next[2], exists[2] = left, true
		default:
			next[2], exists[2] = right, rok
		}
	case eq[2] == 1 && eq[5] == 0:
		next[2], exists[2] = cvss4Lookup(lower(5, 1))
	default:
		next[2], exists[2] = cvss4Lookup(lower(2, 1))
	}
	next[3], exists[3] = cvss4Lookup(lower(3, 1))
	next[4], exists[4] = cvss4Lookup(lower(4, 1))

	// The severity distance of the vector from the first of the macro
	// vector's most severe vectors that it does not exceed in any metric.
	var dist map[string]float64
	for _, max := range cvss4MaxVectors(eq) {
		dist = map[string]float64{}
		below := false
		for k, levels := range cvss4Levels {
			d := levels[g(k)] - levels[max[k]]
			dist[k] = d
			below = below || d < 0
		}
		if !below {
			break
		}
	}
	current := [4]float64{
		dist["AV"] + dist["PR"] + dist["UI"],
		dist["AC"] + dist["AT"],
		dist["VC"] + dist["VI"] + dist["VA"] + dist["CR"] + dist["IR"] + dist["AR"],
		dist["SC"] + dist["SI"] + dist["SA"],
	}
	depth := [4]float64{
		cvss4Depth.eq1[eq[0]], cvss4Depth.eq2[eq[1]], cvss4Depth.eq3eq6[eq[2]][eq[5]], cvss4Depth.eq4[eq[3]],
	}
	n, sum := 0, 0.0
	for i := range next {
		if !exists[i] {
			continue
		}
		n++
		if i == 4 {
			continue // EQ5 (the threat metric) has a depth of one vector: no distance
		}
		sum += (value - next[i]) * current[i] / (depth[i] * 0.1)
	}
	if n > 0 {
		value -= sum / float64(n)
	}
	value = math.Max(0, math.Min(10, value))
	// Round half up to one decimal, lifted by a small epsilon first: the
	// interpolation can land one floating-point step below a tie (5.65
	// computed as 5.6499999999999995).
	return math.Round((value+1e-6)*10) / 10
}

// cvss4MaxVectors are the most severe vectors of a macro vector, as the
// combinations of each class's highest-severity metric values.
func cvss4MaxVectors(eq [6]int) []map[string]string {
	parts := [][]string{
		cvss4Max.eq1[eq[0]], cvss4Max.eq2[eq[1]], cvss4Max.eq3eq6[eq[2]][eq[5]], cvss4Max.eq4[eq[3]],
	}
	out := []map[string]string{{}}
	for _, options := range parts {
		var grown []map[string]string
		for _, base := range out {
			for _, opt := range options {
				m := make(map[string]string, len(base)+6)
				for k, v := range base {
					m[k] = v
				}
				for _, kv := range strings.Split(opt, "/") {
					k, v, _ := strings.Cut(kv, ":")
					m[k] = v
				}
				grown = append(grown, m)
			}
		}
		out = grown
	}
	return out
}

// cvss4Max are the highest-severity metric values of each class level,
// and cvss4Depth the number of steps from them to the least severe
// vector of the level (the "max severity" of the specification's
// reference implementation).
var cvss4Max = struct {
	eq1, eq2, eq4 [3][]string
	eq3eq6        [3][2][]string
}{
	eq1: [3][]string{{"AV:N/PR:N/UI:N"}, {"AV:A/PR:N/UI:N", "AV:N/PR:L/UI:N", "AV:N/PR:N/UI:P"}, {"AV:P/PR:N/UI:N", "AV:A/PR:L/UI:P"}},
	eq2: [3][]string{{"AC:L/AT:N"}, {"AC:H/AT:N", "AC:L/AT:P"}},
	eq3eq6: [3][2][]string{
		{{"VC:H/VI:H/VA:H/CR:H/IR:H/AR:H"}, {"VC:H/VI:H/VA:L/CR:M/IR:M/AR:H", "VC:H/VI:H/VA:H/CR:M/IR:M/AR:M"}},
		{{"VC:L/VI:H/VA:H/CR:H/IR:H/AR:H", "VC:H/VI:L/VA:H/CR:H/IR:H/AR:H"},
			{"VC:L/VI:H/VA:L/CR:H/IR:M/AR:H", "VC:L/VI:H/VA:H/CR:H/IR:M/AR:M", "VC:H/VI:L/VA:H/CR:M/IR:H/AR:M", "VC:H/VI:L/VA:L/CR:M/IR:H/AR:H", "VC:L/VI:L/VA:H/CR:H/IR:H/AR:M"}},
		{nil, {"VC:L/VI:L/VA:L/CR:H/IR:H/AR:H"}},
	},
	eq4: [3][]string{{"SC:H/SI:S/SA:S"}, {"SC:H/SI:H/SA:H"}, {"SC:L/SI:L/SA:L"}},
}

var cvss4Depth = struct {
	eq1, eq2, eq4 [3]float64
	eq3eq6        [3][2]float64
}{
	eq1:    [3]float64{1, 4, 5},
	eq2:    [3]float64{1, 2},
	eq3eq6: [3][2]float64{{7, 6}, {8, 8}, {0, 10}},
	eq4:    [3]float64{6, 5, 4},
}

// cvss4MacroScores is FIRST's score of every macro vector (EQ1..EQ6
// levels), as published with the specification.
var cvss4MacroScores = map[string]float64{
	"000000": 10.0, "000001": 9.9, "000010": 9.8, "000011": 9.5, "000020": 9.5, "000021": 9.2,
	"000100": 10.0, "000101": 9.6, "000110": 9.3, "000111": 8.7, "000120": 9.1, "000121": 8.1,
	"000200": 9.3, "000201": 9.0, "000210": 8.9, "000211": 8.0, "000220": 8.1, "000221": 6.8,
	"001000": 9.8, "001001": 9.5, "001010": 9.5, "001011": 9.2, "001020": 9.0, "001021": 8.4,
	"001100": 9.3, "001101": 9.2, "001110": 8.9, "001111": 8.1, "001120": 8.1, "001121": 6.5,
	"001200": 8.8, "001201": 8.0, "001210": 7.8, "001211": 7.0, "001220": 6.9, "001221": 4.8,
	"002001": 9.2, "002011": 8.2, "002021": 7.2, "002101": 7.9, "002111": 6.9, "002121": 5.0,
	"002201": 6.9, "002211": 5.5, "002221": 2.7, "010000": 9.9, "010001": 9.7, "010010": 9.5,
	"010011": 9.2, "010020": 9.2, "010021": 8.5, "010100": 9.5, "010101": 9.1, "010110": 9.0,
	"010111": 8.3, "010120": 8.4, "010121": 7.1, "010200": 9.2, "010201": 8.1, "010210": 8.2,
	"010211": 7.1, "010220": 7.2, "010221": 5.3, "011000": 9.5, "011001": 9.3, "011010": 9.2,
	"011011": 8.5, "011020": 8.5, "011021": 7.3, "011100": 9.2, "011101": 8.2, "011110": 8.0,
	"011111": 7.2, "011120": 7.0, "011121": 5.9, "011200": 8.4, "011201": 7.0, "011210": 7.1,
	"011211": 5.2, "011220": 5.0, "011221": 3.0, "012001": 8.6, "012011": 7.5, "012021": 5.2,
	"012101": 7.1, "012111": 5.2, "012121": 2.9, "012201": 6.3, "012211": 2.9, "012221": 1.7,
	"100000": 9.8, "100001": 9.5, "100010": 9.4, "100011": 8.7, "100020": 9.1, "100021": 8.1,
	"100100": 9.4, "100101": 8.9, "100110": 8.6, "100111": 7.4, "100120": 7.7, "100121": 6.4,
	"100200": 8.7, "100201": 7.5, "100210": 7.4, "100211": 6.3, "100220": 6.3, "100221": 4.9,
	"101000": 9.4, "101001": 8.9, "101010": 8.8, "101011": 7.7, "101020": 7.6, "101021": 6.7,
	"101100": 8.6, "101101": 7.6, "101110": 7.4, "101111": 5.8, "101120": 5.9, "101121": 5.0,
	"101200": 7.2, "101201": 5.7, "101210": 5.7, "101211": 5.2, "101220": 5.2, "101221": 2.5,
	"102001": 8.3, "102011": 7.0, "102021": 5.4, "102101": 6.5, "102111": 5.8, "102121": 2.6,
	"102201": 5.3, "102211": 2.1, "102221": 1.3, "110000": 9.5, "110001": 9.0, "110010": 8.8,
	"110011": 7.6, "110020": 7.6, "110021": 7.0, "110100": 9.0, "110101": 7.7, "110110": 7.5,
	"110111": 6.2, "110120": 6.1, "110121": 5.3, "110200": 7.7, "110201": 6.6, "110210": 6.8,
	"110211": 5.9, "110220": 5.2, "110221": 3.0, "111000": 8.9, "111001": 7.8, "111010": 7.6,
	"111011": 6.7, "111020": 6.2, "111021": 5.8, "111100": 7.4, "111101": 5.9, "111110": 5.7,
	"111111": 5.7, "111120": 4.7, "111121": 2.3, "111200": 6.1, "111201": 5.2, "111210": 5.7,
	"111211": 2.9, "111220": 2.4, "111221": 1.6, "112001": 7.1, "112011": 5.9, "112021": 3.0,
	"112101": 5.8, "112111": 2.6, "112121": 1.5, "112201": 2.3, "112211": 1.3, "112221": 0.6,
	"200000": 9.3, "200001": 8.7, "200010": 8.6, "200011": 7.2, "200020": 7.5, "200021": 5.8,
	"200100": 8.6, "200101": 7.4, "200110": 7.4, "200111": 6.1, "200120": 5.6, "200121": 3.4,
	"200200": 7.0, "200201": 5.4, "200210": 5.2, "200211": 4.0, "200220": 4.0, "200221": 2.2,
	"201000": 8.5, "201001": 7.5, "201010": 7.4, "201011": 5.5, "201020": 6.2, "201021": 5.1,
	"201100": 7.2, "201101": 5.7, "201110": 5.5, "201111": 4.1, "201120": 4.6, "201121": 1.9,
	"201200": 5.3, "201201": 3.6, "201210": 3.4, "201211": 1.9, "201220": 1.9, "201221": 0.8,
	"202001": 6.4, "202011": 5.1, "202021": 2.0, "202101": 4.7, "202111": 2.1, "202121": 1.1,
	"202201": 2.4, "202211": 0.9, "202221": 0.4, "210000": 8.8, "210001": 7.5, "210010": 7.3,
	"210011": 5.3, "210020": 6.0, "210021": 5.0, "210100": 7.3, "210101": 5.5, "210110": 5.9,
	"210111": 4.0, "210120": 4.1, "210121": 2.0, "210200": 5.4, "210201": 4.3, "210210": 4.5,
	"210211": 2.2, "210220": 2.0, "210221": 1.1, "211000": 7.5, "211001": 5.5, "211010": 5.8,
	"211011": 4.5, "211020": 4.0, "211021": 2.1, "211100": 6.1, "211101": 5.1, "211110": 4.8,
	"211111": 1.8, "211120": 2.0, "211121": 0.9, "211200": 4.6, "211201": 1.8, "211210": 1.7,
	"211211": 0.7, "211220": 0.8, "211221": 0.2, "212001": 5.3, "212011": 2.4, "212021": 1.4,
	"212101": 2.4, "212111": 1.2, "212121": 0.5, "212201": 1.0, "212211": 0.3, "212221": 0.1,
}
