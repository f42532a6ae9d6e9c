package vulnmatch

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

// Vectors and base scores from the examples of the CVSS v3.1 and v3.0
// specification documents (FIRST), and of NVD for v2.
func TestCVSS3(t *testing.T) {
	tests := []struct {
		vector  string
		score   float64
		version string
	}{
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5, "3.1"},               // CVE-2014-0160 Heartbleed
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "3.1"},               // CVE-2014-6271 Shellshock
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, "3.1"},               // CVE-2013-1937 phpMyAdmin XSS
		{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4, "3.1"},               // CVE-2013-0375 MySQL
		{"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1, "3.1"},               // CVE-2014-3566 POODLE
		{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9, "3.1"},               // CVE-2012-1516 VMware
		{"CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.8, "3.1"},               // CVE-2009-0658 Adobe Reader
		{"CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 6.8, "3.1"},               // CVE-2014-2005 Sophos
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N", 5.8, "3.1"},               // CVE-2010-0467 Joomla
		{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8, "3.1"},               // CVE-2012-0384 Cisco IOS
		{"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:N", 7.4, "3.1"},               // CVE-2014-0224 OpenSSL CCS
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:H", 9.6, "3.1"},               // CVE-2012-5376 Chrome
		{"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:N", 6.8, "3.1"},               // CVE-2016-0128 Badlock
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0, "3.1"},              // maximum
		{"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8, "3.1"},               // CVE-2023-4911 Looney Tunables
		{"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N", 6.1, "3.1"},               // CVE-2023-32681 requests
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0, "3.1"},                 // no impact
		{"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "3.0"},               // v3.0 rounding
		{"CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4, "3.0"},               // v3.0 rounding, scope changed
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N/E:P/RL:O/RC:C", 7.5, "3.1"}, // temporal metrics ignored
	}
	for _, tt := range tests {
		score, ver, err := CVSS3(tt.vector)
		if err != nil {
			t.Errorf("CVSS3(%s): %v", tt.vector, err)
			continue
		}
		if score != tt.score || ver != tt.version {
			t.Errorf("CVSS3(%s) = %v (%s), want %v (%s)", tt.vector, score, ver, tt.score, tt.version)
		}
	}
}

func TestCVSS3Invalid(t *testing.T) {
	for _, v := range []string{
		"",
		"AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", // no prefix
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N",          // A missing
		"CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",      // bad value
		"CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", // repeated
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N/ZZ:Q", // unknown metric
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N/",     // trailing slash
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
	} {
		if score, _, err := CVSS3(v); err == nil {
			t.Errorf("CVSS3(%q) = %v, want an error", v, score)
		}
	}
}

func TestCVSS2(t *testing.T) {
	for _, tt := range []struct {
		vector string
		score  float64
	}{
		{"AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5},
		{"AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0},
		{"AV:N/AC:M/Au:N/C:N/I:P/A:N", 4.3},
		{"AV:N/AC:L/Au:N/C:P/I:N/A:N", 5.0}, // CVE-2014-0160 Heartbleed
		{"AV:L/AC:L/Au:N/C:C/I:C/A:C", 7.2},
		{"(AV:N/AC:L/Au:N/C:N/I:N/A:N)", 0},
	} {
		got, err := CVSS2(tt.vector)
		if err != nil || got != tt.score {
			t.Errorf("CVSS2(%s) = %v, %v; want %v", tt.vector, got, err, tt.score)
		}
	}
	if _, err := CVSS2("AV:N/AC:L/Au:N/C:P/I:P"); err == nil {
		t.Error("CVSS2 accepted a vector without A")
	}
}

func TestCheckCVSS4(t *testing.T) {
	if err := CheckCVSS4("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"); err != nil {
		t.Error(err)
	}
	if err := CheckCVSS4("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N"); err == nil {
		t.Error("CheckCVSS4 accepted a vector without SA")
	}
}

func TestSeverityOfScoreAndWord(t *testing.T) {
	for _, tt := range []struct {
		score float64
		want  finding.Severity
	}{{0, finding.SeverityUnknown}, {0.1, finding.SeverityLow}, {3.9, finding.SeverityLow}, {4.0, finding.SeverityMedium},
		{6.9, finding.SeverityMedium}, {7.0, finding.SeverityHigh}, {8.9, finding.SeverityHigh}, {9.0, finding.SeverityCritical}, {10, finding.SeverityCritical}} {
		if got := SeverityOfScore(tt.score); got != tt.want {
			t.Errorf("SeverityOfScore(%v) = %v, want %v", tt.score, got, tt.want)
		}
	}
	for _, tt := range []struct {
		word string
		want finding.Severity
		ok   bool
	}{{"CRITICAL", finding.SeverityCritical, true}, {"moderate", finding.SeverityMedium, true}, {"important", finding.SeverityHigh, true},
		{"unimportant", finding.SeverityLow, true}, {"negligible", finding.SeverityLow, true}, {"medium*", finding.SeverityMedium, true},
		{"not yet assigned", finding.SeverityUnknown, false}, {"", finding.SeverityUnknown, false}} {
		if got, ok := SeverityOfWord(tt.word); got != tt.want || ok != tt.ok {
			t.Errorf("SeverityOfWord(%q) = %v, %v; want %v, %v", tt.word, got, ok, tt.want, tt.ok)
		}
	}
}

// TestCVSS4 scores the reference vectors of testdata/cvss/v4.txt: base
// vectors across every macro vector class, and environmental security
// requirements (CR/IR/AR) that move the EQ6 class.
func TestCVSS4(t *testing.T) {
	data, err := os.ReadFile("testdata/cvss/v4.txt")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		vector, want, _ := strings.Cut(line, " ")
		w, err := strconv.ParseFloat(want, 64)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		got, err := CVSS4(vector)
		if err != nil || got != w {
			t.Errorf("CVSS4(%s) = %v, %v; want %v", vector, got, err, w)
		}
		n++
	}
	if n < 40 {
		t.Errorf("only %d vectors", n)
	}
	for _, bad := range []string{
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N",          // SA missing
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:Q", // bad threat value
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:S/SA:N",     // S only in MSI
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
	} {
		if _, err := CVSS4(bad); err == nil {
			t.Errorf("CVSS4(%s) accepted", bad)
		}
	}
}
