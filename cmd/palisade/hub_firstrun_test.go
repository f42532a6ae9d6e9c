package main

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/hub/hubtest"
	"github.com/palisade-sec/palisade/internal/testenv"
)

// lockedBuffer collects a concurrent command's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestHubFirstRunInChromium is an operator's first day, as they meet it:
// a fresh data directory, 'hub serve', the login page's hint, the first
// user made with the CLI, sign-in, the empty fleet page's registration
// path, a bootstrap token from the CLI and a real agent enrolling with
// it, whose cluster then appears on the page (issue #16).
func TestHubFirstRunInChromium(t *testing.T) {
	bin := hubtest.ChromiumPath(t)
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	hubURL := "https://" + addr
	serveCtx, stopServe := context.WithCancel(ctx)
	var serveErr lockedBuffer
	served := make(chan int, 1)
	go func() {
		served <- run(serveCtx, []string{"hub", "serve", "--data-dir", dir, "--listen", addr, "--tls-san", "127.0.0.1"}, strings.NewReader(""), io.Discard, &serveErr)
	}()
	defer func() { stopServe(); <-served }()
	probe := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // only waits for the port
	for i := 0; ; i++ {
		resp, err := probe.Get(hubURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case code := <-served:
			t.Fatalf("hub serve exited %d:\n%s", code, serveErr.String())
		case <-time.After(100 * time.Millisecond):
		}
		if i > 300 {
			t.Fatalf("hub serve never answered: %v\n%s", err, serveErr.String())
		}
	}
	if !strings.Contains(serveErr.String(), "state in "+dir) {
		t.Errorf("hub serve does not say where its state is:\n%s", serveErr.String())
	}

	bctx := hubtest.Chromium(t, bin)
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, scancel := context.WithTimeout(bctx, 60*time.Second)
		defer scancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		sctx, scancel := context.WithTimeout(bctx, 30*time.Second)
		defer scancel()
		s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	step("open the new hub", chromedp.Navigate(hubURL+"/"), chromedp.WaitVisible(chromedp.CSS("#no-users")))
	if hint := text("#no-users"); !strings.Contains(hint, "palisade hub user create --name admin --role admin") {
		t.Errorf("login page hint: %q", hint)
	}
	if out, errOut, code := palisade(t, "first-admin-password\n", "hub", "--data-dir", dir, "user", "create", "--name", "admin", "--role", "admin"); code != exitClean {
		t.Fatalf("user create: exit %d\n%s%s", code, out, errOut)
	}
	step("sign in",
		chromedp.Navigate(hubURL+"/login"), chromedp.WaitVisible(chromedp.CSS("#login")),
		chromedp.SendKeys(chromedp.CSS("#username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#password"), "first-admin-password"),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#first-cluster")))
	first := text("#first-cluster")

	out, errOut, code := palisade(t, "", "hub", "--data-dir", dir, "token", "create", "--cluster", "edge-first")
	if code != exitClean {
		t.Fatalf("token create: exit %d\n%s", code, errOut)
	}
	token := regexp.MustCompile(`token:\s+(pbt_\S+)`).FindStringSubmatch(out)
	fp := regexp.MustCompile(`ca-fingerprint:\s+(sha256:[0-9a-f]{64})`).FindStringSubmatch(out)
	if token == nil || fp == nil {
		t.Fatalf("token create printed:\n%s", out)
	}
	for _, want := range []string{"palisade hub token create --cluster", "palisade agent run --hub " + hubURL, "--hub-ca-fingerprint " + fp[1]} {
		if !strings.Contains(first, want) {
			t.Errorf("empty fleet page lacks %q:\n%s", want, first)
		}
	}

	// The agent, configured exactly as the page says.
	ns := env.CreateNamespace(ctx, t, "", nil).Name
	a, err := agent.New(ctx, agent.Config{HubURL: hubURL, Token: token[1], CAFingerprint: fp[1], StateDir: t.TempDir(),
		Client: env.AdminClient(t), Namespace: ns, Debounce: 200 * time.Millisecond, MaxDelay: time.Second,
		HeartbeatInterval: 500 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	actx, stopAgent := context.WithCancel(ctx)
	agentDone := make(chan struct{})
	go func() { _ = a.Run(actx); close(agentDone) }()
	defer func() { stopAgent(); <-agentDone; a.Close() }()

	for i := 0; ; i++ {
		step("reload the fleet", chromedp.Navigate(hubURL+"/"), chromedp.WaitVisible(chromedp.CSS("h1")))
		if row, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(document.querySelector("#clusters tbody") || {innerText: ""}).innerText`)); err == nil &&
			strings.Contains(row, "edge-first") && strings.Contains(row, "online") {
			break
		}
		if i > 120 {
			t.Fatalf("cluster edge-first never appeared online:\n%s", text("main"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("#first-cluster").length`)); err != nil || n != 0 {
		t.Errorf("the registration path is still shown with a cluster registered (%d, %v)", n, err)
	}
}
