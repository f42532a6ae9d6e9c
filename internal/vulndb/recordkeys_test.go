package vulndb

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sameAcceptance checks parseStripped (with s, as an import reuses it
// from record to record) against ParseRecord on one input: the same
// verdict, and for an accepted record the same ID, withdrawn time and
// affected packages, and the JSON stripped as appendStripped strips it.
func sameAcceptance(t *testing.T, s *recordScanner, data []byte) {
	t.Helper()
	full, ferr := ParseRecord(data)
	var keys Record
	stripped, _, kerr := s.parseStripped(bytes.Clone(data), &keys, nil)
	if (ferr == nil) != (kerr == nil) {
		t.Fatalf("ParseRecord error %v, parseStripped error %v on %s", ferr, kerr, truncate(string(data), 200))
	}
	if ferr != nil {
		return
	}
	if keys.ID != full.ID || !reflect.DeepEqual(keys.Withdrawn, full.Withdrawn) || len(keys.Affected) != len(full.Affected) {
		t.Fatalf("keys %+v, full %+v", keys, full)
	}
	for i := range full.Affected {
		if keys.Affected[i].Package != full.Affected[i].Package {
			t.Fatalf("affected[%d]: package %+v, want %+v", i, keys.Affected[i].Package, full.Affected[i].Package)
		}
	}
	if want := appendStripped(nil, data); !bytes.Equal(stripped, want) {
		t.Fatalf("stripped %q, want %q", truncate(string(stripped), 200), truncate(string(want), 200))
	}
}

func TestRecordKeysMatchRecord(t *testing.T) {
	var shared recordScanner
	const ok = `"id":"X-1","modified":"2024-01-01T00:00:00Z"`
	for _, tc := range []struct {
		name, json string
		valid      bool
	}{
		{"minimal", `{` + ok + `}`, true},
		{"withdrawn", `{` + ok + `,"withdrawn":"2024-02-01T00:00:00Z"}`, true},
		{"summary number", `{` + ok + `,"summary":1}`, false},
		{"summary null", `{` + ok + `,"summary":null}`, true},
		{"details object", `{` + ok + `,"details":{}}`, false},
		{"schema_version bool", `{` + ok + `,"schema_version":true}`, false},
		{"upstream number", `{` + ok + `,"upstream":[1]}`, false},
		{"related strings", `{` + ok + `,"related":["a","b"]}`, true},
		{"reference url number", `{` + ok + `,"references":[{"type":"WEB","url":2}]}`, false},
		{"reference not object", `{` + ok + `,"references":["x"]}`, false},
		{"severity score array", `{` + ok + `,"severity":[{"type":"CVSS_V3","score":[]}]}`, false},
		{"versions number", `{` + ok + `,"affected":[{"package":{"ecosystem":"Go","name":"a"},"versions":[1]}]}`, false},
		{"versions strings", `{` + ok + `,"affected":[{"package":{"ecosystem":"Go","name":"a"},"versions":["1","2"]}]}`, true},
		{"repo number", `{` + ok + `,"affected":[{"package":{"ecosystem":"Go","name":"a"},"ranges":[{"type":"GIT","repo":3,"events":[{"introduced":"0"}]}]}]}`, false},
		{"range type unknown", `{` + ok + `,"affected":[{"package":{"ecosystem":"Go","name":"a"},"ranges":[{"type":"X","events":[]}]}]}`, false},
		{"database_specific anything", `{` + ok + `,"database_specific":[1,{"a":null}]}`, true},
		{"case-insensitive names", `{"ID":"X-2","Modified":"2024-01-01T00:00:00Z","SUMMARY":3}`, false},
		{"repeated name, last wins", `{` + ok + `,"id":"X-3"}`, true},
		{"bad time", `{"id":"X-1","modified":"yesterday"}`, false},
		{"too many aliases", `{` + ok + `,"upstream":[` + strings.Repeat(`"a",`, maxAliases) + `"a"]}`, false},
		{"large database_specific", `{` + ok + `,"database_specific":"` + strings.Repeat("x", maxSpecificBytes) + `"}`, false},
		{"large affected specifics", `{` + ok + `,"affected":[{"package":{"ecosystem":"Go","name":"a"},"ecosystem_specific":"` +
			strings.Repeat("x", maxSpecificBytes/2) + `","database_specific":"` + strings.Repeat("x", maxSpecificBytes/2) + `"}]}`, false},
		{"data after", `{` + ok + `} {}`, false},
		// What the scanner leaves to encoding/json/v2, each path's
		// answer held to ParseRecord's.
		{"escaped name", `{"\u0069d":"X-4","modified":"2024-01-01T00:00:00Z"}`, true},
		{"Kelvin sign in a name", `{` + ok + `,"affected":[{"pac\u212Age":{"ecosystem":"Go","name":"a"}}]}`, false},
		{"name with underscores and dashes", `{"I_-D":"X-5","mod_ified":"2024-01-01T00:00:00Z"}`, true},
		{"long name folding to nothing known", `{` + ok + `,"` + strings.Repeat("id", 20) + `":1}`, true},
		{"repeated package merges", `{` + ok + `,"affected":[{"package":{"ecosystem":"Go"},"package":{"name":"a"}}]}`, true},
		{"repeated affected, last wins", `{` + ok + `,"affected":[{"package":{"ecosystem":"Go","name":"a"}}],"affected":[]}`, true},
		{"null package", `{` + ok + `,"affected":[{"package":null}]}`, false},
		{"null affected element", `{` + ok + `,"affected":[null]}`, false},
		{"null withdrawn", `{` + ok + `,"withdrawn":null}`, true},
		{"null id", `{"id":null,"modified":"2024-01-01T00:00:00Z"}`, false},
		{"time with offset", `{"id":"X-6","modified":"2024-01-01T00:00:00+01:00"}`, true},
		{"time with fraction", `{"id":"X-6","modified":"2024-01-01T00:00:00.123456789Z","withdrawn":"2024-01-02T00:00:00.5Z"}`, true},
		{"time hour out of range", `{"id":"X-6","modified":"2024-01-01T25:00:00Z"}`, false},
		{"time comma fraction", `{"id":"X-6","modified":"2024-01-01T00:00:00,5Z"}`, false},
		{"escaped package name", `{` + ok + `,"affected":[{"package":{"ecosystem":"Go","name":"a\/b"}}]}`, true},
		{"invalid UTF-8 name", `{` + ok + `,"affected":[{"package":{"ecosystem":"Go","name":"a` + "\xff" + `"}}]}`, true},
		{"event null value", `{` + ok + `,"affected":[{"package":{"ecosystem":"Go","name":"a"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":null}]}]}]}`, false},
		{"truncated", `{` + ok + `,"affected":[{"package":{"ecosystem":"Go","name":"a"}`, false},
		{"not an object", `[` + ok + `]`, false},
		{"nesting deeper than the scanner's", `{` + ok + `,"database_specific":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `}`, true},
		{"numbers", `{` + ok + `,"x":[-0.5e+3,0,1E9,-12.25],"database_specific":{"n":1e-2}}`, true},
		{"number with leading zero", `{` + ok + `,"x":01}`, false},
		{"number ending in a point", `{` + ok + `,"x":1.}`, false},
		{"literal misspelt", `{` + ok + `,"x":nul}`, false},
		{"control character in a string", `{` + ok + `,"summary":"a` + "\n" + `b"}`, false},
		{"escapes in skipped strings", `{` + ok + `,"details":"\"\\\/\b\f\n\r\t\u00e9"}`, true},
		{"bad escape", `{` + ok + `,"details":"\x"}`, false},
		{"surrogate pair escape", `{` + ok + `,"details":"\ud83d\ude00"}`, true},
		{"lone surrogate escape", `{` + ok + `,"details":"\ud83d"}`, true},
		{"trailing comma", `{` + ok + `,}`, false},
		{"byte order mark", "\ufeff{" + ok + `}`, false},
		{"white space everywhere", " {\t\"id\" : \"X-7\" ,\n\"modified\":\r\"2024-01-01T00:00:00Z\", \"details\": \" a \\\" b \" ,\"affected\" : [ { \"package\" : { \"ecosystem\" : \"Go\" , \"name\" : \"a b\" } , " +
			"\"ranges\":[ {\"type\":\"SEMVER\", \"events\" : [ {\"introduced\" : \"0\"} , { \"fixed\":\"1\" } ] } ] } ] } \n", true},
		{"more white-space runs than the scanner notes", `{` + ok + `,"database_specific":[` + strings.Repeat(`1 ,`, maxGaps) + `1]}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := new(recordScanner).parseStripped([]byte(tc.json), new(Record), nil)
			if (err == nil) != tc.valid {
				t.Errorf("parseStripped error %v, want valid %v", err, tc.valid)
			}
			sameAcceptance(t, new(recordScanner), []byte(tc.json))
			// And with the scanner the other cases used, as an import
			// reuses it.
			sameAcceptance(t, &shared, []byte(tc.json))
		})
	}
	// And every record of the package's test data.
	for _, data := range osvTestRecords(t) {
		sameAcceptance(t, &shared, data)
	}
}

