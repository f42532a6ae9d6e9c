package sbom

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func testDocument() Document {
	return Document{
		Subject: Subject{Kind: SubjectImage, Name: "registry.example/app:1.0", Digest: "sha256:" + strings.Repeat("ab", 32)},
		OS:      &OS{ID: "debian", VersionID: "12", Codename: "bookworm", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
		Packages: []Package{
			{Name: "libssl3", Version: "3.0.15-1~deb12u1", Ecosystem: "Debian:12", Type: "deb",
				PURL:       PURL("deb", "debian", "libssl3", "3.0.15-1~deb12u1", Qualifier{"arch", "amd64"}, Qualifier{"distro", "debian-12"}),
				SourceName: "openssl", SourceVersion: "3.0.15-1~deb12u1", Arch: "amd64",
				Locations: []string{"var/lib/dpkg/status"}, LayerDigest: "sha256:" + strings.Repeat("cd", 32), Cataloger: "dpkg"},
			{Name: "github.com/google/uuid", Version: "v1.6.0", Ecosystem: "Go", Type: "golang",
				PURL: PURL("golang", "github.com/google", "uuid", "v1.6.0"), Locations: []string{"usr/local/bin/app"}, Cataloger: "go-binary"},
			// The same package twice (two binaries) must keep unique references.
			{Name: "github.com/google/uuid", Version: "v1.6.0", Ecosystem: "Go", Type: "golang",
				PURL: PURL("golang", "github.com/google", "uuid", "v1.6.0"), Locations: []string{"usr/local/bin/other"}, Cataloger: "go-binary"},
			{Name: "@babel/core", Version: "7.24.0", Ecosystem: "npm", Type: "npm", PURL: PURL("npm", "@babel", "core", "7.24.0"),
				Licenses: []string{"MIT"}, Cataloger: "npm"},
			{Name: "monolog/monolog", Version: "3.5.0", Ecosystem: EcosystemPackagist, Type: "composer", PURL: PURL("composer", "monolog", "monolog", "3.5.0"),
				Licenses: []string{"MIT"}, Locations: []string{"srv/app/vendor/composer/installed.json"}, Cataloger: "composer"},
			{Name: "bash", Version: "5.1.8-6.el9", Ecosystem: "Red Hat", Type: "rpm", Licenses: []string{"GPLv3+"}, Cataloger: "rpm"},
		},
		Created:     time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		ToolName:    "palisade",
		ToolVersion: "test",
	}
}

// compileSchema loads the official schema files from testdata/schema
// (see testdata/README.md) by their $id.
func compileSchema(t *testing.T, main string, files ...string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	var mainID string
	for _, f := range append([]string{main}, files...) {
		b, err := os.ReadFile(filepath.Join("testdata/schema", f))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if id == "" {
			t.Fatalf("%s has no $id", f)
		}
		if err := c.AddResource(id, doc); err != nil {
			t.Fatal(err)
		}
		if f == main {
			mainID = id
		}
	}
	s, err := c.Compile(mainID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, doc []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	return s.Validate(v)
}

type writer func(w *bytes.Buffer, d Document) error

var formats = map[string]struct {
	write   writer
	schema  []string
	golden  string
	corrupt func(m map[string]any)
}{
	"cyclonedx": {
		write:  func(w *bytes.Buffer, d Document) error { return WriteCycloneDX(w, d) },
		schema: []string{"bom-1.6.schema.json", "spdx.schema.json", "jsf-0.82.schema.json"},
		golden: "testdata/golden/cyclonedx.json",
		corrupt: func(m map[string]any) {
			m["specVersion"] = 1.6
			m["components"].([]any)[1].(map[string]any)["type"] = "not-a-type"
		},
	},
	"spdx": {
		write:  func(w *bytes.Buffer, d Document) error { return WriteSPDX(w, d) },
		schema: []string{"spdx-schema-2.3.json"},
		golden: "testdata/golden/spdx.json",
		corrupt: func(m map[string]any) {
			m["packages"].([]any)[1].(map[string]any)["SPDXID"] = "Package 1"
			delete(m, "creationInfo")
		},
	},
}

func TestWritersValidateAgainstSchemas(t *testing.T) {
	for name, f := range formats {
		t.Run(name, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join("testdata/schema", f.schema[0])); err != nil {
				t.Skipf("schema not vendored: %v", err)
			}
			s := compileSchema(t, f.schema[0], f.schema[1:]...)
			for _, d := range []Document{testDocument(), {Subject: Subject{Kind: SubjectDirectory, Name: "/srv/rootfs"}}} {
				var buf bytes.Buffer
				if err := f.write(&buf, d); err != nil {
					t.Fatal(err)
				}
				if err := validate(t, s, buf.Bytes()); err != nil {
					t.Fatalf("output does not validate: %v\n%s", err, buf.Bytes())
				}
			}
			// The validator must be able to fail: a broken document.
			var buf bytes.Buffer
			if err := f.write(&buf, testDocument()); err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			f.corrupt(m)
			broken, _ := json.Marshal(m)
			if err := validate(t, s, broken); err == nil {
				t.Fatal("a broken document validates")
			}
		})
	}
}

func TestWritersDeterministicAndGolden(t *testing.T) {
	for name, f := range formats {
		t.Run(name, func(t *testing.T) {
			d := testDocument()
			var a, b bytes.Buffer
			if err := f.write(&a, d); err != nil {
				t.Fatal(err)
			}
			// Package order in the input does not matter.
			d.Packages[0], d.Packages[3] = d.Packages[3], d.Packages[0]
			if err := f.write(&b, d); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatal("output depends on package order")
			}
			if os.Getenv("PALISADE_UPDATE_GOLDEN") != "" {
				if err := os.WriteFile(f.golden, a.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(f.golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), want) {
				t.Errorf("differs from %s (PALISADE_UPDATE_GOLDEN=1 to accept):\n%s", f.golden, a.Bytes())
			}
			// A different package set gives a different serial/namespace.
			d.Packages = d.Packages[:2]
			var c bytes.Buffer
			if err := f.write(&c, d); err != nil {
				t.Fatal(err)
			}
			if id(t, a.Bytes()) == id(t, c.Bytes()) {
				t.Error("serial number / namespace does not depend on the content")
			}
		})
	}
}

func id(t *testing.T, doc []byte) string {
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	if s, ok := m["serialNumber"].(string); ok {
		return s
	}
	return m["documentNamespace"].(string)
}
