package hub

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/subtle"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
	"github.com/palisade-sec/palisade/internal/inflate"
)

// Cookie names. __Host- binds the cookie to this origin: Secure, path /,
// no Domain attribute.
const (
	sessionCookie = "__Host-palisade-session"
	csrfHeader    = "X-CSRF-Token"
)

type ctxKey int

const (
	agentKey ctxKey = iota
	principalKey
)

// agentIdentity is an authenticated agent: who its certificate was issued
// to, as recorded by the hub (never as claimed by the agent).
type agentIdentity struct {
	AgentID, ClusterID, Serial string
}

// principal is an authenticated human or automation token.
type principal struct {
	Name    string
	Role    string
	Session *store.Session // nil for API tokens
}

// Handler returns the API.
func (h *Hub) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+fleetapi.PathHealth, h.health)
	mux.HandleFunc("GET "+PathReady, h.readyz)
	mux.Handle("GET /api/v1/status", h.user(store.RoleViewer, h.status))
	mux.Handle("GET /metrics", h.user(store.RoleViewer, func(w http.ResponseWriter, r *http.Request, _ principal) {
		promhttp.HandlerFor(h.metrics.registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	}))
	mux.HandleFunc("POST "+fleetapi.PathEnroll, h.enroll)
	mux.HandleFunc("GET "+fleetapi.PathCACert, h.caCert)

	// Agent endpoints decode with readAgentJSON (unknown fields ignored):
	// agents and the hub are upgraded independently.
	mux.Handle("POST "+fleetapi.PathRenew, h.agentOnly(h.renew))
	mux.Handle("POST "+fleetapi.PathReports, h.agentOnly(h.report))
	mux.Handle("POST "+fleetapi.PathReportBatch, h.agentOnly(h.reportBatch))
	mux.Handle("POST "+fleetapi.PathHeartbeat, h.agentOnly(h.heartbeat))
	mux.Handle("GET "+fleetapi.PathBundles, h.agentOnly(h.agentBundles))
	mux.Handle("GET "+fleetapi.PathBundleContent, h.agentOnly(h.agentBundleContent))

	mux.HandleFunc("POST /api/v1/login", h.login)
	mux.Handle("POST /api/v1/logout", h.user(store.RoleViewer, h.logout))
	mux.Handle("GET /api/v1/me", h.user(store.RoleViewer, h.me))

	mux.Handle("GET /api/v1/clusters", h.user(store.RoleViewer, h.listClusters))
	mux.Handle("GET /api/v1/clusters/{id}", h.user(store.RoleViewer, h.getCluster))
	mux.Handle("GET /api/v1/clusters/{id}/nodes", h.user(store.RoleViewer, h.clusterNodes))
	mux.Handle("GET /api/v1/findings", h.user(store.RoleViewer, h.listFindings))
	mux.Handle("GET /api/v1/images", h.user(store.RoleViewer, h.listImages))
	mux.Handle("GET /api/v1/images/{digest}/vulnerabilities", h.user(store.RoleViewer, h.imageVulns))
	mux.Handle("GET /api/v1/image-verifications", h.user(store.RoleViewer, h.imageVerifications))
	mux.Handle("GET /api/v1/vulnerabilities/{id}/clusters", h.user(store.RoleViewer, h.affectedClusters))
	mux.Handle("GET /api/v1/compliance", h.user(store.RoleViewer, h.compliance))
	mux.Handle("GET /api/v1/frameworks", h.user(store.RoleViewer, h.frameworksAPI))
	mux.Handle("GET /api/v1/admission-events", h.user(store.RoleViewer, h.admissionEvents))
	h.routeRuntime(mux)

	mux.Handle("POST /api/v1/clusters", h.user(store.RoleAdmin, h.createCluster))
	mux.Handle("POST /api/v1/clusters/{id}/revoke", h.user(store.RoleAdmin, h.revokeCluster))
	mux.Handle("POST /api/v1/certificates/{serial}/revoke", h.user(store.RoleAdmin, h.revokeCertificate))
	mux.Handle("POST /api/v1/users", h.user(store.RoleAdmin, h.createUser))
	mux.Handle("POST /api/v1/tokens", h.user(store.RoleAdmin, h.createAPIToken))
	h.routeAccounts(mux)
	mux.Handle("POST /api/v1/bundles", h.user(store.RoleAdmin, h.publishBundle))
	mux.Handle("POST /api/v1/place", h.user(store.RoleViewer, h.place))
	h.routeDashboard(mux)
	return h.logRequests(securityHeaders(mux))
}

// ContentSecurityPolicy is sent with every response. The dashboard has no
// scripts at all (none inline, none from files), so script-src falls back
// to default-src 'none'; only this origin's stylesheet and images load,
// forms post only here, and no page can be framed.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Strict-Transport-Security", "max-age=31536000")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cache-Control", "no-store")
		hd.Set("Content-Security-Policy", ContentSecurityPolicy)
		hd.Set("Referrer-Policy", "same-origin") // not no-referrer: Chromium then sends "Origin: null" on form posts, which the origin check refuses
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), usb=(), payment=()")
		next.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(c int) { s.status = c; s.ResponseWriter.WriteHeader(c) }

// Unwrap lets http.ResponseController reach the connection (write
// deadlines of a bundle's content).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests logs method, path, status and duration: never bodies,
// headers or query strings, which may carry secrets.
func (h *Hub) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		next.ServeHTTP(sw, r)
		level := slog.LevelDebug
		if sw.status >= 400 {
			level = slog.LevelInfo
		}
		h.log.LogAttrs(r.Context(), level, "request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)))
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, fleetapi.Error{Error: msg})
}

// readJSON decodes a bounded JSON body (gzip allowed) for the user and
// admin endpoints, strictly: unknown fields are refused (a misspelt
// "ttl" must not silently mean "no expiry"). Other content types are
// refused, which also keeps HTML forms from other sites out.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	return decodeBody(w, r, limit, v, true)
}

// readAgentJSON is readJSON for the agent endpoints, which ignore unknown
// fields: an agent newer than the hub may send fields the hub does not
// know yet, and must keep reporting (fleet upgrades are never atomic).
//
// An agent's body is also bounded in items (fleetapi.MaxReportItems),
// counted as it streams in: over either limit is 413.
func readAgentJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	return decodeBody(w, r, limit, v, false)
}

