package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/authlimit"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// testClock is the hub's clock in these tests: lockouts pass by moving
// it, never by sleeping.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// logBuffer collects the hub's log (written from server goroutines).
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

var off = authlimit.Policy{Free: -1}

func lockPolicy(free int) authlimit.Policy {
	return authlimit.Policy{Free: free, BaseLock: time.Minute, MaxLock: 8 * time.Minute, Forget: time.Hour}
}

type guardedHub struct {
	*testHub
	clock *testClock
	log   *logBuffer
}

func startGuardedHub(t *testing.T, limits AuthLimits, trusted ...netip.Prefix) *guardedHub {
	t.Helper()
	clock := &testClock{t: time.Now().UTC()}
	lb := &logBuffer{}
	th := startHubWith(t, Config{Now: clock.Now, AuthLimits: limits, TrustedProxies: trusted,
		Logger: slog.New(slog.NewJSONHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	return &guardedHub{testHub: th, clock: clock, log: lb}
}

const (
	goodPassword = "correct horse battery"
	badPassword  = "wrong password!! 7f3a" // must never reach the log
)

// loginFunc signs in through one of the two login endpoints and returns
// the status and Retry-After.
type loginFunc func(t *testing.T, gh *guardedHub, user, password string) (int, string)

func apiLogin(t *testing.T, gh *guardedHub, user, password string) (int, string) {
	t.Helper()
	resp, _ := call(t, gh.client(nil), "POST", gh.url+"/api/v1/login", LoginRequest{Username: user, Password: password}, nil)
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

var formToken = regexp.MustCompile(`name="token" value="([^"]+)"`)

func formLogin(t *testing.T, gh *guardedHub, user, password string) (int, string) {
	t.Helper()
	c := gh.client(nil)
	c.Jar, _ = cookiejar.New(nil)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, page := call(t, c, "GET", gh.url+"/login", nil, nil)
	m := formToken.FindSubmatch(page)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("login page: %d", resp.StatusCode)
	}
	form := url.Values{"token": {string(m[1])}, "username": {user}, "password": {password}, "next": {"/"}}
	req, _ := http.NewRequest("POST", gh.url+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	st := resp.StatusCode
	if st == http.StatusSeeOther {
		st = http.StatusOK // signed in
	}
	return st, resp.Header.Get("Retry-After")
}

func TestLoginLockout(t *testing.T) {
	for _, ep := range []struct {
		name     string
		login    loginFunc
		endpoint string
	}{{"api", apiLogin, "login"}, {"dashboard form", formLogin, "dashboard-login"}} {
		t.Run(ep.name, func(t *testing.T) {
			gh := startGuardedHub(t, AuthLimits{Account: lockPolicy(3), Client: off, Token: off})
			if err := gh.CreateUser(context.Background(), "alice", goodPassword, store.RoleViewer); err != nil {
				t.Fatal(err)
			}
			type attempt struct {
				advance    time.Duration
				user, pass string
				want       int
				retryAfter string
			}
			steps := []attempt{
				{0, "alice", badPassword, 401, ""},
				{0, "alice", badPassword, 401, ""},
				{0, "alice", badPassword, 401, ""}, // third failure locks for 1m
				{0, "alice", goodPassword, 429, "60"},
				{59 * time.Second, "alice", goodPassword, 429, "1"},
				{time.Second, "alice", goodPassword, 200, ""},
				// The success reset the count: without the reset the next
				// failure (the fourth) would lock for 2m at once.
				{0, "alice", badPassword, 401, ""},
				{0, "alice", badPassword, 401, ""},
				{0, "alice", goodPassword, 200, ""},
				// A user that does not exist locks the same way, so a
				// lockout tells nothing about which accounts exist.
				{0, "mallory", badPassword, 401, ""},
				{0, "mallory", badPassword, 401, ""},
				{0, "mallory", badPassword, 401, ""},
				{0, "mallory", goodPassword, 429, "60"},
				// Other accounts are not affected.
				{0, "alice", goodPassword, 200, ""},
			}
			for i, s := range steps {
				gh.clock.Advance(s.advance)
				st, ra := ep.login(t, gh, s.user, s.pass)
				if st != s.want || ra != s.retryAfter {
					t.Fatalf("step %d (%s): status %d Retry-After %q, want %d %q", i, s.user, st, ra, s.want, s.retryAfter)
				}
			}
			logs := gh.log.String()
			if strings.Contains(logs, badPassword) || strings.Contains(logs, goodPassword) {
				t.Fatal("a password reached the log")
			}
			if strings.Contains(logs, "mallory") {
				t.Error("an unknown user name reached the log (it may be a mistyped password)")
			}
			if !strings.Contains(logs, `"msg":"login locked"`) || !strings.Contains(logs, `"user":"alice"`) {
				t.Errorf("no audit line for the lockout of alice:\n%s", logs)
			}
			m := metricsText(t, gh)
			for _, want := range []string{
				`palisade_hub_auth_failures_total{endpoint="` + ep.endpoint + `"} 8`,
				`palisade_hub_auth_throttled_total{endpoint="` + ep.endpoint + `",limit="account"} 3`,
				`palisade_hub_auth_lockouts_total{endpoint="` + ep.endpoint + `"} 2`,
			} {
				if !strings.Contains(m, want) {
					t.Errorf("metrics lack %s", want)
				}
			}
		})
	}
}

// metricsText reads GET /metrics with a viewer API token.
func metricsText(t *testing.T, gh *guardedHub) string {
	t.Helper()
	tok, err := gh.CreateAPIToken(context.Background(), "prometheus", store.RoleViewer, 0)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := call(t, gh.client(nil), "GET", gh.url+"/metrics", nil, nil); resp.StatusCode != 401 {
		t.Fatalf("anonymous /metrics: %d, want 401", resp.StatusCode)
	}
	resp, body := call(t, gh.client(nil), "GET", gh.url+"/metrics", nil, map[string]string{"Authorization": "Bearer " + tok})
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	return string(body)
}

func TestLoginClientLimit(t *testing.T) {
	gh := startGuardedHub(t, AuthLimits{Account: off, Client: lockPolicy(4), Token: off})
	if err := gh.CreateUser(context.Background(), "alice", goodPassword, store.RoleViewer); err != nil {
		t.Fatal(err)
	}
	// One address trying four different accounts locks itself out, for
	// every account, even with the right password.
	for i := range 4 {
		if st, _ := apiLogin(t, gh, fmt.Sprintf("user-%d", i), badPassword); st != 401 {
			t.Fatalf("attempt %d: %d", i, st)
		}
	}
	if st, ra := apiLogin(t, gh, "alice", goodPassword); st != 429 || ra != "60" {
		t.Fatalf("locked address: %d %q, want 429 60", st, ra)
	}
	gh.clock.Advance(time.Minute)
	if st, _ := apiLogin(t, gh, "alice", goodPassword); st != 200 {
		t.Fatalf("after the window: %d", st)
	}
}

func TestLoginFloodOfUserNamesStaysBounded(t *testing.T) {
	const capacity = 16
	gh := startGuardedHub(t, AuthLimits{Account: lockPolicy(3), Client: off, Token: off, Capacity: capacity})
	if err := gh.CreateUser(context.Background(), "alice", goodPassword, store.RoleViewer); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		apiLogin(t, gh, "alice", badPassword)
	}
	for i := range 4 * capacity {
		if st, _ := apiLogin(t, gh, fmt.Sprintf("flood-%d-%s", i, strings.Repeat("x", 1000)), badPassword); st != 401 {
			t.Fatalf("flood %d: %d", i, st)
		}
		if n := gh.guard.account.Len(); n > capacity {
			t.Fatalf("after %d names the limiter tracks %d keys, cap %d", i+1, n, capacity)
		}
	}
	if gh.guard.account.Len() != capacity {
		t.Fatalf("tracked %d keys, want the cap %d", gh.guard.account.Len(), capacity)
	}
	if st, _ := apiLogin(t, gh, "alice", goodPassword); st != 429 {
		t.Fatalf("the flood freed alice's lockout: %d", st)
	}
	if m := metricsText(t, gh); !strings.Contains(m, fmt.Sprintf(`palisade_hub_auth_limiter_keys{limiter="account"} %d`, capacity)) {
		t.Error("metrics do not show the tracked keys at the cap")
	}
}

// TestTokenLockout: API and bootstrap tokens are limited per client
// address; once locked, even the right token gets 429 until the window
// passes, and neither the guesses nor the lockout burn the real token.
func TestTokenLockout(t *testing.T) {
	type tokenCase struct {
		name string
		// make returns the real token; try presents one and returns the
		// status and Retry-After.
		make func(gh *guardedHub) (string, error)
		try  func(gh *guardedHub, tok string) (int, string)
		bad  func(id string) []string
		pfx  string
	}
	cases := []tokenCase{
		{name: "api token", pfx: apiTokenPrefix,
			make: func(gh *guardedHub) (string, error) {
				return gh.CreateAPIToken(context.Background(), "ci", store.RoleViewer, time.Hour)
			},
			try: func(gh *guardedHub, tok string) (int, string) {
				resp, _ := call(t, gh.client(nil), "GET", gh.url+"/api/v1/me", nil, map[string]string{"Authorization": "Bearer " + tok})
				return resp.StatusCode, resp.Header.Get("Retry-After")
			},
			bad: func(id string) []string {
				return []string{apiTokenPrefix + id + ".guessed-secret-0001", "pat_malformed", "Basic-nonsense"}
			}},
		{name: "bootstrap token", pfx: bootstrapPrefix,
			make: func(gh *guardedHub) (string, error) {
				tok, _, err := gh.CreateBootstrapToken(context.Background(), "edge", time.Hour)
				return tok, err
			},
			try: func(gh *guardedHub, tok string) (int, string) {
				_, csr := keyAndCSR(t)
				resp, _ := call(t, gh.client(nil), "POST", gh.url+fleetapi.PathEnroll, fleetapi.EnrollRequest{Token: tok, CSR: csr}, nil)
				return resp.StatusCode, resp.Header.Get("Retry-After")
			},
			bad: func(id string) []string {
				return []string{bootstrapPrefix + id + ".guessed-secret-0001", "pbt_", bootstrapPrefix + "0000000000000000.x"}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gh := startGuardedHub(t, AuthLimits{Account: off, Client: off, Token: lockPolicy(3)})
			good, err := tc.make(gh)
			if err != nil {
				t.Fatal(err)
			}
			id, _, _ := splitToken(tc.pfx, good)
			for i, bad := range tc.bad(id) {
				if st, _ := tc.try(gh, bad); st != 401 {
					t.Fatalf("bad token %d: %d", i, st)
				}
			}
			if st, ra := tc.try(gh, good); st != 429 || ra != "60" {
				t.Fatalf("locked address with the right token: %d %q, want 429 60", st, ra)
			}
			gh.clock.Advance(time.Minute)
			if st, _ := tc.try(gh, good); st != 200 {
				t.Fatalf("after the window: %d", st)
			}
			logs := gh.log.String()
			if strings.Contains(logs, "guessed-secret-0001") || strings.Contains(logs, good) {
				t.Fatal("a token secret reached the log")
			}
			if !strings.Contains(logs, `"tokenID":"`+id+`"`) || !strings.Contains(logs, "token attempts locked") {
				t.Errorf("no audit line naming the token ID:\n%s", logs)
			}
		})
	}
}

func TestForwardedForTrustedOnlyFromProxies(t *testing.T) {
	t.Run("untrusted: header ignored", func(t *testing.T) {
		gh := startGuardedHub(t, AuthLimits{Account: off, Client: off, Token: lockPolicy(3)})
		for i := range 3 {
			resp, _ := call(t, gh.client(nil), "GET", gh.url+"/api/v1/me", nil, map[string]string{
				"Authorization": "Bearer pat_x.y", "X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i)})
			if resp.StatusCode != 401 {
				t.Fatalf("attempt %d: %d", i, resp.StatusCode)
			}
		}
		resp, _ := call(t, gh.client(nil), "GET", gh.url+"/api/v1/me", nil, map[string]string{
			"Authorization": "Bearer pat_x.y", "X-Forwarded-For": "198.51.100.99"})
		if resp.StatusCode != 429 {
			t.Fatalf("a forged X-Forwarded-For escaped the limit: %d", resp.StatusCode)
		}
	})
	t.Run("trusted proxy: a flood of client addresses stays bounded", func(t *testing.T) {
		const capacity = 32
		gh := startGuardedHub(t, AuthLimits{Account: off, Client: off, Token: lockPolicy(3), Capacity: capacity}, netip.MustParsePrefix("127.0.0.1/32"))
		for i := range 300 {
			resp, _ := call(t, gh.client(nil), "GET", gh.url+"/api/v1/me", nil, map[string]string{
				"Authorization": "Bearer pat_x.y", "X-Forwarded-For": fmt.Sprintf("203.0.113.7, 10.%d.%d.1", i/256, i%256)})
			if resp.StatusCode != 401 {
				t.Fatalf("attempt %d from its own address: %d", i, resp.StatusCode)
			}
			if n := gh.guard.token.Len(); n > capacity {
				t.Fatalf("after %d addresses the limiter tracks %d keys, cap %d", i+1, n, capacity)
			}
		}
	})
}

func TestClientAddr(t *testing.T) {
	g := newGuard(AuthLimits{}, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}, time.Now)
	for _, tt := range []struct {
		remote string
		xff    []string
		want   string
	}{
		{"192.0.2.1:5000", nil, "192.0.2.1"},
		{"192.0.2.1:5000", []string{"198.51.100.1"}, "192.0.2.1"}, // not from a proxy: ignored
		{"10.1.1.1:5000", nil, "10.1.1.1"},
		{"10.1.1.1:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"10.1.1.1:5000", []string{"6.6.6.6, 198.51.100.1, 10.2.2.2"}, "198.51.100.1"}, // rightmost untrusted
		{"10.1.1.1:5000", []string{"6.6.6.6", "198.51.100.1"}, "198.51.100.1"},         // several header lines
		{"10.1.1.1:5000", []string{"6.6.6.6, garbage"}, "10.1.1.1"},                    // stop at garbage
		{"10.1.1.1:5000", []string{"10.3.3.3"}, "10.3.3.3"},                            // all proxies: the first
		{"[::ffff:192.0.2.1]:5000", nil, "192.0.2.1"},
		{"[fd00::1]:5000", []string{"2001:db8::5"}, "2001:db8::5"},
	} {
		r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := g.clientAddr(r).String(); got != tt.want {
			t.Errorf("%s %q: %s, want %s", tt.remote, tt.xff, got, tt.want)
		}
	}
	if got := clientKey(netip.MustParseAddr("2001:db8:1:2:aaaa::1")); got != "2001:db8:1:2::/64" {
		t.Errorf("IPv6 key %s, want the /64", got)
	}
}

func TestPasswordChecksAreBounded(t *testing.T) {
	gh := startGuardedHub(t, AuthLimits{Account: off, Client: off, Token: off})
	if err := gh.CreateUser(context.Background(), "alice", goodPassword, store.RoleViewer); err != nil {
		t.Fatal(err)
	}
	gh.guard.slotWait = 50 * time.Millisecond
	for range cap(gh.guard.slots) { // every slot busy
		gh.guard.slots <- struct{}{}
	}
	if st, ra := apiLogin(t, gh, "alice", goodPassword); st != 503 || ra != "1" {
		t.Fatalf("login with no free slot: %d %q, want 503 1", st, ra)
	}
	<-gh.guard.slots
	if st, _ := apiLogin(t, gh, "alice", goodPassword); st != 200 {
		t.Fatalf("login with a free slot: %d", st)
	}
}

// burst fires n attempts at once and returns how many got each status
// and how many were admitted to a check. Admitted attempts are held in
// their check until every other attempt has been answered (or a second
// has passed), so all n are in flight together: without the
// reservations in Allow, every one would pass the limits before the
// first check recorded its failure.
func burst(t *testing.T, gh *guardedHub, n int, try func() int) (statuses map[int]int, checked int) {
	t.Helper()
	var mu sync.Mutex
	statuses = map[int]int{}
	answered := 0
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	gh.guard.slots = make(chan struct{}, n) // no 503s: every admitted check runs
	gh.guard.onAttempt = func(string) {
		mu.Lock()
		checked++
		mu.Unlock()
		select {
		case <-release:
		case <-time.After(time.Second):
		}
	}
	defer func() { gh.guard.onAttempt = nil }()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := try()
			mu.Lock()
			defer mu.Unlock()
			statuses[st]++
			answered++
			if answered+checked >= n { // the rest are all held in checks
				open()
			}
		}()
	}
	wg.Wait()
	open()
	return statuses, checked
}

// statusOf sends a JSON request and returns the status, or -1 when the
// request failed (safe to call from any goroutine).
func statusOf(gh *guardedHub, method, url string, body any, hdr map[string]string) int {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := gh.client(nil).Do(req)
	if err != nil {
		return -1
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestParallelLoginsCheckAtMostFree: a burst of wrong passwords for one
// account gets at most Free password checks; the rest are refused before
// any check, and the right password gets in once the lock passes.
func TestParallelLoginsCheckAtMostFree(t *testing.T) {
	const free, n = 3, 60
	gh := startGuardedHub(t, AuthLimits{Account: lockPolicy(free), Client: lockPolicy(20), Token: off})
	if err := gh.CreateUser(context.Background(), "alice", goodPassword, store.RoleViewer); err != nil {
		t.Fatal(err)
	}
	statuses, checked := burst(t, gh, n, func() int {
		return statusOf(gh, "POST", gh.url+"/api/v1/login", LoginRequest{Username: "alice", Password: badPassword}, nil)
	})
	if checked != free || statuses[401] != free || statuses[429] != n-free {
		t.Fatalf("%d parallel wrong logins: %d password checks, statuses %v; want %d checks, %d x 401 and %d x 429",
			n, checked, statuses, free, free, n-free)
	}
	if st, ra := apiLogin(t, gh, "alice", goodPassword); st != 429 || ra != "60" {
		t.Fatalf("right password during the lock: %d %q, want 429 60", st, ra)
	}
	gh.clock.Advance(time.Minute)
	if st, _ := apiLogin(t, gh, "alice", goodPassword); st != 200 {
		t.Fatalf("right password after the lock: %d", st)
	}
	// Unknown user names are limited the same way.
	statuses, checked = burst(t, gh, n, func() int {
		return statusOf(gh, "POST", gh.url+"/api/v1/login", LoginRequest{Username: "nobody", Password: badPassword}, nil)
	})
	if checked != free || statuses[401] != free || statuses[429] != n-free {
		t.Fatalf("unknown user: %d checks, statuses %v", checked, statuses)
	}
}

// TestParallelTokenGuessesCheckAtMostFree: the same for API and
// bootstrap tokens, per client address.
func TestParallelTokenGuessesCheckAtMostFree(t *testing.T) {
	const free, n = 3, 60
	for _, tc := range []struct {
		name string
		try  func(gh *guardedHub, tok string) int
		bad  string
	}{
		{"api token", func(gh *guardedHub, tok string) int {
			return statusOf(gh, "GET", gh.url+"/api/v1/me", nil, map[string]string{"Authorization": "Bearer " + tok})
		}, apiTokenPrefix + "0123456789abcdef.guessed-secret-0001"},
		{"bootstrap token", func(gh *guardedHub, tok string) int {
			_, csr := keyAndCSR(t)
			return statusOf(gh, "POST", gh.url+fleetapi.PathEnroll, fleetapi.EnrollRequest{Token: tok, CSR: csr}, nil)
		}, bootstrapPrefix + "0123456789abcdef.guessed-secret-0001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gh := startGuardedHub(t, AuthLimits{Account: off, Client: off, Token: lockPolicy(free)})
			statuses, checked := burst(t, gh, n, func() int { return tc.try(gh, tc.bad) })
			if checked != free || statuses[401] != free || statuses[429] != n-free {
				t.Fatalf("%d parallel bad tokens: %d checks, statuses %v; want %d checks, %d x 401 and %d x 429",
					n, checked, statuses, free, free, n-free)
			}
		})
	}
}

// TestAnonymousClientCannotLockOthersOut: failures lock the source that
// made them (client address and user name), not the account for
// everyone, so an anonymous client guessing an admin's password does not
// lock the admin out (issue #16). Addresses come from a trusted proxy's
// X-Forwarded-For, as behind an ingress.
func TestAnonymousClientCannotLockOthersOut(t *testing.T) {
	gh := startGuardedHub(t, AuthLimits{Account: lockPolicy(3), Client: off, Token: off}, netip.MustParsePrefix("127.0.0.1/32"))
	if err := gh.CreateUser(context.Background(), "admin", goodPassword, store.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	login := func(from, password string) int {
		resp, _ := call(t, gh.client(nil), "POST", gh.url+"/api/v1/login", LoginRequest{Username: "admin", Password: password}, map[string]string{"X-Forwarded-For": from})
		return resp.StatusCode
	}
	const attacker, operator = "203.0.113.9", "198.51.100.7"
	steps := []struct {
		from, pass string
		want       int
	}{
		{attacker, badPassword, 401},
		{attacker, badPassword, 401},
		{attacker, badPassword, 401}, // locks admin@attacker
		{attacker, goodPassword, 429},
		{operator, goodPassword, 200}, // the admin still signs in
		{operator, badPassword, 401},  // and has her own count
		{attacker, goodPassword, 429},
	}
	for i, s := range steps {
		if got := login(s.from, s.pass); got != s.want {
			t.Fatalf("step %d from %s: %d, want %d", i, s.from, got, s.want)
		}
	}
}
