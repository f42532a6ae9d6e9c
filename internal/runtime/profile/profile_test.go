package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var (
	t0  = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	web = Workload{Namespace: "shop", Kind: "Deployment", Name: "web"}
	db  = Workload{Namespace: "shop", Kind: "StatefulSet", Name: "db"}
)

func egress(peer Peer, port uint16, proto string) Connection {
	return Connection{Direction: Egress, Peer: peer, Port: port, Protocol: proto}
}

func TestLearnAndDeviations(t *testing.T) {
	p := &Profile{Workload: web, LearningSince: t0, LearnUntil: t0.Add(time.Hour)}
	toDB := egress(Peer{Workload: &db}, 5432, TCP)
	dns := egress(Peer{CIDR: "10.96.0.10/32"}, 53, UDP)
	p.Learn(&Observation{Workload: web, Binaries: []string{"/app/web", "/bin/true"}, Connections: []Connection{toDB}})
	// A second node's observation of the same workload merges; duplicates
	// do not grow the profile.
	p.Learn(&Observation{Workload: web, Binaries: []string{"/app/web"}, Connections: []Connection{dns, egress(Peer{Workload: &Workload{Namespace: "shop", Kind: "StatefulSet", Name: "db"}}, 5432, TCP)}})
	if got := strings.Join(p.Binaries, ","); got != "/app/web,/bin/true" {
		t.Errorf("binaries %s", got)
	}
	if len(p.Connections) != 2 {
		t.Errorf("connections %v, want 2", p.Connections)
	}
	for _, tc := range []struct {
		name      string
		obs       Observation
		wantBins  []string
		wantConns []string
	}{
		{"inside the profile", Observation{Binaries: []string{"/app/web"}, Connections: []Connection{dns}}, nil, nil},
		{"new binary", Observation{Binaries: []string{"/app/web", "/usr/bin/curl", "/usr/bin/curl"}}, []string{"/usr/bin/curl"}, nil},
		{"same peer, other port", Observation{Connections: []Connection{egress(Peer{Workload: &db}, 22, TCP)}}, nil, []string{"egress to shop/StatefulSet/db port 22/TCP"}},
		{"same port, other protocol", Observation{Connections: []Connection{egress(Peer{CIDR: "10.96.0.10/32"}, 53, TCP)}}, nil, []string{"egress to 10.96.0.10/32 port 53/TCP"}},
		{"ingress never seen", Observation{Connections: []Connection{{Direction: Ingress, Peer: Peer{CIDR: "10.0.0.9/32"}, Port: 8080, Protocol: TCP}}}, nil, []string{"ingress from 10.0.0.9/32 port 8080/TCP"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.obs.Workload = web
			bins, conns := p.Deviations(&tc.obs)
			var cs []string
			for _, c := range conns {
				cs = append(cs, c.String())
			}
			if fmt.Sprint(bins) != fmt.Sprint(tc.wantBins) || fmt.Sprint(cs) != fmt.Sprint(tc.wantConns) {
				t.Errorf("deviations %v %v, want %v %v", bins, cs, tc.wantBins, tc.wantConns)
			}
			fs := DeviationFindings("c1", p, &tc.obs)
			if len(fs) != len(tc.wantBins)+len(tc.wantConns) {
				t.Fatalf("%d findings, want %d", len(fs), len(tc.wantBins)+len(tc.wantConns))
			}
			for _, f := range fs {
				if f.F.Object.Kind != "Deployment" || f.F.Object.Name != "web" || f.F.Object.APIVersion != "apps/v1" || f.ID == "" {
					t.Errorf("finding %+v", f)
				}
				// The same deviation again is the same finding.
				if again := DeviationFindings("c1", p, &tc.obs); again[0].ID != fs[0].ID {
					t.Errorf("finding ID not stable: %s, %s", fs[0].ID, again[0].ID)
				}
			}
		})
	}
	// A relearned profile (a new window) reports the same deviation anew.
	obs := Observation{Workload: web, Binaries: []string{"/usr/bin/curl"}}
	a := DeviationFindings("c1", p, &obs)
	q := *p
	q.LearnUntil = q.LearnUntil.Add(time.Hour)
	if b := DeviationFindings("c1", &q, &obs); a[0].ID == b[0].ID || a[0].F.RuleID != RuleUnexpectedBinary {
		t.Errorf("relearned: %s %s", a[0].ID, b[0].ID)
	}
}

func TestLearnBounds(t *testing.T) {
	p := &Profile{Workload: web}
	for i := range MaxBinariesPerProfile + 10 {
		p.Learn(&Observation{Binaries: []string{fmt.Sprintf("/bin/b%04d", i)}})
	}
	for i := range MaxConnsPerProfile + 5 {
		p.Learn(&Observation{Connections: []Connection{egress(Peer{CIDR: "10.1.0.1/32"}, uint16(i+1), TCP)}, Overflow: 0})
	}
	p.Learn(&Observation{Overflow: 7})
	if len(p.Binaries) != MaxBinariesPerProfile || len(p.Connections) != MaxConnsPerProfile || p.Overflow != 10+5+7 {
		t.Errorf("%d binaries, %d connections, overflow %d", len(p.Binaries), len(p.Connections), p.Overflow)
	}
}

