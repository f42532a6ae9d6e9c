package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/palisade-sec/palisade/internal/hub"
	"github.com/palisade-sec/palisade/internal/hub/hubtest"
	"github.com/palisade-sec/palisade/internal/testregistry"
)

func sensorWorkload(image string, replicas int, cpu string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: lidar-reader
  namespace: sensors
spec:
  replicas: ` + itoa(replicas) + `
  selector: {matchLabels: {app: lidar}}
  template:
    metadata: {labels: {app: lidar}}
    spec:
      nodeSelector:
        palisade.dev/sensor: lidar
      containers:
      - name: reader
        image: ` + image + `
        resources:
          requests: {cpu: "` + cpu + `", memory: 256Mi}
`
}

const webWorkload = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: frontend
  namespace: web
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions:
              - {key: kubernetes.io/os, operator: In, values: [linux]}
      containers:
      - name: web
        image: ` + hubtest.NginxRef + `
        resources:
          requests: {cpu: "1", memory: 2Gi}
`

type placeOutput struct {
	Workloads []struct {
		Request    hub.PlacementRequest `json:"request"`
		Placements []hub.Placement      `json:"placements"`
		Excluded   int                  `json:"excluded"`
	} `json:"workloads"`
}

func check(p hub.Placement, name string) hub.PlacementCheck {
	for _, c := range p.Checks {
		if c.Name == name {
			return c
		}
	}
	return hub.PlacementCheck{}
}

// TestHubPlace seeds a fleet through the hub's API (agents enrol and
// report over mutual TLS) and ranks clusters for workloads with the CLI.
func TestHubPlace(t *testing.T) {
	h := hubtest.Start(t)
	hubtest.SeedFleet(t, h)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	type want struct {
		cluster string
		fits    bool
		results map[string]string // check -> result
		reason  map[string]string // check -> substring of the reason
	}
	tests := []struct {
		name     string
		manifest string
		flags    []string
		code     int
		excluded int
		want     []want
	}{
		{
			name: "sensor workload: the arm64 cluster with the sensor node first, the stale one after with its unknowns",
			// Platforms from the hub's records: the image runs on clusters whose nodes are all arm64.
			manifest: sensorWorkload(hubtest.SensorRef, 1, "250m"), code: 0, excluded: 3,
			want: []want{
				{"edge-arm-01", true, map[string]string{hub.CheckState: "pass", hub.CheckNodeLabels: "pass", hub.CheckArchitecture: "pass", hub.CheckCapacity: "pass",
					hub.CheckPodSecurity: "pass", hub.CheckEncryption: "pass", hub.CheckCritical: "pass"},
					map[string]string{hub.CheckArchitecture: "linux/arm64 (hub records)", hub.CheckNodeLabels: "pi-1", hub.CheckPodSecurity: "enforces restricted",
						hub.CheckEncryption: "aescbc", hub.CheckCapacity: "10 replica(s)"}},
				{"edge-stale-03", true, map[string]string{hub.CheckState: "unknown", hub.CheckEncryption: "unknown", hub.CheckArchitecture: "pass"},
					map[string]string{hub.CheckState: "stale", hub.CheckCritical: "as of"}},
			},
		},
		{
			name:     "--all lists the clusters that do not fit, with the failed checks",
			manifest: sensorWorkload(hubtest.SensorRef, 1, "250m"), flags: []string{"--all"}, code: 0,
			want: []want{
				{"edge-arm-01", true, nil, nil},
				{"edge-stale-03", true, nil, nil},
				{"edge-amd-02", false, map[string]string{hub.CheckNodeLabels: "fail", hub.CheckCritical: "fail", hub.CheckPodSecurity: "pass"},
					map[string]string{hub.CheckNodeLabels: "palisade.dev/sensor=lidar", hub.CheckPodSecurity: "enforces baseline"}},
				{"edge-offline-04", false, map[string]string{hub.CheckState: "fail", hub.CheckPodSecurity: "unknown"}, nil},
				{"never-seen-05", false, map[string]string{hub.CheckState: "fail", hub.CheckNodeLabels: "unknown"}, nil},
			},
		},
		{
			name:     "--strict: unknown is a failure",
			manifest: sensorWorkload(hubtest.SensorRef, 1, "250m"), flags: []string{"--strict"}, code: 0, excluded: 4,
			want: []want{{"edge-arm-01", true, nil, nil}},
		},
		{
			name:     "capacity: allocatable minus requested",
			manifest: sensorWorkload(hubtest.SensorRef, 20, "1"), flags: []string{"--all"}, code: 1,
			want: []want{{"edge-arm-01", false, map[string]string{hub.CheckCapacity: "fail"}, map[string]string{hub.CheckCapacity: "2 of 20 replica(s)"}},
				{"edge-amd-02", false, nil, nil},
				{"edge-stale-03", false, map[string]string{hub.CheckCapacity: "fail"}, map[string]string{hub.CheckCapacity: "3 of 20 replica(s)"}}},
		},
		{
			name:     "web workload fits nowhere: no enforce label, or a critical finding",
			manifest: webWorkload, flags: []string{"--all"}, code: 1,
			want: []want{
				{"edge-arm-01", false, map[string]string{hub.CheckPodSecurity: "fail", hub.CheckCritical: "pass", hub.CheckCapacity: "pass"},
					map[string]string{hub.CheckPodSecurity: "namespace web does not exist", hub.CheckCapacity: "5 replica(s)"}},
				{"edge-amd-02", false, map[string]string{hub.CheckPodSecurity: "pass", hub.CheckCritical: "fail", hub.CheckArchitecture: "pass", hub.CheckCapacity: "pass"},
					map[string]string{hub.CheckCritical: "1 open critical", hub.CheckArchitecture: "linux/amd64, linux/arm64 (hub records)"}},
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write("w"+itoa(i)+".yaml", tt.manifest)
			args := append([]string{"hub", "place", "--database", h.Database, "-f", path, "--offline", "-o", "json"}, tt.flags...)
			out, errOut, code := palisade(t, "", args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tt.code, errOut, out)
			}
			var got placeOutput
			if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Workloads) != 1 {
				t.Fatalf("output %v:\n%s", err, out)
			}
			w := got.Workloads[0]
			if w.Excluded != tt.excluded && tt.excluded != 0 {
				t.Errorf("excluded %d, want %d", w.Excluded, tt.excluded)
			}
			if w.Request.Replicas == 0 || w.Request.Namespace == "" || len(w.Request.Images) != 1 {
				t.Errorf("request %+v", w.Request)
			}
			for i, wc := range tt.want {
				if i >= len(w.Placements) || w.Placements[i].ClusterName != wc.cluster {
					var order []string
					for _, p := range w.Placements {
						order = append(order, p.ClusterName)
					}
					t.Fatalf("rank %d: want %s, order %v", i+1, wc.cluster, order)
				}
				p := w.Placements[i]
				if p.Fits != wc.fits || p.Rank != i+1 {
					t.Errorf("%s: fits %v rank %d, want %v %d: %+v", wc.cluster, p.Fits, p.Rank, wc.fits, i+1, p.Checks)
				}
				for name, res := range wc.results {
					if c := check(p, name); c.Result != res {
						t.Errorf("%s %s = %s (%s), want %s", wc.cluster, name, c.Result, c.Reason, res)
					}
				}
				for name, sub := range wc.reason {
					if c := check(p, name); !strings.Contains(c.Reason, sub) {
						t.Errorf("%s %s reason %q, want %q", wc.cluster, name, c.Reason, sub)
					}
				}
			}
		})
	}

	t.Run("table and yaml", func(t *testing.T) {
		path := write("table.yaml", sensorWorkload(hubtest.SensorRef, 1, "250m"))
		out, errOut, code := palisade(t, "", "hub", "place", "--database", h.Database, "-f", path, "--offline")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		t.Log("\n" + out)
		for _, w := range []string{"Deployment/sensors/lidar-reader in namespace sensors: 1 replica(s)", "RANK", "1     edge-arm-01", "encryption-at-rest", "3 more cluster(s) do not fit"} {
			if !strings.Contains(out, w) {
				t.Errorf("table: no %q in\n%s", w, out)
			}
		}
		out, _, code = palisade(t, "", "hub", "place", "--database", h.Database, "-f", path, "--offline", "-o", "yaml")
		if code != 0 || !strings.Contains(out, "clusterName: edge-arm-01") {
			t.Errorf("yaml (%d):\n%s", code, out)
		}
		if _, errOut, code := palisade(t, "", "hub", "place", "--database", h.Database, "-f", write("none.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"), "--offline"); code != 2 || !strings.Contains(errOut, "no workload") {
			t.Errorf("no workload: %d %s", code, errOut)
		}
	})
}

