package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/buildinfo"
	"github.com/palisade-sec/palisade/internal/cli/clitest"
	"github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
)

// scan runs palisade-scan in process.
func scan(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		wantOut string
		wantErr string
	}{
		{"help", []string{"--help"}, 0, "palisade-scan [command]", ""},
		{"nothing", []string{}, 0, "Available Commands", ""},
		{"image help", []string{"image", "--help"}, 0, "palisade-scan image --platform linux/arm64", ""},
		{"image help names the db commands of this binary", []string{"image", "--help"}, 0, "'palisade-scan db update', or on an air-gapped host with 'palisade-scan db import'", ""},
		{"image help says where attestations are", []string{"image", "--help"}, 0, "use 'palisade scan image' for them", ""},
		{"db help", []string{"db", "import", "--help"}, 0, "palisade-scan db import ./all.zip --name Debian", ""},
		{"version", []string{"version"}, 0, "palisade-scan ", ""},
		{"version json", []string{"version", "-o", "json"}, 0, `"goVersion"`, ""},
		{"unknown flag", []string{"image", "--bogus", "oci:x"}, 2, "", "unknown flag: --bogus"},
		{"mistyped command", []string{"imag"}, 2, "", `unknown command "imag" for "palisade-scan"`},
		{"mistyped db command", []string{"db", "statu"}, 2, "", `unknown command "statu" for "palisade-scan db"`},
		{"mistyped help topic", []string{"help", "imag"}, 2, "", "unknown command"},
		{"no reference", []string{"image"}, 2, "", "scan image needs exactly one image reference"},
		{"bad format", []string{"image", "-o", "xml", "oci:x"}, 2, "", "xml"},
		{"bad --fail-on", []string{"image", "--fail-on", "severe", "oci:x"}, 2, "", "--fail-on"},
		// Never ignored: the attestation flags need Sigstore, not linked.
		{"sbom attestations", []string{"image", "--sbom-attestations", "p.yaml", "oci:x"}, 2, "", "--sbom-attestations needs Sigstore verification, which this binary does not link: use 'palisade scan image'"},
		{"vex attestations", []string{"image", "--vex-attestations", "p.yaml", "oci:x"}, 2, "", "--vex-attestations needs Sigstore verification"},
		{"db status without a database", []string{"db", "status", "--cache-dir", t.TempDir()}, 1, "Run 'palisade-scan db update'", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errb, code := scan(tc.args...)
			if code != tc.code || !strings.Contains(out, tc.wantOut) || !strings.Contains(errb, tc.wantErr) {
				t.Errorf("palisade-scan %v: exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", tc.args, code, tc.code, out, tc.wantOut, errb, tc.wantErr)
			}
		})
	}
}

// TestMessagesNameThisBinary: what the library tells the user to run
// names palisade-scan, never a palisade binary the user may not have:
// the missing database (an error, exit 2), an ecosystem without
// advisories (exit 2) and a stale database (a warning), each from a
// different package (imagescan, vulnmatch, vulndb).
func TestMessagesNameThisBinary(t *testing.T) {
	root := t.TempDir()
	for name, body := range map[string]string{
		"etc/os-release":      imagescantest.OSRelease,
		"var/lib/dpkg/status": imagescantest.DpkgStatus(imagescantest.DpkgStanza("zlib1g", "1:1.2.13.dfsg-1", "zlib")),
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A database of Alpine advisories only: the Debian packages are not
	// checked.
	alpineOnly := t.TempDir()
	recs := imagescantest.WriteRecords(t, map[string][]byte{"ALPINE-CVE-2099-0001": []byte(`{"id": "ALPINE-CVE-2099-0001", "modified": "2026-01-01T00:00:00Z",
 "affected": [{"package": {"ecosystem": "Alpine:v3.20", "name": "zlib"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.3.1-r0"}]}]}]}`)})
	if _, errb, code := scan("db", "import", recs, "--name", "alpine", "--cache-dir", alpineOnly); code != 0 {
		t.Fatalf("db import: exit %d: %s", code, errb)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no database", []string{"--cache-dir", t.TempDir()}, 2,
			"run `palisade-scan db update` or `palisade-scan db import` (for air-gapped hosts, import a bundle made by `palisade-scan db export`)"},
		{"no advisories of the ecosystem", []string{"--cache-dir", alpineOnly}, 2,
			"no vulnerability data for ecosystem Debian:12 (1 package not checked); run `palisade-scan db update` or `palisade-scan db import`"},
		{"stale database", []string{"--cache-dir", alpineOnly, "--allow-missing-data", "--db-max-age", "1ns"}, 0,
			"older than 1ns): run `palisade-scan db update`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errb, code := scan(append([]string{"image", "rootfs:" + root, "--no-cache", "--scanners", "vuln"}, tc.args...)...)
			all := out + errb
			if code != tc.code || !strings.Contains(all, tc.want) || strings.Contains(all, "`palisade db") {
				t.Errorf("exit %d (want %d), want %q and no `palisade db` in:\n%s", code, tc.code, tc.want, all)
			}
		})
	}
}

