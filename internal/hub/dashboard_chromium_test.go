package hub_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/palisade-sec/palisade/internal/hub/hubtest"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestDashboardInChromium drives the dashboard in real headless Chromium:
// login, the fleet overview, a cluster, its findings filtered by severity,
// an image and its vulnerabilities, the vulnerability search (following a
// CVE link and typing a GHSA ID), compliance, admission and runtime (a degraded node sensor shown as a gap), with a
// screenshot of each page.
func TestDashboardInChromium(t *testing.T) {
	bin := hubtest.ChromiumPath(t)
	h := hubtest.Start(t)
	fleet := hubtest.SeedFleet(t, h)

	shots := t.TempDir()
	extra := os.Getenv("PALISADE_SCREENSHOT_DIR")
	if extra != "" {
		if err := os.MkdirAll(extra, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx := hubtest.Chromium(t, bin)
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, scancel := context.WithTimeout(ctx, 60*time.Second)
		defer scancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			if png, serr := chromedp.Run(ctx, chromedp.CaptureScreenshot()); serr == nil {
				_ = os.WriteFile(filepath.Join(shots, "failed.png"), png, 0o644)
				if extra != "" {
					_ = os.WriteFile(filepath.Join(extra, "failed.png"), png, 0o644)
				}
			}
			t.Fatalf("%s (at %s): %v", name, loc, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
		defer scancel()
		s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	location := func() string {
		t.Helper()
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	shot := func(name string) {
		t.Helper()
		sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
		defer scancel()
		png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		for _, dir := range []string{shots, extra} {
			if dir == "" {
				continue
			}
			if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("screenshot %s: %d bytes", name, len(png))
	}
	contains := func(where, got string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: no %q in %q", where, w, got)
			}
		}
	}

	// Login: the overview redirects to the login page, which returns there.
	step("open the dashboard", chromedp.Navigate(h.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#login")))
	if loc := location(); !strings.Contains(loc, "/login?next=%2F") {
		t.Errorf("anonymous visit landed on %s", loc)
	}
	shot("01-login")
	step("sign in",
		chromedp.SendKeys(chromedp.CSS("#username"), hubtest.ViewerUser),
		chromedp.SendKeys(chromedp.CSS("#password"), hubtest.ViewerPassword),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#clusters")))
	cookies, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
		r, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{})
		return r.Cookies, err
	})
	if err != nil {
		t.Fatal(err)
	}
	var session bool
	for _, c := range cookies {
		if c.Name == "__Host-palisade-session" {
			session = true
			if !c.Secure || !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict {
				t.Errorf("session cookie: secure=%v httpOnly=%v sameSite=%s", c.Secure, c.HTTPOnly, c.SameSite)
			}
		}
	}
	if !session {
		t.Error("no session cookie after login")
	}
	// The stylesheet loaded under the CSP (the header is dark only with
	// it). The page may show before the stylesheet is applied (a CI run
	// at load 30 saw it), so wait for it; a CSP that blocks it never
	// gets there.
	var bg string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		bg, err = chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("header.top")).backgroundColor`))
		if (err == nil && bg == "rgb(15, 23, 42)") || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || bg != "rgb(15, 23, 42)" {
		t.Errorf("stylesheet not applied: header background %q (%v)", bg, err)
	}
	overview := text("#clusters")
	contains("overview", overview, "edge-arm-01", "edge-amd-02", "edge-stale-03", "edge-offline-04", "never-seen-05", "stale", "offline", "never-seen")
	staleRow := text("tr.row-stale")
	contains("stale row", staleRow, "edge-stale-03", "stale", "data as of")
	if strings.Contains(staleRow, "online") {
		t.Errorf("stale cluster row says online: %q", staleRow)
	}
	shot("02-overview")

	// Overview → cluster → findings (filtered).
	arm := fleet.IDs["edge-arm-01"]
	step("open a cluster", chromedp.Click(chromedp.CSS(`#clusters a[href="/clusters/`+arm+`"]`)), chromedp.WaitVisible(chromedp.CSS("#nodes")))
	contains("cluster page", text("main"), "edge-arm-01", "v1.31.4+k3s1", "k3s", "pi-1", "arm64", "6.1.0-28-arm64", "verified")
	shot("03-cluster")
	step("open its findings", chromedp.Click(chromedp.CSS("#cluster-findings")), chromedp.WaitVisible(chromedp.CSS("#findings")))
	contains("findings", text("#findings"), "hardening/read-only-root-fs", "pss/run-as-non-root")
	step("filter HIGH and above",
		chromedp.SetValue(chromedp.CSS("#severity"), "HIGH"),
		chromedp.Submit(chromedp.CSS("#finding-filters")),
		chromedp.WaitReady(chromedp.CSS(`#severity option[value="HIGH"][selected]`)))
	filtered := text("#findings")
	contains("filtered findings", filtered, "pss/run-as-non-root")
	if strings.Contains(filtered, "read-only-root-fs") {
		t.Errorf("MEDIUM finding shown with the HIGH filter: %q", filtered)
	}
	if loc := location(); !strings.Contains(loc, "severity=HIGH") || !strings.Contains(loc, "cluster="+arm) {
		t.Errorf("filter URL %s", loc)
	}
	shot("04-findings")

	// Images → an image → its vulnerability → the clusters it affects.
	step("open images", chromedp.Click(chromedp.CSS(`header nav a[href="/images"]`)), chromedp.WaitVisible(chromedp.CSS("#images")))
	contains("images", text("#images"), hubtest.NginxRef, hubtest.SensorRef)
	shot("05-images")
	step("open an image", chromedp.Click(chromedp.CSS(`#images a[href="/images/`+url.PathEscape(hubtest.NginxDigest)+`"]`)), chromedp.WaitVisible(chromedp.CSS("#vulns")))
	contains("image", text("#vulns"), hubtest.CVE, hubtest.GHSA, "openssl", "3.0.15-1~deb12u1")
	shot("06-image")
	step("follow the CVE", chromedp.Click(chromedp.CSS(`#vulns a[href="/vulnerabilities?q=`+hubtest.CVE+`"]`)), chromedp.WaitVisible(chromedp.CSS("#affected")))
	contains("search from the image", text("#vuln-result"), "2 clusters run an image affected by "+hubtest.CVE)

	// A search typed by the user: a GHSA alias, in lower case.
	step("search a GHSA",
		chromedp.Navigate(h.URL+"/vulnerabilities"),
		chromedp.WaitVisible(chromedp.CSS("#vuln-search")),
		chromedp.SendKeys(chromedp.CSS("#vuln-q"), strings.ToLower(hubtest.GHSA)),
		chromedp.Click(chromedp.CSS("#vuln-go")),
		chromedp.WaitVisible(chromedp.CSS("#affected")))
	contains("GHSA search", text("#vuln-result"), "2 clusters run an image affected by "+hubtest.GHSA)
	affected := text("#affected")
	contains("affected clusters", affected, "edge-arm-01", "edge-amd-02", hubtest.NginxRef)
	if strings.Contains(affected, "edge-stale-03") {
		t.Errorf("a cluster that does not run the image is listed: %q", affected)
	}
	shot("07-vulnerability-search")

	step("open compliance", chromedp.Click(chromedp.CSS(`header nav a[href="/compliance"]`)), chromedp.WaitVisible(chromedp.CSS("#compliance")))
	contains("compliance", text("#compliance"), "pss/privileged", "pss/run-as-non-root")
	shot("08-compliance")
	// Frameworks: each framework's fleet score and every cluster that
	// reported, scored from its rules and findings (edge-amd-02 fails
	// pss/privileged, a Pod Security baseline control).
	step("open frameworks", chromedp.Click(chromedp.CSS(`header nav a[href="/frameworks"]`)), chromedp.WaitVisible(chromedp.CSS("#fw-pss-baseline")))
	pss := text("#fw-pss-baseline")
	contains("frameworks", pss, "Fleet score:", "%", "edge-amd-02", "edge-arm-01", "edge-stale-03")
	contains("frameworks", text("#fw-cis"), "Fleet score:", "edge-amd-02")
	if strings.Contains(pss, "No cluster has reported yet") || strings.Contains(text("#fw-pss-baseline .score"), "none") {
		t.Errorf("pss-baseline has no score: %q", pss)
	}
	shot("08b-frameworks")
	step("open admission", chromedp.Click(chromedp.CSS(`header nav a[href="/admission"]`)), chromedp.WaitVisible(chromedp.CSS("#admission")))
	contains("admission denials", text("#admission"), "debug-shell", "camera", "denied")
	step("open break-glass", chromedp.Click(chromedp.CSS(`a[href="/admission?view=break-glass"]`)), chromedp.WaitVisible(chromedp.CSS(".breakglass")))
	contains("break-glass", text("#admission"), "incident-debug", "oncall@example.com")
	shot("09-admission-break-glass")
	step("open runtime", chromedp.Click(chromedp.CSS(`header nav a[href="/runtime"]`)), chromedp.WaitVisible(chromedp.CSS("#runtime-sensors")))
	contains("runtime sensors", text("#runtime-sensors"), "edge-arm-01", "pi-1", "pi-2", "degraded", "sensor degraded: load kernel BTF")
	contains("runtime findings", text("#runtime-findings"), "PAL-RT-001", "sensors/lidar-reader-7d9f", "/bin/sh")
	gap, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("#runtime-sensors .sensor-gap")).color`))
	if err != nil || gap == "" || gap == "rgb(0, 0, 0)" {
		t.Errorf("the degraded sensor's gap is not marked: color %q (%v)", gap, err)
	}
	shot("10-runtime")

	// A viewer has no admin page; sign out ends the session.
	step("sign out", chromedp.Click(chromedp.CSS(".who button")), chromedp.WaitVisible(chromedp.CSS("#login")))
	step("admin signs in",
		chromedp.Navigate(h.URL+"/admin"),
		chromedp.WaitVisible(chromedp.CSS("#login")),
		chromedp.SendKeys(chromedp.CSS("#username"), hubtest.AdminUser),
		chromedp.SendKeys(chromedp.CSS("#password"), hubtest.AdminPassword),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#form-cluster")))
	step("register a cluster from the form",
		chromedp.SendKeys(chromedp.CSS(`#form-cluster input[name="name"]`), "edge-new-06"),
		chromedp.Click(chromedp.CSS(`#form-cluster button`)),
		chromedp.WaitVisible(chromedp.CSS("#bootstrap-token")))
	if tok := text("#bootstrap-token"); !strings.HasPrefix(tok, "pbt_") {
		t.Errorf("bootstrap token %q", tok)
	}
	shot("11-admin-cluster-created")
	if cs, _, err := h.Store.QueryClusters(context.Background(), store.ClusterQuery{Search: "edge-new-06"}); err != nil || len(cs) != 1 {
		t.Errorf("cluster from the form: %v %v", cs, err)
	}
	t.Logf("screenshots in %s", shots)
}