// readAgentReport is readAgentJSON for a report (an Envelope or a
// ReportBatch), read with fleetapi.DecodeReportBody, which keeps each
// finding's bytes as received (the store keeps and hashes them instead
// of encoding the finding again). The body is read whole first, gzip
// inflated by internal/inflate (about half the CPU time of compress/gzip
// on a snapshot), and bounded like every agent body: bytes on the wire,
// inflated bytes, and JSON items, counted as the report is decoded and
// never decoded past the limit (fleetapi.DecodeReportBodyWithin; one
// pass over the body instead of a count and then the decoding).
func readAgentReport(w http.ResponseWriter, r *http.Request, v any) bool {
	_, ok := readAgentReportInto(w, r, nil, v)
	return ok
}

// readAgentReportInto is readAgentReport inflating the body into a
// buffer of bodies (nil: a new one); the body, returned, is still v's
// (its findings' Raw): the caller gives it back (bodyPool.put) only once
// v is no longer read.
func readAgentReportInto(w http.ResponseWriter, r *http.Request, bodies *bodyPool, v any) ([]byte, bool) {
	body, ok := readAgentBodyInto(w, r, fleetapi.MaxReportBytes, bodies)
	if !ok {
		return nil, false
	}
	if err := fleetapi.DecodeReportBodyPartial(body, fleetapi.MaxReportItems, v); err != nil {
		writeBodyError(w, err)
		return nil, false
	}
	return body, true
}

// bodyPool keeps the buffers large report bodies (snapshots) were
// inflated into, for the next ones: a 500-pod snapshot inflates to 3.2
// MB, and allocating that afresh for each one — the memory cleared, its
// pages faulted in and later returned — was about a tenth of a hub's CPU
// under snapshots (issue #17). It keeps as many as the large reports
// decoded at once (ingestGate), of minPooledBody to maxPooledBody bytes
// each (deltas are left to the allocator; a rare huge body is not held):
// at most a few times 16 MiB, held for the hub's life.
//
// It also keeps the gzip decoders bodies are inflated with (their 64 KiB
// input buffer, 512 KiB window and tables), as many as are in use at once
// at most: made afresh, they were 600 KiB allocated and cleared for each
// report, a delta's too.
type bodyPool struct {
	free     chan []byte
	decoders chan *inflate.Decoder
}

const minPooledBody, maxPooledBody = 512 << 10, 16 << 20

// newBodyPool keeps n buffers and 4n decoders (every small report being
// inflated holds one, briefly).
func newBodyPool(n int) *bodyPool {
	return &bodyPool{free: make(chan []byte, n), decoders: make(chan *inflate.Decoder, 4*n)}
}

// decoder is a kept decoder, or a new one.
func (b *bodyPool) decoder() *inflate.Decoder {
	if b != nil {
		select {
		case z := <-b.decoders:
			return z
		default:
		}
	}
	return new(inflate.Decoder)
}

// putDecoder keeps z for the next body, when there is room.
func (b *bodyPool) putDecoder(z *inflate.Decoder) {
	if b == nil {
		return
	}
	select {
	case b.decoders <- z:
	default:
	}
}

// get is a buffer of capacity at least n from the pool, or nil.
func (b *bodyPool) get(n int) []byte {
	if b == nil || n < minPooledBody || n > maxPooledBody {
		return nil
	}
	for range cap(b.free) {
		select {
		case buf := <-b.free:
			if cap(buf) >= n {
				return buf[:0]
			}
			b.put(buf) // too small for this one: kept for others
		default:
			return nil
		}
	}
	return nil
}

// put gives buf back: nothing may read it afterwards.
func (b *bodyPool) put(buf []byte) {
	if b == nil || cap(buf) < minPooledBody || cap(buf) > maxPooledBody {
		return
	}
	select {
	case b.free <- buf[:0]:
	default: // full: left to the collector
	}
}

// readAgentBody reads a JSON body whole, within limit bytes on the wire
// and, for gzip, inflated (its JSON items are the decoder's to count: a
// few kilobytes of gzip can inflate to millions of empty findings,
// TestHostileReportBoundedMemory); on false the error answer is written.
func readAgentBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	return readAgentBodyInto(w, r, limit, nil)
}

// readAgentBodyInto is readAgentBody inflating a gzip body into a buffer
// of bodies when it has one large enough.
func readAgentBodyInto(w http.ResponseWriter, r *http.Request, limit int64, bodies *bodyPool) ([]byte, bool) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "want Content-Type: application/json")
		return nil, false
	}
	src := http.MaxBytesReader(w, r.Body, limit)
	if r.Header.Get("Content-Encoding") != "gzip" {
		body, err := io.ReadAll(src)
		if err != nil {
			writeBodyError(w, err)
			return nil, false
		}
		return body, true
	}
	// The compressed body is read first (small: a 500-pod snapshot is
	// about 160 KB), so that the inflated one is allocated at the size
	// its gzip trailer states when that is the whole body's: grown by
	// doubling from a guess, its copies and fresh pages were a tenth of
	// a hub's CPU under snapshots.
	gz, err := readWire(src, r.ContentLength)
	if err != nil {
		writeBodyError(w, err)
		return nil, false
	}
	body, err := inflateBodyInto(gz, limit, bodies)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || errors.Is(err, fleetapi.ErrTooLarge) {
			writeBodyError(w, err)
		} else {
			writeError(w, http.StatusBadRequest, "bad gzip body: "+err.Error())
		}
		return nil, false
	}
	return body, true
}

// readWire reads a request body whole, into one buffer of its declared
// length when it has one (the reader bounds what is read).
func readWire(src io.Reader, length int64) ([]byte, error) {
	var b bytes.Buffer
	if length > 0 {
		b.Grow(int(min(length, fleetapi.MaxReportBytes)) + bytes.MinRead)
	}
	_, err := b.ReadFrom(src)
	return b.Bytes(), err
}

