package netpol

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/runtime/profile"
	"github.com/palisade-sec/palisade/internal/workload"
)

func observedInventory() *workload.Inventory {
	inv := testInventory([]string{"shop/web", "shop/api", "shop/db", "kube-system/coredns"}, map[string][]corev1.ContainerPort{"shop/api": {{Name: "http", ContainerPort: 8080}}})
	inv.Workloads[3].PodMeta.Labels = map[string]string{"k8s-app": "kube-dns"}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "api"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.1.1",
		Selector: map[string]string{"app": "api"}, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}}}
	inv.Add(svc, finding.ObjectRef{APIVersion: "v1", Kind: "Service", Namespace: "shop", Name: "api"}, nil)
	return inv
}

func wl(ns, kind, name string) *profile.Workload {
	return &profile.Workload{Namespace: ns, Kind: kind, Name: name}
}

func conn(dir string, peer profile.Peer, port uint16, proto string) profile.Connection {
	return profile.Connection{Direction: dir, Peer: peer, Port: port, Protocol: proto}
}

// TestObservedRequirementsGenerate: learned profiles become policies that
// allow exactly the observed traffic, proven by re-analysis: a Service's
// cluster IP becomes the workload it selects on its target port, a peer
// workload itself, another address an ipBlock; observed DNS is the
// explicit DNS rule; both ends' views of one connection make one allow.
func TestObservedRequirementsGenerate(t *testing.T) {
	inv := observedInventory()
	x := &profile.Export{Kind: profile.ExportKind, Cluster: "c1", Profiles: []profile.ExportedProfile{
		{State: "locked", Profile: profile.Profile{Workload: *wl("shop", "Deployment", "web"), Connections: []profile.Connection{
			conn(profile.Egress, profile.Peer{CIDR: "10.96.1.1/32"}, 80, profile.TCP),
			conn(profile.Egress, profile.Peer{CIDR: "10.96.0.10/32"}, 53, profile.UDP),
			conn(profile.Ingress, profile.Peer{CIDR: "192.0.2.7/32"}, 8443, profile.TCP),
		}}},
		{State: "locked", Profile: profile.Profile{Workload: *wl("shop", "Deployment", "api"), Connections: []profile.Connection{
			conn(profile.Egress, profile.Peer{Workload: wl("shop", "Deployment", "db")}, 5432, profile.TCP),
			conn(profile.Egress, profile.Peer{CIDR: "203.0.113.5/32"}, 443, profile.TCP),
		}}},
		{State: "locked", Profile: profile.Profile{Workload: *wl("shop", "Deployment", "db"), Connections: []profile.Connection{
			conn(profile.Ingress, profile.Peer{Workload: wl("shop", "Deployment", "api")}, 5432, profile.TCP),
		}}},
	}}
	req, probs := ObservedRequirements(x, inv, nil)
	if len(probs) != 0 {
		t.Fatalf("problems: %v", probs)
	}
	if got := strings.Join(req.Namespaces, ","); got != "shop" {
		t.Errorf("scope %s", got)
	}
	plan, err := Generate(inv, req)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := plan.Prove(context.Background(), inv)
	if err != nil {
		t.Fatal(err)
	}
	if !proof.OK() {
		t.Fatalf("proof failed: %v %v", proof.Differences, proof.Unmet)
	}
	got := strings.Join(proof.Actual.Lines(), "\n")
	for _, w := range []string{
		"shop/web[Deployment] => shop/api[Deployment] : TCP 8080",
		"shop/api[Deployment] => shop/db[Deployment] : TCP 5432",
		"shop/api[Deployment] => 203.0.113.5-203.0.113.5[External] : TCP 443",
		"192.0.2.7-192.0.2.7[External] => shop/web[Deployment] : TCP 8443",
		"shop/web[Deployment] => kube-system/coredns[Deployment] : TCP 53,UDP 53",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in\n%s", w, got)
		}
	}
	for _, not := range []string{"shop/web[Deployment] => shop/db", "shop/db[Deployment] => shop/api", "shop/web[Deployment] => 203.0.113", "10.96.1.1"} {
		if strings.Contains(got, not) {
			t.Errorf("unobserved traffic %q allowed:\n%s", not, got)
		}
	}
}

