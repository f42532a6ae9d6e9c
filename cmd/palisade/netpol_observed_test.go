package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// observedShop is a learned-profile export for examples/netpol/shop.
const observedShop = `{"kind":"RuntimeProfiles","cluster":"c-shop","generatedAt":"2026-12-06T12:00:00Z","profiles":[
 {"workload":{"namespace":"shop","kind":"Deployment","name":"web"},"state":"locked","binaries":["/web"],"connections":[
  {"direction":"egress","peer":{"workload":{"namespace":"shop","kind":"Deployment","name":"api"}},"port":8080,"protocol":"TCP"},
  {"direction":"egress","peer":{"cidr":"10.96.0.10/32"},"port":53,"protocol":"UDP"},
  {"direction":"ingress","peer":{"cidr":"10.0.0.7/32"},"port":8443,"protocol":"TCP"}]},
 {"workload":{"namespace":"shop","kind":"Deployment","name":"api"},"state":"locked","connections":[
  {"direction":"egress","peer":{"workload":{"namespace":"shop","kind":"StatefulSet","name":"db"}},"port":5432,"protocol":"TCP"}]},
 {"workload":{"namespace":"shop","kind":"StatefulSet","name":"db"},"state":"locked"}]}`

// TestNetpolObserved: generate --from-observed writes proven policies
// from an export; diff --observed against the example's own policies
// reports and exits as documented; a profile of an unknown workload is an
// input error (exit 2).
func TestNetpolObserved(t *testing.T) {
	shop := filepath.Join("..", "..", "examples", "netpol", "shop")
	dir := t.TempDir()
	prof := filepath.Join(dir, "profiles.json")
	if err := os.WriteFile(prof, []byte(observedShop), 0o600); err != nil {
		t.Fatal(err)
	}
	gen, stderr, code := palisade(t, "", "netpol", "generate", "--from-observed", prof, shop)
	if code != exitClean || !strings.Contains(gen, "name: allow-web") || !strings.Contains(gen, "cidr: 10.0.0.7/32") || !strings.Contains(stderr, "proof:") {
		t.Fatalf("generate: exit %d, stderr %s\n%s", code, stderr, gen)
	}
	// The generated policies applied: the observed traffic is all allowed.
	applied := filepath.Join(dir, "applied")
	if err := os.MkdirAll(applied, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"namespaces.yaml", "services.yaml", "workloads.yaml"} {
		b, err := os.ReadFile(filepath.Join(shop, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(applied, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(applied, "policies.yaml"), []byte(gen), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := palisade(t, "", "netpol", "diff", "--observed", prof, "-o", "json", applied)
	if code != exitClean || !strings.Contains(out, `"total": 0`) {
		t.Fatalf("diff against the generated policies: exit %d, stderr %s\n%s", code, stderr, out)
	}
	// The example's own, looser policies allow more than was observed.
	out, stderr, code = palisade(t, "", "netpol", "diff", "--observed", prof, "-o", "json", shop)
	if code == exitError || !strings.Contains(out, `"ruleID": "netpol/allowed-never-used"`) {
		t.Fatalf("diff against the example's policies: exit %d, stderr %s\n%s", code, stderr, out)
	}
	// web is observed reaching api on 9090, which the example's policies
	// deny: exit 1.
	denied := filepath.Join(dir, "denied.json")
	if err := os.WriteFile(denied, []byte(strings.Replace(observedShop, `"port":8080`, `"port":9090`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = palisade(t, "", "netpol", "diff", "--observed", denied, "-o", "sarif", shop)
	if code != exitFindings || !strings.Contains(out, "netpol/observed-but-denied") || !strings.Contains(out, "TCP 9090") {
		t.Fatalf("observed but denied: exit %d, stderr %s\n%s", code, stderr, out)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(strings.Replace(observedShop, `"name":"db"},"state"`, `"name":"gone"},"state"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := palisade(t, "", "netpol", "generate", "--from-observed", bad, shop); code != exitError || !strings.Contains(stderr, "shop/StatefulSet/gone: no such workload") {
		t.Errorf("unknown workload: exit %d, stderr %s", code, stderr)
	}
	if _, stderr, code := palisade(t, "", "netpol", "diff", "--observed", filepath.Join(dir, "missing.json"), shop); code != exitError {
		t.Errorf("missing profiles file: exit %d, stderr %s", code, stderr)
	}
}