// inflateBodyInto inflates gz, within limit bytes, into one buffer
// (one of bodies when it has one large enough), with one of bodies'
// decoders. A body the pool would keep (a snapshot) gets the room
// inflatedSizeHint gives plus a decoder's window
// (inflate.Decoder.GunzipAppend), so that, when the hint is right, it is
// inflated in place: each byte written once, into the body, where it was
// written into the decoder's window and then copied to the body (a
// 500-pod snapshot's 3.2 MB), with the window's 512 KiB allocated and
// cleared for each request. A smaller one (a delta) goes through the
// decoder's window, kept with the decoder. A wrong hint costs copies, not
// memory: the body grows by doubling, never past limit.
func inflateBodyInto(gz []byte, limit int64, bodies *bodyPool) ([]byte, error) {
	room := inflatedSizeHint(gz, limit)
	if room >= minPooledBody {
		room += inflate.OutBufferLen
	}
	cur := bodies.get(room)
	if cur == nil {
		cur = make([]byte, 0, room)
	}
	z := bodies.decoder()
	body, err := z.GunzipAppend(cur, gz, limit)
	bodies.putDecoder(z)
	if errors.Is(err, inflate.ErrLimit) {
		return nil, errDecompressedTooLarge
	}
	return body, err
}

// inflatedSizeHint is the room to make first for gz inflated: the
// length its last member's trailer states (ISIZE: exact for a body of
// one member under 4 GiB) unless that is less than gz itself — a body
// of several members, such as the agent's batches, whose last member is
// a few bytes —, then sixteen times gz (a snapshot inflates 16–27-fold);
// never more than limit nor than gz could inflate to (deflate expands at
// most 1,032-fold), so that a lying trailer costs no more than an honest
// body of its size.
func inflatedSizeHint(gz []byte, limit int64) int {
	const floor, ratio, maxRatio = 64 << 10, 16, 1032
	hint := int64(len(gz)) * ratio
	if len(gz) >= 18 { // a header and a trailer
		if isize := int64(binary.LittleEndian.Uint32(gz[len(gz)-4:])); isize >= int64(len(gz)) {
			hint = isize
		}
	}
	return int(max(floor, min(hint, limit, int64(len(gz))*maxRatio)))
}

// errDecompressedTooLarge is a gzip body that inflates past the limit.
var errDecompressedTooLarge = fmt.Errorf("decompressed body too large: %w", fleetapi.ErrTooLarge)

// capReader fails with errDecompressedTooLarge past n bytes (where
// io.LimitReader would end the JSON early and read as a syntax error).
type capReader struct {
	r io.Reader
	n int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, errDecompressedTooLarge
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

// decodeBody decodes exactly one JSON value: data after it (other than
// white space) is refused, so a body never means more than was decoded.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any, strict bool) bool {
	return decodeBodyWith(w, r, limit, func(body io.Reader) error {
		dec := json.NewDecoder(body)
		if strict {
			dec.DisallowUnknownFields()
		}
		if err := dec.Decode(v); err != nil {
			return err
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return errors.New("data after the first JSON value")
		}
		return nil
	})
}

// decodeBodyWith checks the content type, bounds the body (bytes on the
// wire, decompressed bytes, JSON items) and runs decode over it, writing
// the error answer when it fails.
func decodeBodyWith(w http.ResponseWriter, r *http.Request, limit int64, decode func(io.Reader) error) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "want Content-Type: application/json")
		return false
	}
	body := io.Reader(http.MaxBytesReader(w, r.Body, limit))
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad gzip body")
			return false
		}
		defer zr.Close()
		body = &capReader{r: zr, n: limit} // bounds the decompressed size too
	}
	if err := decode(&fleetapi.ItemLimitReader{R: body, Max: fleetapi.MaxReportItems}); err != nil {
		writeBodyError(w, err)
		return false
	}
	return true
}

// writeBodyError answers a body that could not be read or decoded: 413
// over a limit, 400 otherwise.
func writeBodyError(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", mbe.Limit))
	case errors.Is(err, fleetapi.ErrTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
	default:
		writeError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
	}
}

// PathReady is the readiness check: 200 while the database answers.
const PathReady = "/readyz"

// readyCheckEvery bounds how often /readyz, which anyone may call, reaches
// the database: every caller gets the last answer until it is this old.
const readyCheckEvery = 5 * time.Second

// readiness caches the database check behind /readyz. The lock is held
// during a check, so concurrent callers wait for one query instead of
// each sending their own.
type readiness struct {
	every time.Duration
	mu    sync.Mutex
	at    time.Time // wall clock (never Config.Now, which tests move); zero before the first check
	err   error
}

func (rd *readiness) check(ctx context.Context, ping func(context.Context) error) error {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if !rd.at.IsZero() && time.Since(rd.at) < rd.every {
		return rd.err
	}
	// Not the caller's context: a caller hanging up must not be cached
	// as the database failing.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	rd.err, rd.at = ping(ctx), time.Now()
	return rd.err
}

// health is the liveness check: the process serves HTTP. It touches no
// database (an outage must not get replicas restarted) and says nothing
// about the hub to anonymous callers.
func (h *Hub) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 503 while the database is unreachable or the store has
// stopped writing reports (checked at most every readyCheckEvery),
// without details.
// caCert serves the hub CA's certificate, public by nature: browsers and
// tools that should trust the hub import it; its SHA-256 is what agents
// pin (X-Palisade-CA-Fingerprint says it too).
func (h *Hub) caCert(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Disposition", `attachment; filename="palisade-hub-ca.crt"`)
	w.Header().Set("X-Palisade-CA-Fingerprint", h.CAFingerprint())
	_, _ = w.Write(h.ca.pem)
}

func (h *Hub) readyz(w http.ResponseWriter, r *http.Request) {
	err := h.ready.check(r.Context(), func(ctx context.Context) error {
		_, err := h.st.SchemaVersion(ctx)
		if err != nil {
			h.log.WarnContext(ctx, "readiness: database unreachable", slog.Any("error", err))
			return err
		}
		// The store refuses every report after a failed WAL sync until
		// the hub restarts: not ready, though reads still work.
		if err := h.st.WriteFailure(); err != nil {
			h.log.ErrorContext(ctx, "readiness: the store stopped writing reports; restart the hub", slog.Any("error", err))
			return err
		}
		return nil
	})
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// status is the hub's state for signed-in users: database kind and
// schema version (useful to operators, a map to attackers).
func (h *Hub) status(w http.ResponseWriter, r *http.Request, _ principal) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	v, err := h.st.SchemaVersion(ctx)
	if err != nil {
		h.log.ErrorContext(r.Context(), "status: database unreachable", slog.Any("error", err))
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "backend": h.st.Backend()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "backend": h.st.Backend(), "schemaVersion": v})
}

// ---- agents

