// Package hub is the fleet's control point: agents enrol with a
// single-use bootstrap token, get short-lived client certificates from the
// hub's CA and report over mutual TLS; users read the fleet through the
// same HTTPS API (sessions with CSRF protection, or API tokens). All state
// is in the store, so replicas behind a TCP load balancer share one
// PostgreSQL database and agree on everything.
package hub

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/palisade-sec/palisade/internal/admission"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
	"github.com/palisade-sec/palisade/internal/supplychain"
)

// Config configures a hub.
type Config struct {
	Store store.Store
	// CertTTL is the lifetime of agent certificates (default 24h); agents
	// renew at two thirds of it.
	CertTTL time.Duration
	// RenewInterval is the least time between two certificate renewals
	// of one cluster (default one minute, or a tenth of CertTTL if that
	// is shorter); a renewal sooner is answered 429 with Retry-After. One
	// stolen certificate once made 2,000 renewals in 5 seconds.
	RenewInterval time.Duration
	// StaleAfter and OfflineAfter classify clusters by their last contact
	// (defaults 90s and 10m; agents heartbeat every 30s).
	StaleAfter, OfflineAfter time.Duration
	// SessionTTL is the lifetime of a login session (default 12h).
	SessionTTL time.Duration
	// MaxSessionsPerUser caps each user's live sessions: a sign-in beyond
	// it ends that user's oldest one (default 10).
	MaxSessionsPerUser int
	// Hosts are the names and IPs in the serving certificate.
	Hosts  []string
	Logger *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// AuthLimits bound password and token guessing (zero: defaults).
	AuthLimits AuthLimits
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// for the per-address limits; from anyone else it is ignored. Empty
	// (the default) trusts no one.
	TrustedProxies []netip.Prefix
	// MaxBundleSends bounds the bundle contents a replica sends at once
	// (default 8): each is held in memory while it is sent.
	MaxBundleSends int
	// MaxBundleSendsPerCluster bounds the bundle contents a replica sends
	// at once to the agents of one cluster (default 1; agents download
	// one at a time): one agent cannot hold every send slot.
	MaxBundleSendsPerCluster int
	// EncryptionMaxAge is how long placement trusts an etcd verification
	// of encryption at rest (default 7 days): encryption can be turned off
	// after it was checked.
	EncryptionMaxAge time.Duration
	// AdmissionEventsPerCluster is the most admission events the hub keeps
	// per cluster (default DefaultAdmissionEventsPerCluster; negative: no
	// quota); beyond it the oldest are dropped and counted on the cluster.
	// AdmissionEventRetention deletes older events (default
	// DefaultAdmissionEventRetention; negative: kept). Agents append these
	// events; one 2 KB request once inserted 699,035 rows.
	AdmissionEventsPerCluster int64
	AdmissionEventRetention   time.Duration
	// RuntimeProfileRetention deletes the learned profiles of workloads
	// not observed for this long (default DefaultRuntimeProfileRetention;
	// negative: kept). Their quota and learning window are in Limits.
	RuntimeProfileRetention time.Duration
	// MaxIngests and MaxLargeIngests bound the reports a replica decodes
	// and stores at once: small ones (deltas) and large ones (snapshots,
	// bodies over 64 KiB); beyond them a report waits up to 2s, then is
	// answered 429 with Retry-After (zero: 8 and 1 per CPU, at least 16
	// and 2). See ingestGate.
	MaxIngests, MaxLargeIngests int
	// MaxIdleConns bounds the kept-alive connections waiting for their
	// next request: beyond it the longest idle are closed (see idleConns).
	// Zero or negative: no bound.
	MaxIdleConns int
	// ImageScansPerCluster is the most image scans the hub keeps per
	// cluster (default DefaultImageScansPerCluster; negative: no quota);
	// UnusedImageScanRetention deletes the scans of images a cluster no
	// longer runs after this long (default
	// DefaultUnusedImageScanRetention; negative: kept). Scans are keyed
	// by digests the agent names: without a bound an agent could add
	// rows without end.
	ImageScansPerCluster     int64
	UnusedImageScanRetention time.Duration
	// Limits are the per-cluster quotas the store enforces at ingest
	// (zero value: store.DefaultIngestLimits; a negative field: no
	// limit); a report over one is refused with 413 (refusals.go).
	Limits store.IngestLimits
	// Keys locates the CA and bundle-signing private keys (see KeyFiles):
	// they are kept out of the database.
	Keys KeyFiles
	// TLSCertFile and TLSKeyFile, when set, are an operator's certificate
	// (chain) and key for browsers and API clients; agents, which offer
	// fleetapi.AgentALPN, are still served a certificate from the hub's
	// CA, which they pin. Reloaded when the files change.
	TLSCertFile, TLSKeyFile string
}

