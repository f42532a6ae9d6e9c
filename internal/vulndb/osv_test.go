package vulndb

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRecord(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"minimal", `{"id":"GO-2021-0113","modified":"2021-01-01T00:00:00Z"}`, ""},
		{"affected", `{"id":"X-1","modified":"2021-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]}]}`, ""},
		{"no id", `{"modified":"2021-01-01T00:00:00Z"}`, "id: empty"},
		{"id with slash", `{"id":"../../etc/passwd"}`, "invalid character"},
		{"id too long", `{"id":"` + strings.Repeat("A", 200) + `"}`, "longer than"},
		{"alias with space", `{"id":"X-1","aliases":["CVE 1"]}`, "alias"},
		{"not an object", `[1,2]`, "decode"},
		{"trailing data", `{"id":"X-1"} {"id":"X-2"}`, "data after"},
		{"package without name", `{"id":"X-1","affected":[{"package":{"ecosystem":"Go"}}]}`, "affected[0]: package"},
		{"unknown range type", `{"id":"X-1","affected":[{"package":{"ecosystem":"Go","name":"a"},"ranges":[{"type":"DATE","events":[]}]}]}`, "unknown type"},
		{"event with two fields", `{"id":"X-1","affected":[{"package":{"ecosystem":"Go","name":"a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0","fixed":"1"}]}]}]}`, "exactly one"},
		{"empty event", `{"id":"X-1","affected":[{"package":{"ecosystem":"Go","name":"a"},"ranges":[{"type":"SEMVER","events":[{}]}]}]}`, "exactly one"},
		{"NUL in name", `{"id":"X-1","affected":[{"package":{"ecosystem":"Go","name":"a\u0000b"}}]}`, "NUL"},
		{"too many aliases", `{"id":"X-1","aliases":[` + strings.Repeat(`"A",`, maxAliases) + `"A"]}`, "aliases:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := ParseRecord([]byte(tt.in))
			if tt.wantErr == "" {
				if err != nil || rec == nil {
					t.Fatalf("ParseRecord: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseRecord error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseRecordSizeCap(t *testing.T) {
	big := `{"id":"X-1","details":"` + strings.Repeat("a", MaxRecordSize) + `"}`
	if _, err := ParseRecord([]byte(big)); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("ParseRecord of %d bytes: %v, want ErrRecordTooLarge", len(big), err)
	}
	if _, err := ReadRecord(strings.NewReader(big)); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("ReadRecord of %d bytes: %v, want ErrRecordTooLarge", len(big), err)
	}
}

func TestSpecificSeverity(t *testing.T) {
	for _, tt := range []struct{ name, file, want string }{
		{"debian urgency", "DEBIAN-CVE-2024-0727.json", "low"},
		{"none", "PYSEC-2099-1.json", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/osv", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			rec, err := ParseRecord(data)
			if err != nil {
				t.Fatal(err)
			}
			if got := rec.SpecificSeverity(&rec.Affected[0]); got != tt.want {
				t.Errorf("SpecificSeverity = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNormalizeName(t *testing.T) {
	for _, tt := range []struct{ eco, in, want string }{
		{"PyPI", "Zope.Interface", "zope-interface"},
		{"PyPI", "zope__interface", "zope-interface"},
		{"Go", "github.com/Foo/Bar", "github.com/Foo/Bar"},
		{"Debian:12", "openssl", "openssl"},
		{"Maven", "org.apache.logging.log4j:log4j-core", "org.apache.logging.log4j:log4j-core"},
	} {
		if got := NormalizeName(tt.eco, tt.in); got != tt.want {
			t.Errorf("NormalizeName(%q, %q) = %q, want %q", tt.eco, tt.in, got, tt.want)
		}
	}
	if got, want := IndexKey("Debian:12", "openssl"), "debian\x00openssl"; got != want {
		t.Errorf("IndexKey = %q, want %q", got, want)
	}
}