// agentOnly admits requests with a client certificate that the TLS layer
// verified against the hub CA and that the store knows and has not revoked.
// Expired certificates never get here: the handshake refuses them.
func (h *Hub) agentOnly(next func(http.ResponseWriter, *http.Request, agentIdentity)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.PeerCertificates) == 0 {
			writeError(w, http.StatusUnauthorized, "client certificate required")
			return
		}
		leaf := r.TLS.PeerCertificates[0]
		now := h.cfg.Now()
		if now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
			writeError(w, http.StatusUnauthorized, "certificate expired or not yet valid")
			return
		}
		serial := SerialHex(leaf.SerialNumber)
		c, err := h.st.GetCertificate(r.Context(), serial)
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusUnauthorized, "unknown certificate")
			return
		}
		if err != nil {
			h.internal(w, r, err)
			return
		}
		if !c.RevokedAt.IsZero() {
			writeError(w, http.StatusUnauthorized, "certificate revoked")
			return
		}
		if !c.ClusterRevokedAt.IsZero() {
			writeError(w, http.StatusUnauthorized, "cluster revoked")
			return
		}
		next(w, r, agentIdentity{AgentID: c.AgentID, ClusterID: c.ClusterID, Serial: serial})
	})
}

// internal answers a failure of the hub: 503 with Retry-After when the
// database is unavailable or full (the same request can succeed later),
// else 500; the details go to the log only.
func (h *Hub) internal(w http.ResponseWriter, r *http.Request, err error) {
	if h.writeUnavailable(w, r, err) {
		return
	}
	h.log.ErrorContext(r.Context(), "internal error", slog.String("path", r.URL.Path), slog.Any("error", err))
	writeError(w, http.StatusInternalServerError, "internal error")
}

// fail answers an admin action's error: input the caller got wrong
// (store.ErrInvalid) is a 400 and a duplicate (store.ErrConflict) a 409,
// with the error's message, which names the field or object and carries
// no database text; anything else is the hub's fault, a 500 with details
// only in the log.
func (h *Hub) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	default:
		h.internal(w, r, err)
	}
}

func (h *Hub) enroll(w http.ResponseWriter, r *http.Request) {
	att, ok := h.tokenAllowed(w, r, "enroll")
	if !ok {
		return
	}
	defer att.end()
	var req fleetapi.EnrollRequest
	if !readAgentJSON(w, r, 64<<10, &req) {
		return
	}
	id, secret, err := splitToken(bootstrapPrefix, req.Token)
	if err != nil {
		att.failed(r, "")
		writeError(w, http.StatusUnauthorized, "bootstrap token rejected")
		return
	}
	// The CSR is checked before the token is consumed, so a malformed
	// request does not burn a token.
	if _, _, err := h.ca.issueClient([]byte(req.CSR), "check", "check", h.cfg.Now(), time.Minute); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	agentID := "a-" + randomHex(12)
	now := h.cfg.Now()
	cluster, err := h.st.EnrollAgent(r.Context(), id, hashSecret(secret), store.Agent{ID: agentID}, now)
	if errors.Is(err, store.ErrTokenRejected) {
		att.failed(r, id)
		writeError(w, http.StatusUnauthorized, "bootstrap token rejected")
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	certPEM, notAfter, err := h.issue(r.Context(), []byte(req.CSR), store.Certificate{ClusterID: cluster.ID, AgentID: agentID}, now, 0)
	if errors.Is(err, store.ErrRevoked) { // revoked again since the token was used
		writeError(w, http.StatusUnauthorized, "cluster revoked")
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	bk, err := PublicKeyPEM(h.BundlePublicKey())
	if err != nil {
		h.internal(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "agent enrolled", slog.String("cluster", cluster.Name), slog.String("agent", agentID))
	writeJSON(w, http.StatusOK, fleetapi.EnrollResponse{ClusterID: cluster.ID, ClusterName: cluster.Name, AgentID: agentID,
		Certificate: string(certPEM), CA: string(h.ca.pem), BundleKey: string(bk), NotAfter: notAfter})
}

// issue signs a certificate for the CSR and records it (rec names the
// cluster, agent and, for a renewal, the certificate renewed). A
// certificate the store refuses (revoked cluster, renewal too soon) is
// never recorded, so it authenticates nothing.
func (h *Hub) issue(ctx context.Context, csr []byte, rec store.Certificate, now time.Time, minInterval time.Duration) ([]byte, time.Time, error) {
	cert, certPEM, err := h.ca.issueClient(csr, rec.ClusterID, rec.AgentID, now, h.cfg.CertTTL)
	if err != nil {
		return nil, time.Time{}, err
	}
	rec.Serial, rec.NotBefore, rec.NotAfter = SerialHex(cert.SerialNumber), cert.NotBefore, cert.NotAfter
	if err := h.st.RecordCertificate(ctx, rec, now, minInterval); err != nil {
		return nil, time.Time{}, err
	}
	return certPEM, cert.NotAfter, nil
}

func (h *Hub) renew(w http.ResponseWriter, r *http.Request, id agentIdentity) {
	var req fleetapi.RenewRequest
	if !readAgentJSON(w, r, 64<<10, &req) {
		return
	}
	c, err := h.st.GetCluster(r.Context(), id.ClusterID)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	// The CSR is checked on its own so that only its faults are the
	// agent's (400, with the reason); failures to sign or record are the
	// hub's (500, details only in the log).
	if _, _, err := h.ca.issueClient([]byte(req.CSR), "check", "check", h.cfg.Now(), time.Minute); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	certPEM, notAfter, err := h.issue(r.Context(), []byte(req.CSR), store.Certificate{ClusterID: id.ClusterID, AgentID: id.AgentID, RenewedFrom: id.Serial},
		h.cfg.Now(), h.cfg.RenewInterval)
	var soon *store.RenewalTooSoon
	switch {
	case errors.As(err, &soon):
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(soon.RetryAfter.Seconds()))))
		writeError(w, http.StatusTooManyRequests, "renewed less than "+h.cfg.RenewInterval.String()+" ago")
		return
	case errors.Is(err, store.ErrRevoked):
		writeError(w, http.StatusUnauthorized, "cluster revoked")
		return
	case err != nil:
		h.internal(w, r, err)
		return
	}
	bk, _ := PublicKeyPEM(h.BundlePublicKey())
	writeJSON(w, http.StatusOK, fleetapi.EnrollResponse{ClusterID: id.ClusterID, ClusterName: c.Name, AgentID: id.AgentID,
		Certificate: string(certPEM), CA: string(h.ca.pem), BundleKey: string(bk), NotAfter: notAfter})
}

