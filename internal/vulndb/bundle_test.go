package vulndb

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

func testKeys(t *testing.T) (ed25519.PrivateKey, ed25519.PublicKey) {
	t.Helper()
	privPEM, pubPEM, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

func exportFixture(t *testing.T, priv ed25519.PrivateKey) (Cache, []byte) {
	t.Helper()
	ctx := context.Background()
	src := Cache{Dir: t.TempDir()}
	if _, err := src.ImportOSV(ctx, "testdata/osv", "fixtures", testNow); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m, err := src.Export(ctx, &buf, priv, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if m.Metadata.Records != 2 || m.DBSize == 0 {
		t.Fatalf("manifest: %+v", m)
	}
	return src, buf.Bytes()
}

func TestBundleRoundTrip(t *testing.T) {
	ctx := context.Background()
	priv, pub := testKeys(t)
	src, bundle := exportFixture(t, priv)
	_, other := testKeys(t)

	dst := Cache{Dir: t.TempDir()}
	m, err := dst.ImportBundle(ctx, bytes.NewReader(bundle), []ed25519.PublicKey{other, pub})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(src.DBPath())
	b, _ := os.ReadFile(dst.DBPath())
	if !bytes.Equal(a, b) || m.Metadata.Records != 2 {
		t.Fatal("imported database differs from the exported one")
	}
	db, err := dst.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	assertIDs(t, db, "Debian:12", "openssl", "DEBIAN-CVE-2024-0727")
	// The data's age travels with it: the bundle does not look fresh.
	if !db.Metadata().Updated.Equal(testNow) {
		t.Errorf("updated %v, want %v", db.Metadata().Updated, testNow)
	}
}

func TestBundleRejected(t *testing.T) {
	ctx := context.Background()
	priv, pub := testKeys(t)
	_, bundle := exportFixture(t, priv)
	_, wrong := testKeys(t)
	entries := readBundle(t, bundle)

	tests := []struct {
		name    string
		data    []byte
		keys    []ed25519.PublicKey
		wantErr string
	}{
		{"wrong key", bundle, []ed25519.PublicKey{wrong}, "signature"},
		{"no key", bundle, nil, "no trusted public key"},
		{"tampered database", writeBundle(t, entries, func(name string, b []byte) []byte {
			if name == bundleDB {
				b = bytes.Clone(b)
				b[len(b)/2] ^= 0xff
			}
			return b
		}), []ed25519.PublicKey{pub}, "does not match the signed manifest"},
		{"tampered manifest", writeBundle(t, entries, func(name string, b []byte) []byte {
			if name == bundleManifest {
				return bytes.Replace(b, []byte(`"records": 2`), []byte(`"records": 3`), 1)
			}
			return b
		}), []ed25519.PublicKey{pub}, "signature"},
		{"database first", writeBundle(t, []bundleEntry{entries[2], entries[0], entries[1]}, nil), []ed25519.PublicKey{pub}, "where manifest.json was expected"},
		{"truncated", bundle[:len(bundle)-200], []ed25519.PublicKey{pub}, ""},
		{"not gzip", []byte("hello"), []ed25519.PublicKey{pub}, "gzip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := Cache{Dir: t.TempDir()}
			// An existing database must survive a rejected bundle.
			if _, err := dst.ImportOSV(ctx, writeZip(t, map[string]string{"A-1.json": recordJSON("A-1", "Go", "a")}), "a", testNow); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(dst.DBPath())
			_, err := dst.ImportBundle(ctx, bytes.NewReader(tt.data), tt.keys)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ImportBundle: %v, want an error containing %q", err, tt.wantErr)
			}
			if tt.name == "wrong key" && !errors.Is(err, ErrBundleSignature) {
				t.Errorf("error %v is not ErrBundleSignature", err)
			}
			after, _ := os.ReadFile(dst.DBPath())
			if !bytes.Equal(before, after) {
				t.Fatal("rejected bundle changed the database")
			}
			assertNoTempFiles(t, dst)
		})
	}
}

func TestKeyFormats(t *testing.T) {
	// Keys as `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` write them.
	const priv = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIDSUI4Ok3Ae5Eno0nBvPLR+K1JuzF4SjZO4D0gtmJgxl\n-----END PRIVATE KEY-----\n"
	k, err := ParsePrivateKey([]byte(priv))
	if err != nil {
		t.Fatal(err)
	}
	if id := KeyID(k.Public().(ed25519.PublicKey)); len(id) != 64 {
		t.Errorf("KeyID = %q", id)
	}
	if _, err := ParsePublicKey([]byte(priv)); err == nil {
		t.Error("ParsePublicKey accepted a private key")
	}
	if _, err := ParsePrivateKey([]byte("junk")); err == nil {
		t.Error("ParsePrivateKey accepted junk")
	}
}

type bundleEntry struct {
	name string
	data []byte
}

func readBundle(t *testing.T, b []byte) []bundleEntry {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out []bundleEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		out = append(out, bundleEntry{h.Name, data})
	}
}

func writeBundle(t *testing.T, entries []bundleEntry, edit func(name string, b []byte) []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		data := e.data
		if edit != nil {
			data = edit(e.name, data)
		}
		tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}