func FuzzRecordKeysMatchRecord(f *testing.F) {
	f.Add([]byte(`{"id":"GO-2021-0113","modified":"2021-01-01T00:00:00Z","summary":"s","references":[{"type":"WEB","url":"u"}],"severity":[{"type":"CVSS_V3","score":"v"}],"affected":[{"package":{"ecosystem":"Go","name":"golang.org/x/text"},"versions":["1"],"ecosystem_specific":{"a":1},"ranges":[{"type":"GIT","repo":"r","events":[{"introduced":"0"},{"fixed":"0.3.7"}],"database_specific":null}]}]}`))
	f.Add([]byte(`{"id":"X","modified":"2021-01-01T00:00:00Z","withdrawn":"2022-01-01T00:00:00Z","upstream":["a"],"related":[null],"details":null,"schema_version":"1.6.0"}`))
	f.Add([]byte(`{"I_D":"X","Modified":"2021-01-01T00:00:00.5Z","affected":[{"package":{"ecosystem":"Go"},"PACKAGE":{"name":"a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0","last-affected":"1"}]}]}]}`))
	f.Add([]byte(`{"id":"X","modified":"2021-01-01T00:00:00Z","aliases":["CVE-1"],"affected":[{"package":{"ecosystem":"Debian:12","name":"a","purl":"pkg:deb/a"},"severity":[null],"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"limit":"2"}]}]}]}`))
	rich := []byte(`{"id":"X","modified":"2021-01-01T00:00:00Z","published":"2020-01-01T00:00:00Z","aliases":["A","B"],` +
		`"affected":[{"package":{"ecosystem":"Debian:12","name":"a"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1"}]},` +
		`{"type":"ECOSYSTEM","events":[{"introduced":"2"},{"limit":"3"}]}]},{"package":{"ecosystem":"Debian:13","name":"b"}}]}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAcceptance(t, new(recordScanner), data)
		// A scanner reused after a record with more lists than data's,
		// and again after data, as an import reuses it.
		var s recordScanner
		sameAcceptance(t, &s, rich)
		sameAcceptance(t, &s, data)
		sameAcceptance(t, &s, rich)
	})
}

// osvTestRecords returns the package's OSV test files by name.
func osvTestRecords(t *testing.T) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob("testdata/osv/*/*.json")
	more, _ := filepath.Glob("testdata/osv/*.json")
	out := make(map[string][]byte)
	for _, f := range append(files, more...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = data
	}
	return out
}

// TestRecordScannerReadsRecords checks that the scanner itself (not its
// fallback) reads the package's test records and the common shapes, so
// that the import's fast path is the one exercised.
func TestRecordScannerReadsRecords(t *testing.T) {
	const ok = `"id":"X-1","modified":"2024-01-01T00:00:00Z"`
	inputs := map[string][]byte{
		"minimal":   []byte(`{` + ok + `}`),
		"fractions": []byte(`{"id":"X-1","modified":"2024-01-01T00:00:00.25Z","withdrawn":"2024-02-01T00:00:00Z"}`),
		"full": []byte(`{"schema_version":"1.6.0",` + ok + `,"aliases":["CVE-1"],"related":["a",null],"summary":"s","details":"d\u003c",` +
			`"severity":[{"type":"CVSS_V3","score":"v"}],"references":[{"type":"WEB","url":"u"}],"database_specific":{"a":[1]},` +
			`"affected":[{"package":{"ecosystem":"Go","name":"a","purl":"pkg:golang/a"},"versions":["1"],"ecosystem_specific":{},` +
			`"ranges":[{"type":"GIT","repo":"r","events":[{"introduced":"0"},{"fixed":"1"}],"database_specific":null}],"x":[{}]}]}`),
	}
	for f, data := range osvTestRecords(t) {
		if _, err := ParseRecord(data); err == nil {
			inputs[f] = data
		}
	}
	if len(inputs) < 6 {
		t.Fatalf("only %d inputs: test data missing", len(inputs))
	}
	inputs["white space"] = []byte(" {\t\"id\" : \"X-7\" ,\n\"modified\":\r\"2024-01-01T00:00:00Z\" ,\"affected\" : [ { \"package\" : " +
		"{ \"ecosystem\" : \"Go\" , \"name\" : \"a b\" } } ] } \n")
	var s recordScanner
	for name, data := range inputs {
		var k recordKeys
		if !s.scan(bytes.Clone(data), &k) { // strip works in place
			t.Errorf("%s: scanner gave up", name)
			continue
		}
		if s.manyGaps {
			t.Errorf("%s: more than %d runs of white space", name, maxGaps)
		}
		if got, want := s.strip(), appendStripped(nil, data); !bytes.Equal(got, want) {
			t.Errorf("%s: stripped %q, want %q", name, got, want)
		}
		full, _ := ParseRecord(data)
		if k.ID != full.ID || len(k.Affected) != len(full.Affected) || len(k.Aliases) != len(full.Aliases) ||
			!reflect.DeepEqual(k.Withdrawn, full.Withdrawn) || !k.Modified.Equal(full.Modified) {
			t.Errorf("%s: scanned %+v, record %+v", name, k, full)
		}
	}
}
