package vulndb

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sameAcceptance checks parseRecordKeys against ParseRecord on one
// input: the same verdict, and for an accepted record the same ID,
// withdrawn time and affected packages.
func sameAcceptance(t *testing.T, data []byte) {
	t.Helper()
	full, ferr := ParseRecord(data)
	keys, kerr := parseRecordKeys(data)
	if (ferr == nil) != (kerr == nil) {
		t.Fatalf("ParseRecord error %v, parseRecordKeys error %v on %s", ferr, kerr, truncate(string(data), 200))
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
}

func TestRecordKeysMatchRecord(t *testing.T) {
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseRecordKeys([]byte(tc.json)); (err == nil) != tc.valid {
				t.Errorf("parseRecordKeys error %v, want valid %v", err, tc.valid)
			}
			sameAcceptance(t, []byte(tc.json))
		})
	}
	// And every record of the package's test data.
	files, _ := filepath.Glob("testdata/osv/*/*.json")
	more, _ := filepath.Glob("testdata/osv/*.json")
	for _, f := range append(files, more...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sameAcceptance(t, data)
	}
}

func FuzzRecordKeysMatchRecord(f *testing.F) {
	f.Add([]byte(`{"id":"GO-2021-0113","modified":"2021-01-01T00:00:00Z","summary":"s","references":[{"type":"WEB","url":"u"}],"severity":[{"type":"CVSS_V3","score":"v"}],"affected":[{"package":{"ecosystem":"Go","name":"golang.org/x/text"},"versions":["1"],"ecosystem_specific":{"a":1},"ranges":[{"type":"GIT","repo":"r","events":[{"introduced":"0"},{"fixed":"0.3.7"}],"database_specific":null}]}]}`))
	f.Add([]byte(`{"id":"X","modified":"2021-01-01T00:00:00Z","withdrawn":"2022-01-01T00:00:00Z","upstream":["a"],"related":[null],"details":null,"schema_version":"1.6.0"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAcceptance(t, data)
	})
}