// Hub serves the fleet API.
type Hub struct {
	cfg       Config
	st        store.Store
	ca        *authority
	bundleKey ed25519.PrivateKey
	// operator is the operator's serving certificate for browsers (nil:
	// the hub CA's serves everyone).
	operator  *operatorCert
	log       *slog.Logger
	dummyHash string
	dash      *dashboard
	guard     *guard
	metrics   *metrics
	ready     readiness
	// bundleSends holds a token per bundle content being sent;
	// bundleWait is how long a request waits for one.
	bundleSends chan struct{}
	bundleWait  time.Duration
	// bundleByCluster counts the sends in progress per cluster, at most
	// bundlePerCluster each.
	bundleMu         sync.Mutex
	bundleByCluster  map[string]int
	bundlePerCluster int
	// ingesting marks the clusters with a report or batch being decoded
	// or stored: one at a time each (see ingestTurn).
	ingestMu  sync.Mutex
	ingesting map[string]bool
	// gate bounds the reports decoded and stored at once (ingest.go).
	gate *ingestGate
	// bodies keeps large report bodies' buffers for the next ones.
	bodies *bodyPool
	// refused: clusters whose reports this replica refused for an
	// unavailable database (refusals.go).
	refused refusedReports
}

// New loads (creating on first start) the hub's CA and bundle-signing key
// from the store.
func New(ctx context.Context, cfg Config) (*Hub, error) {
	if cfg.Store == nil {
		return nil, errors.New("hub: no store")
	}
	if cfg.CertTTL <= 0 {
		cfg.CertTTL = 24 * time.Hour
	}
	if cfg.RenewInterval <= 0 {
		cfg.RenewInterval = min(time.Minute, cfg.CertTTL/10)
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 90 * time.Second
	}
	if cfg.OfflineAfter <= 0 {
		cfg.OfflineAfter = 10 * time.Minute
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.MaxSessionsPerUser <= 0 {
		cfg.MaxSessionsPerUser = 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if l, ok := cfg.Store.(interface{ SetLogger(*slog.Logger) }); ok {
		l.SetLogger(cfg.Logger) // the SQLite checkpointer's failures
	}
	if cfg.EncryptionMaxAge <= 0 {
		cfg.EncryptionMaxAge = DefaultEncryptionMaxAge
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AdmissionEventsPerCluster == 0 {
		cfg.AdmissionEventsPerCluster = DefaultAdmissionEventsPerCluster
	}
	if cfg.RuntimeProfileRetention == 0 {
		cfg.RuntimeProfileRetention = DefaultRuntimeProfileRetention
	}
	if cfg.AdmissionEventRetention == 0 {
		cfg.AdmissionEventRetention = DefaultAdmissionEventRetention
	}
	if cfg.ImageScansPerCluster == 0 {
		cfg.ImageScansPerCluster = DefaultImageScansPerCluster
	}
	if cfg.UnusedImageScanRetention == 0 {
		cfg.UnusedImageScanRetention = DefaultUnusedImageScanRetention
	}
	cfg.Store.SetIngestLimits(ingestLimits(cfg.Limits))
	if len(cfg.Hosts) == 0 {
		cfg.Hosts = []string{"localhost", "127.0.0.1", "::1"}
		if h, err := os.Hostname(); err == nil {
			cfg.Hosts = append(cfg.Hosts, h)
		}
	}
	km, moved, err := loadKeys(ctx, cfg.Store, cfg.Keys, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	ca, bundleKey := km.ca, km.bundleKey
	dummy, err := HashPassword("timing-equaliser-not-a-password")
	if err != nil {
		return nil, err
	}
	dash, err := newDashboard()
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	oc, err := newOperatorCert(cfg.TLSCertFile, cfg.TLSKeyFile, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	g := newGuard(cfg.AuthLimits, cfg.TrustedProxies, cfg.Now)
	h := &Hub{operator: oc, cfg: cfg, st: cfg.Store, ca: ca, bundleKey: bundleKey, log: cfg.Logger, dummyHash: dummy, dash: dash,
		guard: g, metrics: newMetrics(g), ready: readiness{every: readyCheckEvery},
		bundleSends: make(chan struct{}, cmp.Or(max(cfg.MaxBundleSends, 0), 8)), bundleWait: bundleSendWait,
		bundleByCluster: map[string]int{}, bundlePerCluster: cmp.Or(max(cfg.MaxBundleSendsPerCluster, 0), 1),
		gate: newIngestGate(cfg.MaxIngests, cfg.MaxLargeIngests)}
	h.bodies = newBodyPool(cap(h.gate.large))
	h.metrics.registry.MustRegister(newRuntimeCollector(cfg.Store), newTrustedRootCollector(cfg.Store, cfg.Now))
	h.metrics.registry.MustRegister(sqliteCollectors(cfg.Store)...)
	for _, m := range moved {
		if err := h.audit(WithActor(ctx, "hub"), AuditKeysMigrated, m, "private key moved out of the database into a file; its row wiped"); err != nil {
			return nil, fmt.Errorf("hub: %w", err)
		}
	}
	return h, nil
}

// CAFingerprint is what agents pass as --hub-ca-fingerprint.
func (h *Hub) CAFingerprint() string { return Fingerprint(h.ca.cert.Raw) }

// CACertificate returns the CA certificate.
func (h *Hub) CACertificate() *x509.Certificate { return h.ca.cert }

// BundlePublicKey is the key agents verify bundles with.
func (h *Hub) BundlePublicKey() ed25519.PublicKey { return h.bundleKey.Public().(ed25519.PublicKey) }

// TLSConfig is the serving configuration: a certificate from the hub CA
// for the configured hosts, and client certificates requested (verified
// against the hub CA when given: agents send one, browsers and the enrol
// call do not).
//
// Session tickets are issued (Go's default, keys rotated by crypto/tls),
// so agents resume instead of a full handshake when they reconnect. A
// resumed session is no weaker: Go re-checks the client certificate's
// expiry (wall clock) and its chain against ClientCAs on resumption, and
// agentOnly checks expiry on the hub's clock and looks the serial up
// (revocation) on every request (TestResumedSessionStillEnforcesIdentity).
// tls.Config.Time is left to the wall clock: the hub CA is valid from an
// hour before its creation, and a hub whose test clock is set further
// back would refuse every chain.
func (h *Hub) TLSConfig() (*tls.Config, error) {
	cert, err := h.ca.servingCert(h.cfg.Hosts)
	if err != nil {
		return nil, fmt.Errorf("hub: serving certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(h.ca.cert)
	base := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: aeadSuites(),
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    pool,
	}
	return withOperatorCert(base, h.operator), nil
}

// aeadSuites are the TLS 1.2 cipher suites the hub accepts: forward-secret
// ECDHE key exchange with an AEAD cipher only, no CBC (Lucky13-style
// padding oracles, SHA-1 MACs). TLS 1.3 suites are not configurable and
// all AEAD.
func aeadSuites() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
}

// Serve serves HTTPS on ln until ctx ends, then shuts down gracefully.
func (h *Hub) Serve(ctx context.Context, ln net.Listener) error {
	tc, err := h.TLSConfig()
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       5 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(handshakeLog{log: h.log, errors: h.metrics.handshakeErrors}, "", 0),
	}
	if maxIdle := h.cfg.MaxIdleConns; maxIdle > 0 {
		ic := newIdleConns(maxIdle)
		srv.ConnState = ic.state
		h.log.Info("idle connections bounded", slog.Int("maxIdleConnections", maxIdle))
		defer func() { h.log.Info("idle connections closed over the bound", slog.Int64("closed", ic.shed.Load())) }()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tls.NewListener(ln, tc)) }()
	go h.pruneLoop(ctx)
	go h.frameworkLoop(ctx)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-errc
		return nil
	}
}

// The admin actions below return errors wrapping store.ErrInvalid (input
// at fault, message safe to show) or store.ErrConflict; any other error is
// the hub's and its text is for the log only.

// CreateBootstrapToken creates the cluster if needed and a single-use
// token to enrol its agent. The token is shown once; only its hash is kept.
func (h *Hub) CreateBootstrapToken(ctx context.Context, cluster string, ttl time.Duration) (string, store.Cluster, error) {
	if ttl <= 0 || ttl > 7*24*time.Hour {
		return "", store.Cluster{}, store.Invalid("ttl", "%v: want more than 0 and at most 168h", ttl)
	}
	now := h.cfg.Now()
	c, err := h.st.EnsureCluster(ctx, cluster, now)
	if err != nil {
		return "", c, err
	}
	token, id, hash := newToken(bootstrapPrefix)
	if err := h.st.CreateBootstrapToken(ctx, store.BootstrapToken{ID: id, ClusterID: c.ID, Hash: hash, CreatedAt: now, ExpiresAt: now.Add(ttl)}); err != nil {
		return "", c, err
	}
	return token, c, nil
}

// CreateUser creates a local account.
func (h *Hub) CreateUser(ctx context.Context, name, password, role string) error {
	// Checked before the password is hashed: argon2id is the costly part.
	if err := store.CheckName("user name", name); err != nil {
		return err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return fmt.Errorf("user %q: %w", name, err)
	}
	if err := h.st.CreateUser(ctx, store.User{ID: "u-" + randomHex(12), Name: name, PasswordHash: hash, Role: role, CreatedAt: h.cfg.Now()}); err != nil {
		return err
	}
	return h.audit(ctx, AuditUserCreate, name, "role "+role)
}

// CreateAPIToken creates an automation token (shown once) that expires
// after ttl; a ttl of 0 never expires, which callers offer only when
// asked for explicitly (ParseTokenExpiry; the default is
// DefaultAPITokenTTL).
func (h *Hub) CreateAPIToken(ctx context.Context, name, role string, ttl time.Duration) (string, error) {
	if ttl < 0 {
		// Not "no expiry": a typo must not mint an eternal token.
		return "", store.Invalid("ttl", "%v: want a positive duration, or never", ttl)
	}
	token, id, hash := newToken(apiTokenPrefix)
	now := h.cfg.Now()
	t := store.APIToken{ID: id, Name: name, Role: role, Hash: hash, CreatedAt: now}
	if ttl > 0 {
		t.ExpiresAt = now.Add(ttl)
	}
	if err := h.st.CreateAPIToken(ctx, t); err != nil {
		return "", err
	}
	exp := "never expires"
	if ttl > 0 {
		exp = "expires " + t.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return token, h.audit(ctx, AuditTokenCreate, name+" ("+id+")", "role "+role+"; "+exp)
}

// PublishBundle signs and stores content for agents (cluster "" = all).
func (h *Hub) PublishBundle(ctx context.Context, kind, name, cluster string, content []byte) (fleetapi.Bundle, error) {
	switch kind {
	case fleetapi.BundlePolicy, fleetapi.BundleAllowList, fleetapi.BundleRules, fleetapi.BundleVulnDB:
	case fleetapi.BundleVerification:
		// Agents verify images with it offline: it must compile with
		// nothing beside it (keys inline, the trusted root inline).
		if _, err := supplychain.ParsePolicy(ctx, kind+"/"+name, content, supplychain.PolicySource{Updated: h.cfg.Now()}); err != nil {
			return fleetapi.Bundle{}, store.Invalid("content", "%v", err)
		}
	case fleetapi.BundleAdmission:
		// Agents write it into each webhook's ConfigMap as it is: refuse
		// here what the webhooks would refuse.
		// Signed by its publisher or plain: the hub checks the policy,
		// agents holding publisher keys check the signature.
		policy, err := fleetapi.OpenAdmissionPolicy(content, nil)
		if err != nil {
			return fleetapi.Bundle{}, store.Invalid("content", "%v", err)
		}
		if err := admission.ValidateBundlePolicy(ctx, kind+"/"+name, policy); err != nil {
			return fleetapi.Bundle{}, store.Invalid("content", "%v", err)
		}
	default:
		return fleetapi.Bundle{}, store.Invalid("kind", "%q: want policy, allowlist, rules, vulndb, admission or verification", kind)
	}
	if err := fleetapi.CheckBundleName(kind, name); err != nil && name != "" {
		// Agents refuse such a bundle (a file name, a line of the signed
		// payload): refuse it here, where the publisher sees why. (An
		// empty name is the store's to refuse.)
		return fleetapi.Bundle{}, store.Invalid("name", "%v", err)
	}
	if cluster != "" {
		// Agents fetch by cluster ID: a bundle for an unknown one would
		// be stored and signed but never reach anyone.
		if _, err := h.st.GetCluster(ctx, cluster); errors.Is(err, store.ErrNotFound) {
			return fleetapi.Bundle{}, store.Invalid("cluster", "no cluster with ID %q", cluster)
		} else if err != nil {
			return fleetapi.Bundle{}, err
		}
	}
	return h.st.PutBundle(ctx, fleetapi.Bundle{Kind: kind, Name: name, Cluster: cluster, Content: content, CreatedAt: h.cfg.Now().UTC()},
		func(b *fleetapi.Bundle) error {
			b.Signature = ed25519.Sign(h.bundleKey, b.SigningPayload())
			return nil
		})
}

// RevokeCluster marks the cluster revoked and revokes every certificate of
// its agents: no request of theirs is accepted, whatever certificate it
// presents, until an agent enrols with a bootstrap token made after the
// revocation.
func (h *Hub) RevokeCluster(ctx context.Context, clusterID string) (int, error) {
	return h.st.RevokeCluster(ctx, clusterID, h.cfg.Now())
}
