package netpol

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/workload"
)

// testInventory builds an inventory of deployments "ns/name" labelled
// app=name, with optional named ports.
func testInventory(names []string, ports map[string][]corev1.ContainerPort) *workload.Inventory {
	inv := workload.NewInventory()
	for _, full := range names {
		ns, name, _ := strings.Cut(full, "/")
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		d.Spec.Template.Labels = map[string]string{"app": name}
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "main", Image: "x", Ports: ports[full]}}
		inv.Add(d, finding.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: name}, nil)
	}
	return inv
}

func mustParse(t *testing.T, doc string) *Requirements {
	t.Helper()
	r, err := ParseRequirements([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestGenerateAndProve(t *testing.T) {
	inv := testInventory([]string{"shop/web", "shop/api", "shop/db", "pay/gw", "kube-system/coredns"}, nil)
	inv.Workloads[4].PodMeta.Labels = map[string]string{"k8s-app": "kube-dns"}
	req := mustParse(t, `
apiVersion: palisade.io/v1alpha1
kind: NetworkRequirements
externals:
  - name: lb
    cidrs: [10.0.0.0/8]
    except: [10.9.0.0/16]
  - name: bank
    cidrs: [203.0.113.0/24, 198.51.100.0/24]
allow:
  - {from: "external:lb", to: shop/web, ports: [TCP/8443]}
  - {from: shop/web, to: shop/api, ports: [TCP/8080, TCP/9000-9010]}
  - {from: shop/api, to: shop/db, ports: ["5432"]}
  - {from: shop/api, to: pay/gw, ports: [TCP/443, UDP]}
  - {from: pay/gw, to: "external:bank", ports: [TCP/443]}
`)
	plan, err := Generate(inv, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(plan.Scope, ","); got != "pay,shop" {
		t.Errorf("scope = %s, want pay,shop (kube-system holds DNS)", got)
	}
	proof, err := plan.Prove(context.Background(), inv)
	if err != nil {
		t.Fatal(err)
	}
	if !proof.OK() {
		t.Fatalf("proof failed: %v %v", proof.Differences, proof.Unmet)
	}
	want := []string{
		"10.0.0.0-10.8.255.255[External] => shop/web[Deployment] : TCP 8443",
		"10.10.0.0-10.255.255.255[External] => shop/web[Deployment] : TCP 8443",
		"pay/gw[Deployment] => 198.51.100.0-198.51.100.255[External] : TCP 443",
		"pay/gw[Deployment] => 203.0.113.0-203.0.113.255[External] : TCP 443",
		"pay/gw[Deployment] => kube-system/coredns[Deployment] : TCP 53,UDP 53",
		"shop/api[Deployment] => pay/gw[Deployment] : TCP 443,UDP 1-65535",
		"shop/api[Deployment] => shop/db[Deployment] : TCP 5432",
		"shop/web[Deployment] => shop/api[Deployment] : TCP 8080,9000-9010",
	}
	got := strings.Join(proof.Actual.Lines(), "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in\n%s", w, got)
		}
	}
	if strings.Contains(got, "shop/db[Deployment] => shop/web") || strings.Contains(got, "0.0.0.0-9.255.255.255[External] => shop/") {
		t.Errorf("extra connectivity:\n%s", got)
	}
}

// TestProofCatchesWrongPolicies tampers with generated policies: the proof
// must notice both missing and extra traffic.
func TestProofCatchesWrongPolicies(t *testing.T) {
	inv := testInventory([]string{"a/x", "a/y", "a/z"}, nil)
	req := mustParse(t, `{apiVersion: palisade.io/v1alpha1, kind: NetworkRequirements, dns: {disabled: true}, allow: [{from: a/x, to: a/y, ports: [TCP/80]}]}`)
	for name, tamper := range map[string]func(p *Plan){
		"rule dropped": func(p *Plan) {
			for _, pol := range p.Policies {
				pol.Spec.Ingress = nil
			}
		},
		// Both sides must be widened: either one alone still limits the traffic.
		"port widened": func(p *Plan) {
			for _, pol := range p.Policies {
				for i := range pol.Spec.Egress {
					pol.Spec.Egress[i].Ports = nil
				}
				for i := range pol.Spec.Ingress {
					pol.Spec.Ingress[i].Ports = nil
				}
			}
		},
		"default deny removed": func(p *Plan) { p.Policies = p.Policies[1:] },
	} {
		t.Run(name, func(t *testing.T) {
			plan, err := Generate(inv, req)
			if err != nil {
				t.Fatal(err)
			}
			tamper(plan)
			proof, err := plan.Prove(context.Background(), inv)
			if err != nil {
				t.Fatal(err)
			}
			if proof.OK() {
				t.Fatal("proof passed on tampered policies")
			}
		})
	}
}

// TestProofProperty generates random requirement sets over random
// inventories: the generated policies must always prove exact.
func TestProofProperty(t *testing.T) {
	iterations := 1000
	if testing.Short() {
		iterations = 40
	}
	for seed := range iterations {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		inv, req := randomCase(rng)
		plan, err := Generate(inv, req)
		if err != nil {
			t.Fatalf("seed %d: generate: %v\n%+v", seed, err, req)
		}
		proof, err := plan.Prove(context.Background(), inv)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if !proof.OK() {
			t.Fatalf("seed %d: proof failed\nrequirements: %+v\ndifferences: %v\nunmet: %v", seed, req, proof.Differences, proof.Unmet)
		}
	}
}

func randomCase(rng *rand.Rand) (*workload.Inventory, *Requirements) {
	nns := 1 + rng.IntN(3)
	var names []string
	ports := map[string][]corev1.ContainerPort{}
	for i := range 2 + rng.IntN(6) {
		full := fmt.Sprintf("ns%d/w%d", rng.IntN(nns), i)
		names = append(names, full)
		if rng.IntN(2) == 0 {
			ports[full] = []corev1.ContainerPort{{Name: "http", ContainerPort: int32(8000 + rng.IntN(10)), Protocol: corev1.ProtocolTCP}}
		}
	}
	withDNS := rng.IntN(2) == 0
	if withDNS {
		names = append(names, "kube-system/coredns")
	}
	inv := testInventory(names, ports)
	if withDNS {
		inv.Workloads[len(inv.Workloads)-1].PodMeta.Labels = map[string]string{"k8s-app": "kube-dns"}
	}
	req := &Requirements{APIVersion: RequirementsAPIVersion, Kind: RequirementsKind, DNS: &DNS{Disabled: !withDNS, Namespace: DefaultDNSNamespace, PodSelector: DefaultDNSSelector, Ports: DefaultDNSPorts}}
	for i := range rng.IntN(3) {
		base := rng.IntN(200) + 1
		e := External{Name: fmt.Sprintf("e%d", i), CIDRs: []string{fmt.Sprintf("%d.0.0.0/8", base)}}
		if rng.IntN(2) == 0 {
			e.Except = []string{fmt.Sprintf("%d.%d.0.0/16", base, rng.IntN(256))}
		}
		if rng.IntN(3) == 0 {
			e.CIDRs = append(e.CIDRs, fmt.Sprintf("%d.0.0.0/8", base+1))
		}
		req.Externals = append(req.Externals, e)
	}
	app := names[:len(names)-map[bool]int{true: 1, false: 0}[withDNS]]
	for range rng.IntN(10) {
		a := Allow{From: app[rng.IntN(len(app))], To: app[rng.IntN(len(app))]}
		if len(req.Externals) > 0 && rng.IntN(4) == 0 {
			e := "external:" + req.Externals[rng.IntN(len(req.Externals))].Name
			if rng.IntN(2) == 0 {
				a.From = e
			} else {
				a.To = e
			}
		}
		if a.From == a.To {
			continue
		}
		for range rng.IntN(3) {
			proto := []string{"TCP", "UDP", "SCTP"}[rng.IntN(3)]
			switch rng.IntN(3) {
			case 0:
				a.Ports = append(a.Ports, proto)
			case 1:
				a.Ports = append(a.Ports, fmt.Sprintf("%s/%d", proto, 1+rng.IntN(65535)))
			default:
				lo := 1 + rng.IntN(60000)
				a.Ports = append(a.Ports, fmt.Sprintf("%s/%d-%d", proto, lo, lo+rng.IntN(5000)))
			}
		}
		req.Allow = append(req.Allow, a)
	}
	return inv, req
}

func TestRequirementErrors(t *testing.T) {
	head := "apiVersion: palisade.io/v1alpha1\nkind: NetworkRequirements\n"
	for name, tc := range map[string]struct{ doc, want string }{
		"kind":           {"apiVersion: v1\nkind: Pod\n", "want apiVersion"},
		"unknown field":  {head + "alow: []\n", "unknown field"},
		"port range":     {head + "allow: [{from: a/x, to: a/y, ports: [TCP/70000]}]\n", "out of range"},
		"protocol":       {head + "allow: [{from: a/x, to: a/y, ports: [ICMP/1]}]\n", "not TCP, UDP or SCTP"},
		"backwards":      {head + "allow: [{from: a/x, to: a/y, ports: [TCP/90-80]}]\n", "ends before"},
		"unknown ext":    {head + "allow: [{from: a/x, to: 'external:nope'}]\n", "unknown external"},
		"except outside": {head + "externals: [{name: e, cidrs: [10.0.0.0/8], except: [11.0.0.0/16]}]\nallow: []\n", "inside none"},
		"bad cidr":       {head + "externals: [{name: e, cidrs: [10.0.0.0/33]}]\nallow: []\n", "10.0.0.0/33"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseRequirements([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	inv := testInventory([]string{"a/x", "a/y", "b/z"}, nil)
	inv.Workloads[1].PodMeta.Labels = map[string]string{"app": "x", "extra": "1"}
	for name, tc := range map[string]struct{ doc, want string }{
		"not exact":    {"allow: [{from: a/x, to: b/z}]", "also select a/y"},
		"missing":      {"allow: [{from: a/nope, to: b/z}]", `no workload "a/nope"`},
		"out of scope": {"namespaces: [a]\nallow: [{from: b/z, to: 'external:e'}]\nexternals: [{name: e, cidrs: [1.0.0.0/8]}]", "neither end"},
	} {
		t.Run(name, func(t *testing.T) {
			req := mustParse(t, "apiVersion: palisade.io/v1alpha1\nkind: NetworkRequirements\n"+tc.doc)
			_, err := Generate(inv, req)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}
