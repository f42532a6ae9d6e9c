package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/hub/authlimit"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// Brute-force protection for the endpoints that take secrets: logins (API
// and form), API tokens and bootstrap tokens. Failures are counted per
// attempt source, the client address and the submitted user name together
// (known or not, so a lockout says nothing about which accounts exist),
// and per client address; a locked source or address gets 429 with
// Retry-After before any password is checked, even when the password is
// right. The user name alone is never the key: then any anonymous client
// could lock any account, admins included, for everyone (issue #16).
// Guessing one account from many addresses is slowed by argon2id and the
// bounded password-check slots instead. Tokens are limited per
// client address only: their secrets are 256-bit random, so counting per
// token ID would protect nothing and would let anyone who saw an ID in a
// log lock an agent or a CI job out.
//
// The counts are per replica, in memory (authlimit), bounded by
// AuthLimits.Capacity keys per limiter.

// AuthLimits configures the brute-force limits. A zero Policy takes its
// default; a Policy with Free < 0 is off.
type AuthLimits struct {
	// Account limits failed logins per user name from one client address
	// (IPv6: /64), so a lockout shuts out that source, not the user.
	Account authlimit.Policy
	// Client limits failed logins per client address (IPv6: per /64).
	Client authlimit.Policy
	// Token limits failed API and bootstrap tokens per client address.
	Token authlimit.Policy
	// Capacity is how many keys each limiter tracks (default 50000,
	// about 10 MB for the three).
	Capacity int
}

// DefaultAuthLimits: 5 free failures per account, then 30s doubling up to
// 15m; 20 per address (a NAT or office shares one); 10 token failures per
// address. Counts are forgotten after an hour without failures.
func DefaultAuthLimits() AuthLimits {
	return AuthLimits{
		Account:  authlimit.Policy{Free: 5, BaseLock: 30 * time.Second, MaxLock: 15 * time.Minute, Forget: time.Hour},
		Client:   authlimit.Policy{Free: 20, BaseLock: 30 * time.Second, MaxLock: 15 * time.Minute, Forget: time.Hour},
		Token:    authlimit.Policy{Free: 10, BaseLock: 30 * time.Second, MaxLock: 15 * time.Minute, Forget: time.Hour},
		Capacity: 50000,
	}
}

func (l AuthLimits) withDefaults() AuthLimits {
	d := DefaultAuthLimits()
	if l.Account == (authlimit.Policy{}) {
		l.Account = d.Account
	}
	if l.Client == (authlimit.Policy{}) {
		l.Client = d.Client
	}
	if l.Token == (authlimit.Policy{}) {
		l.Token = d.Token
	}
	if l.Capacity <= 0 {
		l.Capacity = d.Capacity
	}
	return l
}

// guard holds the limiters and bounds concurrent argon2id checks: each
// takes 19 MiB, so without a bound a flood of logins from many addresses
// would exhaust memory before any limit applies.
type guard struct {
	account, client, token *authlimit.Limiter
	trusted                []netip.Prefix
	// slots admits one password check per token; slotWait is how long a
	// login waits for one before getting 503.
	slots    chan struct{}
	slotWait time.Duration
	// onAttempt, when set (tests), is called for each attempt admitted by
	// the limits, just before its password or token is checked.
	onAttempt func(endpoint string)
}

func (g *guard) attempt(endpoint string) {
	if g.onAttempt != nil {
		g.onAttempt(endpoint)
	}
}

func newGuard(l AuthLimits, trusted []netip.Prefix, now func() time.Time) *guard {
	l = l.withDefaults()
	return &guard{
		account:  authlimit.New(l.Account, l.Capacity, now),
		client:   authlimit.New(l.Client, l.Capacity, now),
		token:    authlimit.New(l.Token, l.Capacity, now),
		trusted:  trusted,
		slots:    make(chan struct{}, max(2, runtime.GOMAXPROCS(0))),
		slotWait: 5 * time.Second,
	}
}

// checkPassword runs CheckPassword in a bounded slot; ok is false when no
// slot freed up in time (the caller answers 503).
func (g *guard) checkPassword(ctx context.Context, encoded, password string) (match, ok bool) {
	t := time.NewTimer(g.slotWait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
	case <-t.C:
		return false, false
	case <-ctx.Done():
		return false, false
	}
	defer func() { <-g.slots }()
	return CheckPassword(encoded, password), true
}