// TestLeanDependencies keeps palisade-scan lean: every package linked runs
// its initialisers at every start, and the palisade binary's start-up was
// most of a warm re-scan's time (bench/README.md, "Start-up"). Each module
// below is linked by a palisade feature palisade-scan does not have.
//
// `config` added what the manifest rules need, and only that: the
// Kubernetes API types and apimachinery (typed workloads), BuildKit's
// Dockerfile parser (and the protocol buffers its error stacks link),
// internal/rules and internal/workload, which no longer reads client-go's
// scheme (TestSchemeKindsMatchClientGo). Rendering (Helm, kustomize),
// policy files (CEL) and --framework (the catalog) stay out.
func TestLeanDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", buildinfo.GoBuildTags, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := map[string]string{
		// Chart rendering; its chart/common/util compiles JSON-schema
		// metaschemas at init (santhosh-tekuri/jsonschema, ~10 ms).
		"helm.sh/helm":                          "Helm (scan config's chart rendering)",
		"github.com/santhosh-tekuri/jsonschema": "the JSON-schema compiler Helm links",
		"sigs.k8s.io/kustomize":                 "kustomize (scan config)",
		// Sigstore verification of attestations: --sbom-attestations and
		// --vex-attestations are refused instead.
		"github.com/sigstore":               "sigstore-go (verify image, the attestation flags)",
		"github.com/go-openapi":             "go-openapi/strfmt, linked by sigstore-go's Rekor types",
		"github.com/asaskevich/govalidator": "govalidator, linked by go-openapi (regular expressions at init)",
		"github.com/theupdateframework":     "TUF, linked by sigstore-go",
		// Cluster access, custom rules, services.
		"k8s.io/client-go":         "client-go (scan cluster, the agent; its scheme is built at init)",
		"github.com/google/cel-go": "CEL (custom rules and detections, --policy; descriptors at init)",
		"github.com/prometheus":    "Prometheus metrics (hub, admission, agent; procfs)",
		"google.golang.org/grpc":   "gRPC (etcd, Sigstore)",
		"github.com/jackc/pgx":     "PostgreSQL (the hub)",
		"modernc.org/sqlite":       "SQLite (the hub)",
		// This module's packages of other features.
		clitest.Module + "internal/supplychain": "Sigstore verification",
		clitest.Module + "internal/render":      "chart and overlay rendering (internal/render/discover only finds them)",
		clitest.Module + "internal/policy":      "policy files (custom CEL rules)",
		clitest.Module + "internal/catalog":     "--framework (every analyser's catalog)",
		clitest.Module + "internal/scan":        "the scans with rendering and cluster access (internal/configscan is the config scan alone)",
		clitest.Module + "internal/hub":         "the hub",
		clitest.Module + "internal/admission":   "the admission webhook",
		clitest.Module + "internal/agent":       "the agent",
	}
	deps := strings.Fields(string(out))
	for _, want := range []string{"internal/imagescan", "internal/configscan", "internal/rules"} {
		if !contains(deps, clitest.Module+want) {
			t.Fatalf("palisade-scan does not link %s: the dependency list is not this binary's", want)
		}
	}
	// Parts of forbidden packages that link nothing of their features.
	allowed := map[string]bool{
		clitest.Module + "internal/render/discover": true, // finds charts and overlays, to refuse them
		clitest.Module + "internal/catalog/peers":   true, // rule metadata: peers' check IDs
	}
	for prefix, why := range forbidden {
		var linked []string
		for _, dep := range deps {
			if !allowed[dep] && (dep == prefix || strings.HasPrefix(dep, prefix+"/")) {
				linked = append(linked, dep)
			}
		}
		if len(linked) > 0 {
			t.Errorf("palisade-scan links %d packages of %s (%s): %s, which palisade-scan leaves to palisade", len(linked), prefix, linked[0], why)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// maxInitHeap bounds the heap all of palisade-scan's package initialisers
// allocate, third-party ones included (about 360 KB measured with the
// image scan alone, 870 KB since `config` linked the Kubernetes API types
// and apimachinery, the testing packages counted; the palisade binary's
// are about 7 MB): a dependency that builds tables at init shows here
// before it shows in start-up time.
const maxInitHeap = 1 << 20

// TestPackageInitHeap holds this module's packages to their ceiling
// (clitest.CheckOwnInitHeap) and the whole binary's initialisers to
// maxInitHeap.
func TestPackageInitHeap(t *testing.T) {
	inits := clitest.InitTrace(t)
	clitest.CheckOwnInitHeap(t, inits)
	total := 0
	for _, in := range inits {
		total += in.Bytes
	}
	if total > maxInitHeap {
		var big []string
		for _, in := range inits {
			if in.Bytes >= 16<<10 {
				big = append(big, in.Package+" "+itoa(in.Bytes))
			}
		}
		t.Errorf("package initialisers allocate %d bytes, more than %d; the largest: %s", total, maxInitHeap, strings.Join(big, ", "))
	}
	t.Logf("%d packages initialised, %d bytes", len(inits), total)
}

func itoa(n int) string { return strconv.Itoa(n) }
