package hubtest

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// ChromiumPath finds Debian's Chromium ($PALISADE_CHROMIUM overrides). It
// skips the test when there is none, and fails instead when
// PALISADE_REQUIRE_CHROMIUM=1 (CI), so a CI machine without Chromium
// cannot pass silently.
func ChromiumPath(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("PALISADE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	msg := "Chromium not installed (run hack/chromium/install.sh, or apt-get install chromium)"
	if os.Getenv("PALISADE_REQUIRE_CHROMIUM") == "1" {
		t.Fatal(msg + "; PALISADE_REQUIRE_CHROMIUM=1 makes this a failure")
	}
	t.Skip(msg)
	return ""
}

// Chromium starts headless Chromium (bin) with a throwaway profile and
// returns a browser context, ended when the test ends. The flags keep
// Chromium off the network: no update, sync or safe-browsing service. The
// hub's certificate comes from its own CA, which the profile does not
// trust.
func Chromium(t testing.TB, bin string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("safebrowsing-disable-auto-update", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.IgnoreCertErrors,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser on the context without a timeout (chromedp's
	// rule); callers bound every step.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}