// TestHubPlaceReadsRegistryPlatforms pushes an amd64-only image index to a
// real registry: placement reads its platforms and refuses the arm64
// clusters, although the hub has no record of the image.
func TestHubPlaceReadsRegistryPlatforms(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	h := hubtest.Start(t)
	hubtest.SeedFleet(t, h)
	ref := reg.Host + "/sensors/amd64-only:1"
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "w.yaml")
	if err := os.WriteFile(path, []byte(sensorWorkload(ref, 1, "250m")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := palisade(t, "", "hub", "place", "--database", h.Database, "-f", path, "--insecure-registry", reg.Host, "--all", "-o", "json")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (fits nowhere)\n%s\n%s", code, errOut, out)
	}
	var got placeOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if im := got.Workloads[0].Request.Images[0]; im.Source != "registry" || strings.Join(im.Platforms, ",") != "linux/amd64" {
		t.Fatalf("image %+v", im)
	}
	for _, p := range got.Workloads[0].Placements {
		if p.ClusterName == "edge-arm-01" {
			if c := check(p, hub.CheckArchitecture); c.Result != hub.CheckFail || !strings.Contains(c.Reason, "linux/arm64×1") || !strings.Contains(c.Reason, "(registry)") {
				t.Errorf("edge-arm-01 architecture: %+v", c)
			}
		}
	}
}