// accountKey is a fixed-size key for a user name submitted from client
// (a clientKey): names come from attackers and may be kilobytes long.
func accountKey(client, name string) string {
	s := sha256.Sum256([]byte(client + "\x00" + name))
	return hex.EncodeToString(s[:16])
}

// nameFingerprint is what logs show of a submitted user name: the first
// 12 hex digits of its SHA-256 (names typed by mistake are often
// passwords), the same for a name whatever address it came from.
func nameFingerprint(name string) string {
	s := sha256.Sum256([]byte(name))
	return hex.EncodeToString(s[:6])
}

// clientAddr is the client's address: the TCP peer, or, when the peer is
// a configured trusted proxy, the rightmost X-Forwarded-For entry that is
// not a trusted proxy. X-Forwarded-For from anyone else is ignored (a
// client can write anything in it).
func (g *guard) clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		a, _ := netip.ParseAddr(host)
		return a.Unmap()
	}
	addr := ap.Addr().Unmap()
	if !g.isTrusted(addr) {
		return addr
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return addr // garbage: trust no further than the last good hop
		}
		addr = a.Unmap()
		if !g.isTrusted(addr) {
			return addr
		}
	}
	return addr
}

func (g *guard) isTrusted(a netip.Addr) bool {
	for _, p := range g.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientKey buckets addresses: IPv4 per address, IPv6 per /64 (one
// subscriber usually has a whole /64).
func clientKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// retryAfter sets Retry-After in whole seconds, rounded up.
func retryAfter(w http.ResponseWriter, d time.Duration) int {
	s := max(1, int(math.Ceil(d.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(s))
	return s
}

// loginOutcome is what checkLogin decided.
type loginOutcome int

const (
	loginOK loginOutcome = iota
	loginWrong
	loginThrottled
	loginBusy
	loginError
)

// checkLogin decides a login attempt, applying the limits; wait is set
// for loginThrottled. Logs name the user only when the account exists
// (user names typed by mistake are often passwords) and never a password.
func (h *Hub) checkLogin(r *http.Request, endpoint, name, password string) (u store.User, out loginOutcome, wait time.Duration, err error) {
	ctx := r.Context()
	client := clientKey(h.guard.clientAddr(r))
	acct := accountKey(client, name)
	// Allow reserves the attempt in both limiters; every path below ends
	// both reservations: Fail for a wrong password, Succeed (account)
	// for a right one, Cancel when no verdict counts.
	if wait := h.sharedLockout(ctx, sharedKey{h.guard.account, acct, "account:" + acct}, sharedKey{h.guard.client, client, "client:" + client}); wait > 0 {
		h.metrics.throttled.WithLabelValues(endpoint, "shared").Inc()
		h.log.DebugContext(ctx, "login throttled", slog.String("account", nameFingerprint(name)), slog.String("client", client), slog.String("limit", "shared"))
		return u, loginThrottled, wait, nil
	}
	okA, waitA := h.guard.account.Allow(acct)
	okC, waitC := true, time.Duration(0)
	if okA {
		if okC, waitC = h.guard.client.Allow(client); !okC {
			h.guard.account.Cancel(acct)
		}
	}
	if !okA || !okC {
		limit := "account"
		if !okC {
			limit = "client"
		}
		h.metrics.throttled.WithLabelValues(endpoint, limit).Inc()
		h.log.DebugContext(ctx, "login throttled", slog.String("account", nameFingerprint(name)), slog.String("client", client), slog.String("limit", limit))
		return u, loginThrottled, max(waitA, waitC), nil
	}
	decided := false
	defer func() {
		if !decided { // no verdict (busy, store error, panic): refund
			h.guard.account.Cancel(acct)
			h.guard.client.Cancel(client)
		}
	}()
	h.guard.attempt(endpoint)
	su, lookupErr := h.st.GetUserByName(ctx, name)
	// A disabled account signs in as an unknown one would: the same
	// argon2id work, the same answer, the failure counted.
	known := lookupErr == nil && su.DisabledAt.IsZero()
	if lookupErr != nil && !errors.Is(lookupErr, store.ErrNotFound) {
		return u, loginError, 0, lookupErr
	}
	hash := h.dummyHash // unknown users cost the same argon2id work
	if known {
		hash = su.PasswordHash
	}
	match, ok := h.guard.checkPassword(ctx, hash, password)
	if !ok {
		return u, loginBusy, 0, nil
	}
	decided = true
	if known && match {
		h.guard.account.Succeed(acct)
		h.guard.client.Cancel(client) // one account's success says nothing of the address's other guesses
		return su, loginOK, 0, nil
	}
	h.metrics.failures.WithLabelValues(endpoint).Inc()
	lockA := h.guard.account.Fail(acct)
	lockC := h.guard.client.Fail(client)
	attrs := []slog.Attr{slog.String("account", nameFingerprint(name)), slog.String("client", client)}
	if known {
		attrs = append(attrs, slog.String("user", su.Name))
	} else {
		attrs = append(attrs, slog.Bool("unknownUser", true))
	}
	h.log.LogAttrs(ctx, slog.LevelWarn, "login failed", attrs...)
	h.shareLockout(ctx, "account:"+acct, lockA)
	h.shareLockout(ctx, "client:"+client, lockC)
	if lockA > 0 || lockC > 0 {
		h.metrics.lockouts.WithLabelValues(endpoint).Inc()
		h.log.LogAttrs(ctx, slog.LevelWarn, "login locked", append(attrs,
			slog.Duration("accountLockedFor", lockA), slog.Duration("clientLockedFor", lockC))...)
	}
	return u, loginWrong, 0, nil
}

// tokenAttempt is one token attempt admitted by tokenAllowed: the
// caller ends it with failed for a rejected token, and always with a
// deferred end, which refunds the reservation unless failed counted it.
type tokenAttempt struct {
	h        *Hub
	endpoint string
	key      string
	done     bool
}

// tokenAllowed answers 429 and returns false when the client address is
// locked for token failures on endpoint, or has as many attempts in
// flight as it has failures left; otherwise it reserves the attempt.
func (h *Hub) tokenAllowed(w http.ResponseWriter, r *http.Request, endpoint string) (*tokenAttempt, bool) {
	client := clientKey(h.guard.clientAddr(r))
	if ok, wait := h.guard.token.Allow(endpoint + "/" + client); !ok {
		h.metrics.throttled.WithLabelValues(endpoint, "client").Inc()
		h.log.DebugContext(r.Context(), "token attempt throttled", slog.String("endpoint", endpoint), slog.String("client", client))
		s := retryAfter(w, wait)
		writeError(w, http.StatusTooManyRequests, "too many failed attempts; retry in "+strconv.Itoa(s)+"s")
		return nil, false
	}
	h.guard.attempt(endpoint)
	return &tokenAttempt{h: h, endpoint: endpoint, key: endpoint + "/" + client}, true
}

// end refunds the reservation unless failed counted it: an accepted
// token does not reset the address's count, and a request that failed
// for another reason (bad body, store error) is no guess.
func (a *tokenAttempt) end() {
	if !a.done {
		a.done = true
		a.h.guard.token.Cancel(a.key)
	}
}

// failed counts a rejected token. tokenID is the token's public ID part
// (never its secret) when the token was well formed.
func (a *tokenAttempt) failed(r *http.Request, tokenID string) {
	if a.done {
		return
	}
	a.done = true
	h := a.h
	client := clientKey(h.guard.clientAddr(r))
	h.metrics.failures.WithLabelValues(a.endpoint).Inc()
	lock := h.guard.token.Fail(a.key)
	attrs := []slog.Attr{slog.String("endpoint", a.endpoint), slog.String("client", client)}
	if isTokenID(tokenID) {
		attrs = append(attrs, slog.String("tokenID", tokenID))
	}
	h.log.LogAttrs(r.Context(), slog.LevelWarn, "token rejected", attrs...)
	if lock > 0 {
		h.metrics.lockouts.WithLabelValues(a.endpoint).Inc()
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "token attempts locked", append(attrs, slog.Duration("clientLockedFor", lock))...)
	}
}

// isTokenID: IDs made by newToken (16 hex digits); anything else came
// from the client and is not worth logging.
func isTokenID(id string) bool {
	if len(id) != 16 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}
