package hub

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/hub/store"
)

// colons writes a hex serial as openssl and browsers show it: upper case,
// a colon between bytes.
func colons(serial string) string {
	if len(serial)%2 == 1 {
		serial = "0" + serial
	}
	var parts []string
	for i := 0; i < len(serial); i += 2 {
		parts = append(parts, strings.ToUpper(serial[i:i+2]))
	}
	return strings.Join(parts, ":")
}

// Revoking by serial accepts the spellings operators copy from openssl and
// browsers, and says so when no certificate has the serial instead of
// answering {"revoked": 0} with 200 (issue #16).
func TestRevokeCertificateBySerial(t *testing.T) {
	ctx := context.Background()
	th := startHub(t)
	admin, err := th.CreateAPIToken(ctx, "ops", store.RoleAdmin, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	auth := map[string]string{"Authorization": "Bearer " + admin}
	serialOf := func(cluster string) string {
		cert, _, _ := th.enrol(t, cluster)
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return SerialHex(leaf.SerialNumber)
	}
	tests := []struct {
		name    string
		spell   func(string) string
		status  int
		revoked int
	}{
		{"stored form", func(s string) string { return s }, http.StatusOK, 1},
		{"upper case", strings.ToUpper, http.StatusOK, 1},
		{"openssl colons", colons, http.StatusOK, 1},
		{"0x prefix", func(s string) string { return "0x" + strings.ToUpper(s) }, http.StatusOK, 1},
		{"leading zeros", func(s string) string { return "0000" + s }, http.StatusOK, 1},
		{"no such certificate", func(string) string { return "0123456789abcdef" }, http.StatusNotFound, 0},
		{"not hex", func(string) string { return "not-a-serial" }, http.StatusBadRequest, 0},
		{"empty colons", func(string) string { return ":::" }, http.StatusBadRequest, 0},
	}
	for i, tt := range tests {
		serial := serialOf("rev-" + string(rune('a'+i)))
		resp, body := call(t, th.client(nil), "POST", th.url+"/api/v1/certificates/"+tt.spell(serial)+"/revoke", nil, auth)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, resp.StatusCode, body, tt.status)
			continue
		}
		if tt.status == http.StatusOK {
			var out map[string]int
			if err := json.Unmarshal(body, &out); err != nil || out["revoked"] != tt.revoked {
				t.Errorf("%s: %s, want revoked %d", tt.name, body, tt.revoked)
			}
		}
		c, err := th.st.GetCertificate(ctx, serial)
		if err != nil {
			t.Fatal(err)
		}
		if got := !c.RevokedAt.IsZero(); got != (tt.revoked == 1) {
			t.Errorf("%s: certificate revoked = %v", tt.name, got)
		}
	}
}

// FuzzParseSerial: any input either fails or gives the stored form, which
// parses to itself.
func FuzzParseSerial(f *testing.F) {
	for _, s := range []string{"0a1b", "0A:1B", "0x0a1b", "0a 1b", "", ":", "0", "-1", "+1", "0x", strings.Repeat("f", 41)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseSerial(s)
		if err != nil {
			return
		}
		if again, err := ParseSerial(got); err != nil || again != got {
			t.Fatalf("ParseSerial(%q) = %q, which parses to %q, %v", s, got, again, err)
		}
		if got == "" || strings.ToLower(got) != got || len(got) > 40 {
			t.Fatalf("ParseSerial(%q) = %q", s, got)
		}
	})
}