func (h *Hub) report(w http.ResponseWriter, r *http.Request, id agentIdentity) {
	done, ok := h.ingestTurn(w, id.ClusterID)
	if !ok {
		return
	}
	defer done()
	release, ok := h.ingestSlot(w, r)
	if !ok {
		return
	}
	defer release()
	var env fleetapi.Envelope
	if !readAgentReport(w, r, &env) {
		return
	}
	if env.Cluster != "" && env.Cluster != id.ClusterID {
		h.log.WarnContext(r.Context(), "cross-cluster report refused", slog.String("agent", id.AgentID), slog.String("cluster", id.ClusterID))
		writeError(w, http.StatusForbidden, "an agent may only report for its own cluster")
		return
	}
	if err := env.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	applied, err := h.st.Ingest(r.Context(), id.AgentID, &env, h.cfg.Now())
	if h.storeBusy(w, err) {
		return
	}
	if err != nil {
		h.ingestFailed(w, r, id, err)
		return
	}
	h.refused.clear(id.ClusterID)
	if applied && (env.Kind == fleetapi.KindAdmission || env.Kind == fleetapi.KindRuntime) {
		h.enforceQuota(r.Context(), id.ClusterID)
	}
	writeJSON(w, http.StatusOK, fleetapi.ReportResult{Seq: env.Seq, Duplicate: !applied})
}

func (h *Hub) heartbeat(w http.ResponseWriter, r *http.Request, id agentIdentity) {
	var hb fleetapi.Heartbeat
	if !readAgentJSON(w, r, 16<<10, &hb) {
		return
	}
	if err := h.st.Heartbeat(r.Context(), id.AgentID, hb, h.cfg.Now()); err != nil {
		if h.storeBusy(w, err) {
			return
		}
		h.internal(w, r, err)
		return
	}
	if hb.Resync {
		// The agent's reports were refused as too far ahead (a restored
		// hub database, a long cut-off): it renumbers its queue after
		// what this hub applied, losing nothing.
		ag, err := h.st.GetAgent(r.Context(), id.AgentID)
		if err != nil {
			h.internal(w, r, err)
			return
		}
		last := ag.LastSeq
		writeJSON(w, http.StatusOK, fleetapi.HeartbeatResult{LastApplied: &last})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Hub) agentBundles(w http.ResponseWriter, r *http.Request, id agentIdentity) {
	bs, err := h.st.ListBundles(r.Context(), id.ClusterID)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	if bs == nil {
		bs = []fleetapi.Bundle{}
	}
	// Inline contents add up to at most MaxInlineListBytes; the rest are
	// listed without content and fetched apart, so the list stays far
	// below what agents decode.
	inline := 0
	for i := range bs {
		if bs[i].Content == nil {
			continue
		}
		if inline+len(bs[i].Content) > fleetapi.MaxInlineListBytes {
			bs[i].Content = nil
			continue
		}
		inline += len(bs[i].Content)
	}
	writeJSON(w, http.StatusOK, fleetapi.BundleList{Bundles: bs})
}

// Sending a bundle's content: each chunk must leave within
// bundleChunkTimeout (a stalled agent is dropped), the whole response
// within bundleSendTimeout (instead of the server's WriteTimeout, which a
// slow edge link would exceed for a large vulnerability database).
const (
	bundleChunk        = 256 << 10
	bundleChunkTimeout = time.Minute
	bundleSendTimeout  = 30 * time.Minute
	// bundleSendWait is how long a download waits for one of the
	// replica's Config.MaxBundleSends before a 503 (agents try again at
	// their next fetch); shorter than an agent's one-minute stall limit.
	bundleSendWait = 30 * time.Second
)

// agentBundleContent serves one bundle's content as raw bytes: a
// fleet-wide bundle or one of the agent's own cluster (another cluster's
// is a 403, whether it exists or not), only in its latest version (an
// older one is a 404: list again). The metadata is looked up first, so a
// 404 or a 304 never reads the content. The store returns the content as
// one value, so the hub holds one copy of it per request while sending,
// for at most Config.MaxBundleSendsPerCluster requests per cluster (a
// 429 beyond: one agent's slow downloads cannot take every slot) and
// Config.MaxBundleSends per replica (a 503 when none is free within
// bundleSendWait); the agent, which is the memory-constrained end,
// streams it to disk.
func (h *Hub) agentBundleContent(w http.ResponseWriter, r *http.Request, id agentIdentity) {
	q := r.URL.Query()
	kind, name, cluster := q.Get("kind"), q.Get("name"), q.Get("cluster")
	version, err := strconv.ParseInt(q.Get("version"), 10, 64)
	if err != nil || version < 1 || fleetapi.CheckBundleName(kind, name) != nil {
		writeError(w, http.StatusBadRequest, "want kind, name, version and cluster of a listed bundle")
		return
	}
	if cluster != "" && cluster != id.ClusterID {
		writeError(w, http.StatusForbidden, "bundle of another cluster")
		return
	}
	notCurrent := func() {
		writeError(w, http.StatusNotFound, fmt.Sprintf("bundle %s/%s v%d is not the current version", kind, name, version))
	}
	info, err := h.st.GetBundleInfo(r.Context(), kind, name, cluster)
	if errors.Is(err, store.ErrNotFound) || err == nil && info.Version != version {
		notCurrent()
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	etag := `"` + info.SHA256 + `"`
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if !h.bundleSendStart(id.ClusterID) {
		w.Header().Set("Retry-After", strconv.Itoa(int(bundleSendWait/time.Second)))
		writeError(w, http.StatusTooManyRequests, "this cluster is already downloading a bundle; try again later")
		return
	}
	defer h.bundleSendEnd(id.ClusterID)
	wait := time.NewTimer(h.bundleWait)
	defer wait.Stop()
	select {
	case h.bundleSends <- struct{}{}:
		defer func() { <-h.bundleSends }()
	case <-wait.C:
		w.Header().Set("Retry-After", strconv.Itoa(int(bundleSendWait/time.Second)))
		writeError(w, http.StatusServiceUnavailable, "too many bundle downloads at once; try again later")
		return
	case <-r.Context().Done():
		return
	}
	b, err := h.st.GetBundle(r.Context(), kind, name, cluster)
	if errors.Is(err, store.ErrNotFound) || err == nil && (b.Version != version || b.SHA256 != info.SHA256) {
		notCurrent() // replaced since the lookup
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(b.Content)))
	rc := http.NewResponseController(w)
	end := time.Now().Add(bundleSendTimeout)
	for rest := b.Content; len(rest) > 0; {
		n := min(len(rest), bundleChunk)
		// Not every ResponseWriter supports deadlines; the server's
		// WriteTimeout then bounds the response.
		d := time.Now().Add(bundleChunkTimeout)
		if d.After(end) {
			d = end
		}
		_ = rc.SetWriteDeadline(d)
		if _, err := w.Write(rest[:n]); err != nil {
			h.log.WarnContext(r.Context(), "bundle content not sent", slog.String("kind", kind), slog.String("name", name), slog.String("agent", id.AgentID), slog.Any("error", err))
			return
		}
		rest = rest[n:]
	}
}

// bundleSendStart takes one of cluster's Config.MaxBundleSendsPerCluster
// download places, reporting false when all are taken.
func (h *Hub) bundleSendStart(cluster string) bool {
	h.bundleMu.Lock()
	defer h.bundleMu.Unlock()
	if h.bundleByCluster[cluster] >= h.bundlePerCluster {
		return false
	}
	h.bundleByCluster[cluster]++
	return true
}

func (h *Hub) bundleSendEnd(cluster string) {
	h.bundleMu.Lock()
	defer h.bundleMu.Unlock()
	if h.bundleByCluster[cluster]--; h.bundleByCluster[cluster] <= 0 {
		delete(h.bundleByCluster, cluster)
	}
}

// ---- users

// user admits a session (with a CSRF token on unsafe methods) or an API
// token with at least role. Agents' certificates grant nothing here.
func (h *Hub) user(role string, next func(http.ResponseWriter, *http.Request, principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := h.authenticate(w, r)
		if !ok {
			return
		}
		if role == store.RoleAdmin && p.Role != store.RoleAdmin {
			writeError(w, http.StatusForbidden, "admin role required")
			return
		}
		next(w, r.WithContext(WithActor(context.WithValue(r.Context(), principalKey, p), p.Name)), p)
	})
}

