package hub_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/hubtest"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// builderSigner is how an agent names a keyless signer that verified.
const builderSigner = "signature: https://github.com/acme/builder/.github/workflows/build.yml@refs/heads/main from https://token.actions.githubusercontent.com"

// TestProvenanceInChromium drives the provenance page in real headless
// Chromium: which clusters run images without provenance from our builder
// (edge-arm-01 runs nginx built by it and a sensor image signed only by a
// mirror key; edge-stale-03's sensor image is unsigned; edge-amd-02's
// agent reported nothing), then the same question through the API.
func TestProvenanceInChromium(t *testing.T) {
	bin := hubtest.ChromiumPath(t)
	h := hubtest.Start(t)
	fleet := hubtest.SeedFleet(t, h)
	now := h.Clock.Now()
	published := now.Add(-72 * time.Hour)
	report := func(cluster, digest, ref string, state fleetapi.VerificationState, reason string, signers ...string) {
		fleet.Agents[cluster].Report(t, fleetapi.KindImageVerification, &fleetapi.ImageVerification{Digest: digest, Ref: ref, State: state,
			Policy: "prod v2", Rule: "fleet", Signers: signers, Reason: reason, CheckedAt: now, TrustedRootUpdated: published})
	}
	report("edge-arm-01", hubtest.NginxDigest, hubtest.NginxRef, fleetapi.VerificationVerified, "", builderSigner)
	report("edge-arm-01", hubtest.SensorDigest, hubtest.SensorRef, fleetapi.VerificationVerified, "", "signature: mirror key")
	report("edge-stale-03", hubtest.SensorDigest, hubtest.SensorRef, fleetapi.VerificationUnsigned, "no cosign signature found")

	ctx := hubtest.Chromium(t, bin)
	run := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	shot := func(name string) {
		t.Helper()
		dir := os.Getenv("PALISADE_SCREENSHOT_DIR")
		if dir == "" {
			return
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
		}
		if err != nil {
			t.Errorf("screenshot %s: %v", name, err)
		}
	}
	run("sign in",
		chromedp.Navigate(h.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#login")),
		chromedp.SendKeys(chromedp.CSS("#username"), hubtest.ViewerUser),
		chromedp.SendKeys(chromedp.CSS("#password"), hubtest.ViewerPassword),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#clusters")))
	run("open provenance", chromedp.Click(chromedp.CSS(`header nav a[href="/provenance"]`)), chromedp.WaitVisible(chromedp.CSS("#provenance")))
	all := text("#provenance")
	for _, w := range []string{"verified", "unsigned", "not-checked", "mirror key", "no verification reported"} {
		if !strings.Contains(all, w) {
			t.Errorf("all images: no %q in %q", w, all)
		}
	}
	if got := text("#trusted-root-age"); !strings.Contains(got, "3d ago") {
		t.Errorf("trusted root age: %q", got)
	}
	for _, tt := range []struct {
		name, signer string
		in, out      []string
	}{
		{"without provenance from our builder", "acme/builder", []string{"edge-arm-01", "edge-stale-03", "edge-amd-02"}, nil},
		{"without any verified provenance", "", []string{"edge-stale-03", "edge-amd-02"}, []string{"edge-arm-01"}},
	} {
		run(tt.name,
			chromedp.Navigate(h.URL+"/provenance"),
			chromedp.WaitVisible(chromedp.CSS("#provenance")),
			chromedp.SendKeys(chromedp.CSS(`input[name="signer"]`), tt.signer),
			chromedp.Click(chromedp.CSS(`input[name="missing"]`)),
			chromedp.Submit(chromedp.CSS("form.filters")),
			chromedp.WaitReady(chromedp.CSS(`input[name="missing"][checked]`)))
		clusters := text("#provenance-clusters")
		for _, c := range tt.in {
			if !strings.Contains(clusters, c) {
				t.Errorf("%s: %s missing from %q", tt.name, c, clusters)
			}
		}
		for _, c := range tt.out {
			if strings.Contains(clusters, c) {
				t.Errorf("%s: %s listed in %q", tt.name, c, clusters)
			}
		}
		if strings.Contains(text("#provenance"), builderSigner) {
			t.Errorf("%s: an image verified by the builder is listed", tt.name)
		}
		shot("provenance-" + strings.ReplaceAll(tt.name, " ", "-"))
	}

	// The API answers the same question with the session (the page's
	// policy allows no fetch: the browser opens the JSON).
	run("open the API", chromedp.Navigate(h.URL+"/api/v1/image-verifications?missing=true&signer=acme%2Fbuilder"), chromedp.WaitReady(chromedp.CSS("body")))
	body := text("body")
	var res struct {
		Total    int
		Clusters []struct {
			ClusterID string
			Images    int
		}
		Images []struct {
			ClusterID string
			Digest    string
			State     fleetapi.VerificationState
		}
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatalf("API: %v: %s", err, body)
	}
	byCluster := map[string]int{}
	for _, c := range res.Clusters {
		byCluster[c.ClusterID] = c.Images
	}
	if res.Total != 4 || len(res.Images) != 4 || byCluster[fleet.IDs["edge-arm-01"]] != 1 || byCluster[fleet.IDs["edge-stale-03"]] != 1 || byCluster[fleet.IDs["edge-amd-02"]] != 2 {
		t.Errorf("API: %s", body)
	}
}

// TestTrustedRootAgeMetric: /metrics says how old the trusted root is
// that each cluster's agent verifies the images it runs with (the oldest
// among them), and the oldest in the fleet, from the agents'
// verifications; a verification of an image the cluster no longer runs
// does not count.
func TestTrustedRootAgeMetric(t *testing.T) {
	h := hubtest.Start(t)
	fleet := hubtest.SeedFleet(t, h)
	now := h.Clock.Now()
	report := func(cluster, digest, ref string, rootAge time.Duration) {
		fleet.Agents[cluster].Report(t, fleetapi.KindImageVerification, &fleetapi.ImageVerification{Digest: digest, Ref: ref, State: fleetapi.VerificationVerified,
			Policy: "prod v2", Rule: "fleet", Signers: []string{builderSigner}, CheckedAt: now, TrustedRootUpdated: now.Add(-rootAge)})
	}
	report("edge-arm-01", hubtest.NginxDigest, hubtest.NginxRef, 72*time.Hour)
	report("edge-arm-01", hubtest.SensorDigest, hubtest.SensorRef, 24*time.Hour)
	report("edge-stale-03", hubtest.SensorDigest, hubtest.SensorRef, 10*time.Hour)
	report("edge-stale-03", "sha256:"+strings.Repeat("d", 64), "gone:1", 1000*time.Hour) // not run any more
	tok, err := h.CreateAPIToken(context.Background(), "prometheus", store.RoleViewer, 0)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("GET", h.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := h.Client(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %v", resp.StatusCode, err)
	}
	var got []string
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "palisade_hub_trusted_root_") {
			got = append(got, line)
		}
	}
	sort.Strings(got)
	want := []string{
		`palisade_hub_trusted_root_age_seconds{cluster="` + fleet.IDs["edge-arm-01"] + `"} 259200`,
		`palisade_hub_trusted_root_age_seconds{cluster="` + fleet.IDs["edge-stale-03"] + `"} 36000`,
		`palisade_hub_trusted_root_oldest_age_seconds 259200`,
	}
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("metrics\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