func TestLocked(t *testing.T) {
	p := &Profile{LearnUntil: t0}
	for _, tc := range []struct {
		at   time.Time
		want string
	}{{t0.Add(-time.Second), "learning"}, {t0, "locked"}, {t0.Add(time.Hour), "locked"}} {
		if got := p.State(tc.at); got != tc.want {
			t.Errorf("at %s: %s, want %s", tc.at, got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	long := strings.Repeat("x", MaxNameLen)
	for _, tc := range []struct {
		name string
		o    Observation
		want string
	}{
		{"good", Observation{Workload: web, Binaries: []string{"/a"}, Connections: []Connection{egress(Peer{CIDR: "10.0.0.0/8"}, 1, TCP)}}, ""},
		{"no kind", Observation{Workload: Workload{Name: "x"}}, "want a namespace, kind and name"},
		{"slash in name", Observation{Workload: Workload{Kind: "Pod", Name: "a/b"}}, "without '/'"},
		{"long name", Observation{Workload: Workload{Kind: "Pod", Name: long}}, "at most"},
		{"relative binary", Observation{Workload: web, Binaries: []string{"sh"}}, "absolute path"},
		{"too many binaries", Observation{Workload: web, Binaries: make([]string, MaxBinariesPerObs+1)}, "over"},
		{"bad direction", Observation{Workload: web, Connections: []Connection{{Direction: "up", Peer: Peer{CIDR: "1.2.3.4/32"}, Port: 1, Protocol: TCP}}}, "direction"},
		{"bad protocol", Observation{Workload: web, Connections: []Connection{egress(Peer{CIDR: "1.2.3.4/32"}, 1, "SCTP")}}, "protocol"},
		{"port 0", Observation{Workload: web, Connections: []Connection{egress(Peer{CIDR: "1.2.3.4/32"}, 0, TCP)}}, "port 0"},
		{"no peer", Observation{Workload: web, Connections: []Connection{egress(Peer{}, 1, TCP)}}, "neither"},
		{"both peers", Observation{Workload: web, Connections: []Connection{egress(Peer{CIDR: "1.2.3.4/32", Workload: &db}, 1, TCP)}}, "both"},
		{"host bits", Observation{Workload: web, Connections: []Connection{egress(Peer{CIDR: "1.2.3.4/8"}, 1, TCP)}}, "host bits"},
		{"not a CIDR", Observation{Workload: web, Connections: []Connection{egress(Peer{CIDR: "1.2.3.4"}, 1, TCP)}}, "peer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
}

func TestReadExport(t *testing.T) {
	good := Export{Kind: ExportKind, Cluster: "c1", GeneratedAt: t0, Profiles: []ExportedProfile{{State: "locked", Profile: Profile{Workload: web,
		Binaries: []string{"/b", "/a", "/a"}, Connections: []Connection{egress(Peer{Workload: &db}, 5432, TCP), egress(Peer{CIDR: "10.96.0.10/32"}, 53, UDP)}}}}}
	raw, _ := json.Marshal(good)
	x, err := ReadExport(bytes.NewReader(raw), "good.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(x.Profiles[0].Binaries, ","); got != "/a,/b" {
		t.Errorf("binaries not normalised: %s", got)
	}
	many := Export{Kind: ExportKind, Profiles: make([]ExportedProfile, MaxExportProfiles+1)}
	manyRaw, _ := json.Marshal(many)
	big := Export{Kind: ExportKind, Profiles: []ExportedProfile{{State: "locked", Profile: Profile{Workload: web, Binaries: make([]string, MaxBinariesPerProfile+1)}}}}
	bigRaw, _ := json.Marshal(big)
	for _, tc := range []struct {
		name, in, want string
	}{
		{"not JSON", "{", "unexpected end"},
		{"wrong kind", `{"kind":"Pod"}`, "want RuntimeProfiles"},
		{"bad state", `{"kind":"RuntimeProfiles","profiles":[{"workload":{"kind":"Pod","name":"a"},"state":"x"}]}`, "state"},
		{"bad workload", `{"kind":"RuntimeProfiles","profiles":[{"workload":{"name":"a"},"state":"locked"}]}`, "profile 0"},
		{"too many profiles", string(manyRaw), "profiles, over"},
		{"too many binaries", string(bigRaw), "binaries and"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadExport(strings.NewReader(tc.in), "x.json")
			if err == nil || !errors.Is(err, ErrExport) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "x.json") {
				t.Errorf("ReadExport: %v, want %q naming x.json", err, tc.want)
			}
		})
	}
}

func FuzzReadExport(f *testing.F) {
	f.Add([]byte(`{"kind":"RuntimeProfiles","cluster":"c","profiles":[{"workload":{"namespace":"a","kind":"Deployment","name":"w"},"binaries":["/x"],"connections":[{"direction":"egress","peer":{"cidr":"10.0.0.1/32"},"port":53,"protocol":"UDP"}],"state":"locked"}]}`))
	f.Add([]byte(`{"kind":"RuntimeProfiles","profiles":[{"workload":{"kind":"Pod","name":"p"},"connections":[{"direction":"ingress","peer":{"workload":{"kind":"Pod","name":"q"}},"port":1,"protocol":"TCP"}],"state":"learning"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := ReadExport(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		for i := range x.Profiles {
			p := &x.Profiles[i].Profile
			// What was read is valid and stable under learning itself.
			o := Observation{Workload: p.Workload, Binaries: p.Binaries, Connections: p.Connections}
			if bins, conns := p.Deviations(&o); len(bins)+len(conns) != 0 {
				t.Fatalf("profile deviates from itself: %v %v", bins, conns)
			}
		}
	})
}