func (h *Hub) authenticate(w http.ResponseWriter, r *http.Request) (principal, bool) {
	now := h.cfg.Now()
	if auth := r.Header.Get("Authorization"); auth != "" {
		att, ok := h.tokenAllowed(w, r, "api-token")
		if !ok {
			return principal{}, false
		}
		defer att.end()
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		id, secret, err := splitToken(apiTokenPrefix, tok)
		if !ok || err != nil {
			att.failed(r, "")
			writeError(w, http.StatusUnauthorized, "invalid API token")
			return principal{}, false
		}
		t, err := h.st.GetAPIToken(r.Context(), id, now)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			h.internal(w, r, err)
			return principal{}, false
		}
		if err != nil || subtle.ConstantTimeCompare(t.Hash, hashSecret(secret)) != 1 {
			att.failed(r, id)
			writeError(w, http.StatusUnauthorized, "invalid API token")
			return principal{}, false
		}
		if err := h.st.TouchAPIToken(r.Context(), t.ID, now); err != nil {
			// The last use is for the token listing; the request goes on.
			h.log.WarnContext(r.Context(), "api token last use not recorded", slog.Any("error", err))
		}
		return principal{Name: "token:" + t.Name, Role: t.Role}, true
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		writeError(w, http.StatusUnauthorized, "login required")
		return principal{}, false
	}
	se, u, err := h.st.GetSession(r.Context(), hashSecret(c.Value), now)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusUnauthorized, "session expired")
		return principal{}, false
	}
	if err != nil {
		h.internal(w, r, err)
		return principal{}, false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if got := r.Header.Get(csrfHeader); got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(se.CSRFToken)) != 1 {
			writeError(w, http.StatusForbidden, "missing or wrong CSRF token")
			return principal{}, false
		}
	}
	return principal{Name: u.Name, Role: u.Role, Session: &se}, true
}

// LoginRequest is the body of POST /api/v1/login.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// LoginResponse carries the CSRF token to send in X-CSRF-Token.
type LoginResponse struct {
	User      string `json:"user"`
	Role      string `json:"role"`
	CSRFToken string `json:"csrfToken"`
}

func (h *Hub) login(w http.ResponseWriter, r *http.Request) {
	var req LoginRequest
	if !readJSON(w, r, 4<<10, &req) {
		return
	}
	u, out, wait, err := h.checkLogin(r, "login", req.Username, req.Password)
	switch out {
	case loginThrottled:
		s := retryAfter(w, wait)
		writeError(w, http.StatusTooManyRequests, "too many failed sign-ins; retry in "+strconv.Itoa(s)+"s")
		return
	case loginBusy:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "too many sign-ins at once; retry")
		return
	case loginError:
		h.internal(w, r, err)
		return
	case loginWrong:
		writeError(w, http.StatusUnauthorized, "wrong user name or password")
		return
	}
	now := h.cfg.Now()
	sid := randomSecret()
	se := store.Session{IDHash: hashSecret(sid), UserID: u.ID, CSRFToken: randomSecret(), CreatedAt: now, ExpiresAt: now.Add(h.cfg.SessionTTL)}
	if err := h.st.CreateSession(r.Context(), se, h.cfg.MaxSessionsPerUser); err != nil {
		h.internal(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sid, Path: "/", Expires: se.ExpiresAt,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, LoginResponse{User: u.Name, Role: u.Role, CSRFToken: se.CSRFToken})
}