// TestObservedRequirementsProblems: what the profiles cannot tell is a
// problem, never silently a narrower or wider policy.
func TestObservedRequirementsProblems(t *testing.T) {
	inv := observedInventory()
	for _, tc := range []struct {
		name  string
		p     profile.ExportedProfile
		level string
		want  string
	}{
		{"learning", profile.ExportedProfile{State: "learning", Profile: profile.Profile{Workload: *wl("shop", "Deployment", "web"), LearnUntil: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)}}, finding.LevelWarning, "still learning (until 2026-12-07T00:00:00Z)"},
		{"overflow", profile.ExportedProfile{State: "locked", Profile: profile.Profile{Workload: *wl("shop", "Deployment", "web"), Overflow: 3}}, finding.LevelError, "did not keep 3 observations"},
		{"unknown workload", profile.ExportedProfile{State: "locked", Profile: profile.Profile{Workload: *wl("shop", "Deployment", "gone")}}, finding.LevelError, "shop/Deployment/gone: no such workload"},
		{"unknown peer", profile.ExportedProfile{State: "locked", Profile: profile.Profile{Workload: *wl("shop", "Deployment", "web"),
			Connections: []profile.Connection{conn(profile.Egress, profile.Peer{Workload: wl("x", "Deployment", "y")}, 1, profile.TCP)}}}, finding.LevelError, "the peer is not in the input"},
		{"unprofiled workload in scope", profile.ExportedProfile{State: "locked", Profile: profile.Profile{Workload: *wl("shop", "Deployment", "web")}}, finding.LevelWarning, "shop/db[Deployment] has no profile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := ObservedRequirements(&profile.Export{Kind: profile.ExportKind, Cluster: "c1", Profiles: []profile.ExportedProfile{tc.p}}, inv, nil)
			for _, p := range probs {
				if p.Level == tc.level && strings.Contains(p.Message, tc.want) && p.File == "cluster c1" {
					return
				}
			}
			t.Errorf("problems %v, want a %s %q", probs, tc.level, tc.want)
		})
	}
}

// TestObservedDiff: against policies that allow web to db but not to api,
// web's observed call to api is denied and its allowed path to db unused.
func TestObservedDiff(t *testing.T) {
	inv := observedInventory()
	plan, err := Generate(inv, mustParse(t, `{apiVersion: palisade.io/v1alpha1, kind: NetworkRequirements, allow: [{from: shop/web, to: shop/db, ports: [TCP/5432]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	withPolicies := plan.Inventory(inv)
	x := &profile.Export{Kind: profile.ExportKind, Cluster: "c1", Profiles: []profile.ExportedProfile{
		{State: "locked", Profile: profile.Profile{Workload: *wl("shop", "Deployment", "web"), Connections: []profile.Connection{
			conn(profile.Egress, profile.Peer{CIDR: "10.96.1.1/32"}, 80, profile.TCP),
			conn(profile.Egress, profile.Peer{CIDR: "10.96.0.10/32"}, 53, profile.UDP)}}},
		{State: "locked", Profile: profile.Profile{Workload: *wl("shop", "Deployment", "api")}},
		{State: "locked", Profile: profile.Profile{Workload: *wl("shop", "Deployment", "db")}},
	}}
	fs, probs, err := ObservedDiff(context.Background(), x, withPolicies)
	if err != nil || len(probs) != 0 {
		t.Fatalf("%v %v", err, probs)
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.RuleID+" "+f.Object.Name+" "+f.Message)
	}
	want := []string{
		"netpol/allowed-never-used web allowed by the policies but never observed: shop/web[Deployment] => shop/db[Deployment] : TCP 5432",
		"netpol/observed-but-denied web observed but denied by the policies: shop/web[Deployment] => shop/api[Deployment] : TCP 8080",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The policies generated from the observations leave no difference.
	req, _ := ObservedRequirements(x, inv, nil)
	own, err := Generate(inv, req)
	if err != nil {
		t.Fatal(err)
	}
	if fs, _, err := ObservedDiff(context.Background(), x, own.Inventory(inv)); err != nil || len(fs) != 0 {
		t.Errorf("generated policies differ from the observations: %v %v", fs, err)
	}
}