func (h *Hub) logout(w http.ResponseWriter, r *http.Request, p principal) {
	if p.Session != nil {
		if err := h.st.DeleteSession(r.Context(), p.Session.IDHash); err != nil {
			h.internal(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

func (h *Hub) me(w http.ResponseWriter, r *http.Request, p principal) {
	writeJSON(w, http.StatusOK, map[string]string{"user": p.Name, "role": p.Role})
}

// ---- reads

// ClusterView is a cluster as the API returns it.
type ClusterView struct {
	ID                string                `json:"id"`
	Name              string                `json:"name"`
	State             fleetapi.ClusterState `json:"state"`
	LastSeen          *time.Time            `json:"lastSeen,omitempty"`
	KubernetesVersion string                `json:"kubernetesVersion,omitempty"`
	Distribution      string                `json:"distribution,omitempty"`
	Nodes             int                   `json:"nodes"`
	Pods              int                   `json:"pods"`
	Findings          map[string]int        `json:"findings"`
	OutboxPending     uint64                `json:"outboxPending"`
	OutboxDropped     uint64                `json:"outboxDropped"`
	// AdmissionEventsDropped counts the admission events the hub dropped,
	// oldest first, to keep the cluster within its quota.
	AdmissionEventsDropped uint64 `json:"admissionEventsDropped"`
	// FindingRows is the cluster's stored findings, suppressed ones too:
	// what hub serve --findings-per-cluster bounds.
	FindingRows int64 `json:"findingRows"`
	// ReportsRefused counts the cluster's reports refused over a quota.
	// RefusedReason and RefusedSince say why and since when its reports
	// are refused now (state reports-refused): over a quota, until a
	// findings report is applied again, or the database unavailable (as
	// far as the replica answering knows).
	ReportsRefused uint64     `json:"reportsRefused"`
	RefusedReason  string     `json:"refusedReason,omitempty"`
	RefusedSince   *time.Time `json:"refusedSince,omitempty"`
	CreatedAt      time.Time  `json:"createdAt"`
}

// ClusterView is the cluster as GET /api/v1/clusters shows it now
// (state included) on this replica.
func (h *Hub) ClusterView(c store.Cluster) ClusterView { return h.view(c) }

func (h *Hub) view(c store.Cluster) ClusterView {
	reason, since := h.reportsRefused(c)
	v := ClusterView{ID: c.ID, Name: c.Name, State: refusedState(c.State(h.cfg.Now(), h.cfg.StaleAfter, h.cfg.OfflineAfter), reason),
		KubernetesVersion: c.KubernetesVersion, Distribution: c.Distribution, Findings: c.Findings,
		OutboxPending: c.Pending, OutboxDropped: c.Dropped, AdmissionEventsDropped: c.AdmissionDropped, CreatedAt: c.CreatedAt,
		FindingRows: c.FindingRows, ReportsRefused: c.QuotaRefused, RefusedReason: reason}
	if reason != "" {
		v.RefusedSince = &since
	}
	if !c.LastSeen.IsZero() {
		t := c.LastSeen
		v.LastSeen = &t
	}
	if c.Inventory != nil {
		v.Nodes, v.Pods = len(c.Inventory.Nodes), c.Inventory.Pods
	}
	return v
}

func (h *Hub) listClusters(w http.ResponseWriter, r *http.Request, _ principal) {
	q := r.URL.Query()
	var cs []store.Cluster
	var total int
	var err error
	if q.Has("limit") || q.Has("offset") || q.Has("q") || q.Has("state") {
		// One page, for large fleets: ?limit=100&offset=0&q=name&state=stale.
		cq := store.ClusterQuery{Search: q.Get("q"), State: fleetapi.ClusterState(q.Get("state")), Cutoffs: store.Cutoffs(h.cfg.Now(), h.cfg.StaleAfter, h.cfg.OfflineAfter)}
		if cq.Limit, err = intParam(r, "limit", 100); err == nil {
			cq.Offset, err = intParam(r, "offset", 0)
		}
		if err != nil || cq.Limit > 5000 {
			writeError(w, http.StatusBadRequest, "limit (at most 5000) and offset must be non-negative integers")
			return
		}
		if cs, total, err = h.st.QueryClusters(r.Context(), cq); errors.Is(err, store.ErrInvalid) {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	} else {
		cs, err = h.st.ListClusters(r.Context())
		total = len(cs)
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	out := make([]ClusterView, 0, len(cs))
	for _, c := range cs {
		out = append(out, h.view(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"total": total, "clusters": out})
}

func (h *Hub) getCluster(w http.ResponseWriter, r *http.Request, _ principal) {
	c, err := h.st.GetCluster(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no such cluster")
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"cluster": h.view(c), "inventory": c.Inventory})
}

// writeList answers a listing from the store as {key: items}: a store
// error is a 500 (logged, not shown), no items an empty array, never null.
func writeList[T any](h *Hub, w http.ResponseWriter, r *http.Request, key string, items []T, err error) {
	if err != nil {
		h.internal(w, r, err)
		return
	}
	if items == nil {
		items = []T{}
	}
	writeJSON(w, http.StatusOK, map[string]any{key: items})
}

func (h *Hub) clusterNodes(w http.ResponseWriter, r *http.Request, _ principal) {
	ns, err := h.st.ListNodes(r.Context(), r.PathValue("id"))
	writeList(h, w, r, "nodes", ns, err)
}

// FindingView is a stored finding as the API returns it.
type FindingView struct {
	ClusterID string `json:"clusterID"`
	finding.Finding
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
}

func intParam(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: want a non-negative integer", name)
	}
	return n, nil
}

func (h *Hub) listFindings(w http.ResponseWriter, r *http.Request, _ principal) {
	q := r.URL.Query()
	fq := store.FindingQuery{ClusterID: q.Get("cluster"), RuleID: q.Get("rule"), Namespace: q.Get("namespace"), IncludeSuppressed: q.Get("suppressed") == "true"}
	if s := q.Get("severity"); s != "" {
		sev, err := finding.ParseSeverity(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		fq.MinSeverity = sev
	}
	var err error
	if fq.Limit, err = intParam(r, "limit", 100); err == nil {
		fq.Offset, err = intParam(r, "offset", 0)
	}
	if err != nil || fq.Limit > 5000 {
		writeError(w, http.StatusBadRequest, "limit (at most 5000) and offset must be non-negative integers")
		return
	}
	total, err := h.st.CountFindings(r.Context(), fq)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	fs, err := h.st.ListFindings(r.Context(), fq)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	out := make([]FindingView, 0, len(fs))
	for _, f := range fs {
		out = append(out, FindingView{ClusterID: f.ClusterID, Finding: f.Finding, FirstSeen: f.FirstSeen, LastSeen: f.LastSeen})
	}
	writeJSON(w, http.StatusOK, map[string]any{"total": total, "findings": out})
}

func (h *Hub) listImages(w http.ResponseWriter, r *http.Request, _ principal) {
	ims, err := h.st.ListImages(r.Context(), r.URL.Query().Get("cluster"))
	writeList(h, w, r, "images", ims, err)
}

func (h *Hub) imageVulns(w http.ResponseWriter, r *http.Request, _ principal) {
	vs, err := h.st.ImageVulnerabilities(r.Context(), r.URL.Query().Get("cluster"), r.PathValue("digest"))
	writeList(h, w, r, "vulnerabilities", vs, err)
}

func (h *Hub) affectedClusters(w http.ResponseWriter, r *http.Request, _ principal) {
	cs, err := h.st.ClustersAffectedBy(r.Context(), r.PathValue("id"))
	if err != nil {
		h.internal(w, r, err)
		return
	}
	if cs == nil {
		cs = []store.AffectedCluster{}
	}
	// What the answer cannot speak for: images in use without a match.
	cov, err := h.st.ImageCoverage(r.Context())
	if err != nil {
		h.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"vulnerability": r.PathValue("id"), "clusters": cs, "notSearched": cov})
}

func (h *Hub) compliance(w http.ResponseWriter, r *http.Request, _ principal) {
	rs, err := h.st.Compliance(r.Context())
	writeList(h, w, r, "rules", rs, err)
}

func (h *Hub) admissionEvents(w http.ResponseWriter, r *http.Request, _ principal) {
	q := r.URL.Query()
	aq := store.AdmissionQuery{ClusterID: q.Get("cluster"), Decision: q.Get("decision"), BreakGlassOnly: q.Get("breakGlass") == "true"}
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "since: want RFC 3339")
			return
		}
		aq.Since = t
	}
	var err error
	if aq.Limit, err = intParam(r, "limit", 200); err != nil || aq.Limit > 5000 {
		writeError(w, http.StatusBadRequest, "limit: want a non-negative integer, at most 5000")
		return
	}
	evs, err := h.st.ListAdmissionEvents(r.Context(), aq)
	writeList(h, w, r, "events", evs, err)
}

// ---- admin

// CreateClusterRequest registers a cluster and returns a bootstrap token.
type CreateClusterRequest struct {
	Name string `json:"name"`
	TTL  string `json:"ttl,omitempty"` // Go duration, default 1h
}

func (h *Hub) createCluster(w http.ResponseWriter, r *http.Request, p principal) {
	var req CreateClusterRequest
	if !readJSON(w, r, 4<<10, &req) {
		return
	}
	ttl := time.Hour
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil {
			writeError(w, http.StatusBadRequest, "ttl: "+err.Error())
			return
		}
		ttl = d
	}
	tok, c, err := h.CreateBootstrapToken(r.Context(), req.Name, ttl)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "bootstrap token created", slog.String("cluster", c.Name), slog.String("by", p.Name))
	writeJSON(w, http.StatusCreated, map[string]any{"cluster": h.view(c), "token": tok, "caFingerprint": h.CAFingerprint()})
}

func (h *Hub) revokeCluster(w http.ResponseWriter, r *http.Request, p principal) {
	n, err := h.RevokeCluster(r.Context(), r.PathValue("id"))
	if err != nil {
		h.internal(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "certificates revoked", slog.String("cluster", r.PathValue("id")), slog.Int("count", n), slog.String("by", p.Name))
	writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
}

// revokeCertificate revokes one certificate by serial, in any spelling
// ParseSerial accepts. An unknown serial is 404, never a 200 that revoked
// nothing; a certificate revoked before answers {"revoked": 0}.
func (h *Hub) revokeCertificate(w http.ResponseWriter, r *http.Request, p principal) {
	serial, err := ParseSerial(r.PathValue("serial"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if _, err := h.st.GetCertificate(r.Context(), serial); errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no such certificate: "+serial)
		return
	} else if err != nil {
		h.internal(w, r, err)
		return
	}
	n, err := h.st.RevokeCertificates(r.Context(), store.CertificateFilter{Serial: serial}, h.cfg.Now())
	if err != nil {
		h.internal(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "certificate revoked", slog.String("serial", serial), slog.Int("count", n), slog.String("by", p.Name))
	writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
}

// CreateUserRequest creates a local account.
type CreateUserRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

func (h *Hub) createUser(w http.ResponseWriter, r *http.Request, p principal) {
	var req CreateUserRequest
	if !readJSON(w, r, 4<<10, &req) {
		return
	}
	if err := h.CreateUser(r.Context(), req.Name, req.Password, req.Role); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// CreateTokenRequest creates an API token. Expires (or its older name
// TTL) is read by ParseTokenExpiry: empty is DefaultAPITokenTTL, "never"
// or "0" no expiry.
type CreateTokenRequest struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	Expires string `json:"expires,omitempty"`
	TTL     string `json:"ttl,omitempty"`
}

func (h *Hub) createAPIToken(w http.ResponseWriter, r *http.Request, p principal) {
	var req CreateTokenRequest
	if !readJSON(w, r, 4<<10, &req) {
		return
	}
	if req.Expires != "" && req.TTL != "" {
		writeError(w, http.StatusBadRequest, "give expires or ttl, not both")
		return
	}
	ttl, err := ParseTokenExpiry(cmp.Or(req.Expires, req.TTL))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	tok, err := h.CreateAPIToken(r.Context(), req.Name, req.Role, ttl)
	if err != nil && tok == "" {
		h.fail(w, r, err)
		return
	}
	res := map[string]any{"token": tok}
	if ttl > 0 {
		res["expiresAt"] = h.cfg.Now().Add(ttl).UTC()
	}
	writeJSON(w, http.StatusCreated, res)
}

// PublishBundleRequest publishes a bundle; Content is base64 in JSON.
type PublishBundleRequest struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Cluster string `json:"cluster,omitempty"`
	Content []byte `json:"content"`
}

func (h *Hub) publishBundle(w http.ResponseWriter, r *http.Request, p principal) {
	var req PublishBundleRequest
	if !readJSON(w, r, 256<<20, &req) {
		return
	}
	b, err := h.PublishBundle(r.Context(), req.Kind, req.Name, req.Cluster, req.Content)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "bundle published", slog.String("kind", b.Kind), slog.String("name", b.Name), slog.Int64("version", b.Version), slog.String("by", p.Name))
	b.Content = nil
	writeJSON(w, http.StatusCreated, b)
}
