package hub

import (
	"bytes"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// The dashboard is server-rendered HTML from embedded templates and one
// stylesheet: no JavaScript, no external resources, so it works offline
// and under a Content-Security-Policy that allows nothing but this origin's
// stylesheet and images. It reads the store directly (same process) and
// shares the API's sessions: the session cookie set by the login form is
// the one the API accepts. Forms carry the session's CSRF token in a
// hidden field; the login form carries a double-submit token.

//go:embed web
var webFS embed.FS

const (
	loginCookie = "__Host-palisade-login"
	pageSize    = 50
)

// dashboard holds the parsed templates: one set per page, each with the
// layout.
type dashboard struct {
	pages  map[string]*template.Template
	static http.Handler
}

func newDashboard() (*dashboard, error) {
	funcs := template.FuncMap{
		"ago":      ago,
		"utc":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"short":    shortDigest,
		"deref":    func(t *time.Time) time.Time { return *t },
		"join":     strings.Join,
		"sevClass": func(s string) string { return "sev-" + strings.ToLower(s) },
		"sevs":     func() []string { return []string{"CRITICAL", "HIGH", "MEDIUM", "LOW"} },
		"lower":    strings.ToLower,
		"pathEsc":  url.PathEscape,
		"add":      func(a, b int) int { return a + b },
		"score":    func(f *float64) float64 { return *f },
		"pct": func(n, d int) int {
			if d <= 0 {
				return 0
			}
			return min(100, n*100/d)
		},
	}
	names, err := fs.Glob(webFS, "web/templates/*.html")
	if err != nil {
		return nil, err
	}
	d := &dashboard{pages: map[string]*template.Template{}}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(webFS, "web/templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("dashboard template %s: %w", base, err)
		}
		d.pages[strings.TrimSuffix(base, ".html")] = t
	}
	static, err := fs.Sub(webFS, "web/static")
	if err != nil {
		return nil, err
	}
	d.static = http.StripPrefix("/static/", http.FileServer(http.FS(filesOnly{static})))
	return d, nil
}

// filesOnly hides the directories of an fs.FS, so a file server over it
// answers 404 for them instead of listing what they hold.
type filesOnly struct{ fs.FS }

func (f filesOnly) Open(name string) (fs.File, error) {
	file, err := f.FS.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := file.Stat()
	if err != nil || st.IsDir() {
		_ = file.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return file, nil
}

func shortDigest(d string) string {
	if alg, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return alg + ":" + hex[:12]
	}
	return d
}

// ago renders a duration in the past for people.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm ago", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd ago", int(d.Hours()/24))
	}
}

// page is what every page's template gets besides its own data.
type page struct {
	Title string
	Nav   string
	User  string
	Role  string
	CSRF  string
	Now   time.Time
	Error string
	D     any
}

// Admin reports whether the viewer may use the admin forms.
func (p page) Admin() bool { return p.Role == store.RoleAdmin }

// viewer is the signed-in user of a dashboard request.
type viewer struct {
	Name, Role string
	Session    store.Session
}

func (h *Hub) routeDashboard(mux *http.ServeMux) {
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.dash.static.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /login", h.loginPage)
	mux.HandleFunc("POST /login", h.loginForm)
	mux.Handle("POST /logout", h.dashPage(store.RoleViewer, h.logoutForm))
	mux.Handle("GET /{$}", h.dashPage(store.RoleViewer, h.overviewPage))
	mux.Handle("GET /clusters/{id}", h.dashPage(store.RoleViewer, h.clusterPage))
	mux.Handle("GET /findings", h.dashPage(store.RoleViewer, h.findingsPage))
	mux.Handle("GET /images", h.dashPage(store.RoleViewer, h.imagesPage))
	mux.Handle("GET /images/{digest}", h.dashPage(store.RoleViewer, h.imagePage))
	mux.Handle("GET /provenance", h.dashPage(store.RoleViewer, h.provenancePage))
	mux.Handle("GET /vulnerabilities", h.dashPage(store.RoleViewer, h.vulnSearchPage))
	mux.Handle("GET /compliance", h.dashPage(store.RoleViewer, h.compliancePage))
	mux.Handle("GET /frameworks", h.dashPage(store.RoleViewer, h.frameworksPage))
	mux.Handle("GET /admission", h.dashPage(store.RoleViewer, h.admissionPage))
	mux.Handle("GET /runtime", h.dashPage(store.RoleViewer, h.runtimePage))
	mux.Handle("GET /admin", h.dashPage(store.RoleAdmin, h.adminPage))
	mux.Handle("POST /admin/clusters", h.dashPage(store.RoleAdmin, h.adminCreateCluster))
	mux.Handle("POST /admin/users", h.dashPage(store.RoleAdmin, h.adminCreateUser))
	mux.Handle("POST /admin/tokens", h.dashPage(store.RoleAdmin, h.adminCreateToken))
	h.routeAdminAccounts(mux)
	mux.HandleFunc("GET /api/", func(w http.ResponseWriter, r *http.Request) { writeError(w, http.StatusNotFound, "no such endpoint") })
	mux.Handle("GET /", h.dashPage(store.RoleViewer, func(w http.ResponseWriter, r *http.Request, v viewer) {
		h.render(w, r, http.StatusNotFound, "error", v, page{Title: "Not found", Error: "There is no page at " + r.URL.Path + "."})
	}))
}

// render writes a page; templates run into a buffer so a failure is a
// clean 500, never half a page.
func (h *Hub) render(w http.ResponseWriter, r *http.Request, status int, name string, v viewer, p page) {
	t := h.dash.pages[name]
	p.User, p.Role, p.CSRF, p.Now = v.Name, v.Role, v.Session.CSRFToken, h.cfg.Now()
	var buf bytes.Buffer
	if t == nil {
		h.log.ErrorContext(r.Context(), "no template", slog.String("page", name))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		h.log.ErrorContext(r.Context(), "render", slog.String("page", name), slog.Any("error", err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (h *Hub) pageError(w http.ResponseWriter, r *http.Request, v viewer, err error) {
	h.log.ErrorContext(r.Context(), "dashboard error", slog.String("path", r.URL.Path), slog.Any("error", err))
	h.render(w, r, http.StatusInternalServerError, "error", v, page{Title: "Error", Error: "Something went wrong on the hub; the error is in its log."})
}

// dashPage admits a signed-in user with at least role; anonymous visitors
// go to the login page. Unsafe methods need the session's CSRF token in
// the form and, when the browser says where the request comes from, this
// origin.
func (h *Hub) dashPage(role string, next func(http.ResponseWriter, *http.Request, viewer)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		var se store.Session
		var u store.User
		if err == nil && c.Value != "" {
			se, u, err = h.st.GetSession(r.Context(), hashSecret(c.Value), h.cfg.Now())
		}
		if err != nil || c.Value == "" {
			if r.Method != http.MethodGet {
				http.Error(w, "login required", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		v := viewer{Name: u.Name, Role: u.Role, Session: se}
		r = r.WithContext(WithActor(r.Context(), u.Name))
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !sameOrigin(r) {
				h.render(w, r, http.StatusForbidden, "error", v, page{Title: "Forbidden", Error: "Cross-site form submission refused."})
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				h.render(w, r, http.StatusBadRequest, "error", v, page{Title: "Bad request", Error: "Malformed form."})
				return
			}
			if got := r.PostForm.Get("csrf"); got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(se.CSRFToken)) != 1 {
				h.render(w, r, http.StatusForbidden, "error", v, page{Title: "Forbidden", Error: "Missing or wrong CSRF token: reload the page and try again."})
				return
			}
		}
		if role == store.RoleAdmin && u.Role != store.RoleAdmin {
			h.render(w, r, http.StatusForbidden, "error", v, page{Title: "Forbidden", Error: "This page needs the admin role."})
			return
		}
		next(w, r, v)
	})
}

// sameOrigin refuses requests that the browser marks as coming from
// another site (Sec-Fetch-Site, Origin). Requests without either header
// (non-browser clients) rely on the CSRF token alone.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	} else if o == "null" {
		return false
	}
	return true
}

// safeNext keeps post-login redirects on this site: it returns next only
// when it is a clean absolute path (with an optional query) of this host,
// and "/" otherwise. Browsers drop tabs and newlines from URLs and read a
// backslash as a slash, so "/\t/evil.example" or "/\\evil.example" would
// leave the site: any control character, space or backslash is refused,
// as is anything that parses with a scheme, host or user.
func safeNext(next string) string {
	const maxNext = 2048
	if len(next) == 0 || len(next) > maxNext || next[0] != '/' || strings.HasPrefix(next, "//") {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c <= ' ' || c == 0x7f || c == '\\' || c >= 0x80 {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	return next
}

// ---- login

type loginData struct {
	Next, Token, Username string
	// CAFingerprint is shown beside the CA download link.
	CAFingerprint string
	// NoUsers: the hub has no account yet, so the page says how to
	// create the first instead of leaving the operator to guess.
	NoUsers bool
}

// noUsers reports whether the hub has no account; a store error counts as
// "has users" (the hint is help, never a reason to fail the page).
func (h *Hub) noUsers(r *http.Request) bool {
	has, err := h.st.HasUsers(r.Context())
	return err == nil && !has
}

func (h *Hub) loginPage(w http.ResponseWriter, r *http.Request) {
	tok := randomSecret()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: tok, Path: "/", MaxAge: 600, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	h.render(w, r, http.StatusOK, "login", viewer{}, page{Title: "Sign in", D: loginData{Next: safeNext(r.URL.Query().Get("next")), Token: tok, NoUsers: h.noUsers(r), CAFingerprint: h.CAFingerprint()}})
}

func (h *Hub) loginForm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	fail := func(status int, msg string) {
		tok := randomSecret()
		http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: tok, Path: "/", MaxAge: 600, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		h.render(w, r, status, "login", viewer{}, page{Title: "Sign in", Error: msg, D: loginData{Next: next, Token: tok, Username: r.PostForm.Get("username"), NoUsers: h.noUsers(r), CAFingerprint: h.CAFingerprint()}})
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || !sameOrigin(r) || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostForm.Get("token"))) != 1 {
		fail(http.StatusForbidden, "The sign-in form expired; please try again.")
		return
	}
	u, out, wait, err := h.checkLogin(r, "dashboard-login", r.PostForm.Get("username"), r.PostForm.Get("password"))
	switch out {
	case loginThrottled:
		s := retryAfter(w, wait)
		fail(http.StatusTooManyRequests, fmt.Sprintf("Too many failed sign-ins. Try again in %s.", time.Duration(s)*time.Second))
		return
	case loginBusy:
		w.Header().Set("Retry-After", "1")
		fail(http.StatusServiceUnavailable, "The hub is busy signing others in; please try again.")
		return
	case loginError:
		h.pageError(w, r, viewer{}, err)
		return
	case loginWrong:
		fail(http.StatusUnauthorized, "Wrong user name or password.")
		return
	}
	now := h.cfg.Now()
	sid := randomSecret()
	se := store.Session{IDHash: hashSecret(sid), UserID: u.ID, CSRFToken: randomSecret(), CreatedAt: now, ExpiresAt: now.Add(h.cfg.SessionTTL)}
	if err := h.st.CreateSession(r.Context(), se, h.cfg.MaxSessionsPerUser); err != nil {
		h.pageError(w, r, viewer{}, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sid, Path: "/", Expires: se.ExpiresAt, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Hub) logoutForm(w http.ResponseWriter, r *http.Request, v viewer) {
	if err := h.st.DeleteSession(r.Context(), v.Session.IDHash); err != nil {
		h.pageError(w, r, v, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// ---- shared view types

// clusterRow is a cluster as the pages show it. Since is when the
// current state began: for stale and offline clusters, when the last
// contact became too old; the findings of a cluster that is not online
// are as of LastSeen and are shown as such.
type clusterRow struct {
	ID, Name     string
	State        string
	Since        time.Time
	LastSeen     time.Time
	CreatedAt    time.Time
	Version      string
	Distribution string
	Nodes, Pods  int
	Findings     map[string]int
	Pending      uint64
	Dropped      uint64
	// AdmissionDropped: admission events dropped over the cluster's quota.
	AdmissionDropped uint64
	Online           bool
	// Refused says why the cluster's reports are refused (since
	// RefusedSince), empty if they are not; FindingRows and
	// QuotaRefused are its findings rows and reports refused over quota.
	Refused      string
	RefusedSince time.Time
	FindingRows  int64
	QuotaRefused uint64
}

func (h *Hub) row(c store.Cluster) clusterRow {
	st := c.State(h.cfg.Now(), h.cfg.StaleAfter, h.cfg.OfflineAfter)
	reason, since := h.reportsRefused(c)
	shown := refusedState(st, reason)
	r := clusterRow{ID: c.ID, Name: c.Name, State: string(shown), LastSeen: c.LastSeen, CreatedAt: c.CreatedAt,
		Version: c.KubernetesVersion, Distribution: c.Distribution, Findings: c.Findings, Pending: c.Pending, Dropped: c.Dropped,
		AdmissionDropped: c.AdmissionDropped, Online: shown == fleetapi.StateOnline, FindingRows: c.FindingRows, QuotaRefused: c.QuotaRefused}
	if shown == fleetapi.StateRefused {
		r.Refused, r.RefusedSince = reason, since
	}
	switch st {
	case fleetapi.StateOnline:
		r.Since = c.LastSeen
	case fleetapi.StateStale:
		r.Since = c.LastSeen.Add(h.cfg.StaleAfter)
	case fleetapi.StateOffline:
		r.Since = c.LastSeen.Add(h.cfg.OfflineAfter)
	default:
		r.Since = c.CreatedAt
	}
	if c.Inventory != nil {
		r.Nodes, r.Pods = len(c.Inventory.Nodes), c.Inventory.Pods
	}
	return r
}

// pager links the pages of a list.
type pager struct {
	Total, Offset, Limit int
	Path                 string
	Query                url.Values
}

func (p pager) From() int { return min(p.Total, p.Offset+1) }
func (p pager) To() int   { return min(p.Total, p.Offset+p.Limit) }
func (p pager) link(offset int) string {
	q := url.Values{}
	for k, v := range p.Query {
		q[k] = v
	}
	q.Del("offset")
	if offset > 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
	if len(q) == 0 {
		return p.Path
	}
	return p.Path + "?" + q.Encode()
}

// Prev and Next are "" at the ends.
func (p pager) Prev() string {
	if p.Offset <= 0 {
		return ""
	}
	return p.link(max(0, p.Offset-p.Limit))
}

func (p pager) Next() string {
	if p.Offset+p.Limit >= p.Total {
		return ""
	}
	return p.link(p.Offset + p.Limit)
}

func offsetParam(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("offset"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// clusterNames resolves cluster IDs to names for a page of rows.
func (h *Hub) clusterNames(r *http.Request, ids ...string) map[string]clusterRow {
	out := map[string]clusterRow{}
	for _, id := range ids {
		if _, ok := out[id]; ok || id == "" {
			continue
		}
		if c, err := h.st.GetCluster(r.Context(), id); err == nil {
			out[id] = h.row(c)
		} else {
			out[id] = clusterRow{ID: id, Name: id, State: "unknown"}
		}
	}
	return out
}

// ---- pages

type overviewData struct {
	Summary  store.FleetSummary
	States   []stateCount
	Clusters []clusterRow
	Pager    pager
	Search   string
	State    string
	// First is the way to register the first cluster, shown while the
	// fleet is empty.
	First firstCluster
}

// firstCluster is what the empty fleet page needs to say how to register
// a cluster: where agents reach this hub and the CA they pin.
type firstCluster struct {
	HubURL, Fingerprint string
}

// firstCluster takes the hub's address from the request: the name and
// port the operator's browser used, which agents can usually use too.
func (h *Hub) firstCluster(r *http.Request) firstCluster {
	host := r.Host
	if host == "" || strings.ContainsAny(host, " \t\r\n\"'<>") {
		host = "HUB:8443"
	}
	return firstCluster{HubURL: "https://" + host, Fingerprint: h.CAFingerprint()}
}

type stateCount struct {
	State string
	N     int
}

func (h *Hub) overviewPage(w http.ResponseWriter, r *http.Request, v viewer) {
	q := r.URL.Query()
	cut := store.Cutoffs(h.cfg.Now(), h.cfg.StaleAfter, h.cfg.OfflineAfter)
	cq := store.ClusterQuery{Search: strings.TrimSpace(q.Get("q")), State: fleetapi.ClusterState(q.Get("state")), Cutoffs: cut, Limit: pageSize, Offset: offsetParam(r)}
	cs, total, err := h.st.QueryClusters(r.Context(), cq)
	if errors.Is(err, store.ErrInvalid) {
		h.render(w, r, http.StatusBadRequest, "error", v, page{Title: "Bad request", Error: err.Error()})
		return
	}
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	sum, err := h.st.FleetSummary(r.Context(), cut)
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	d := overviewData{Summary: sum, Search: cq.Search, State: string(cq.State), First: h.firstCluster(r),
		Pager: pager{Total: total, Offset: cq.Offset, Limit: pageSize, Path: "/", Query: q}}
	for _, st := range []fleetapi.ClusterState{fleetapi.StateOnline, fleetapi.StateStale, fleetapi.StateOffline, fleetapi.StateNeverSeen} {
		d.States = append(d.States, stateCount{State: string(st), N: sum.States[st]})
	}
	for _, c := range cs {
		d.Clusters = append(d.Clusters, h.row(c))
	}
	h.render(w, r, http.StatusOK, "overview", v, page{Title: "Fleet", Nav: "fleet", D: d})
}

type nodeRow struct {
	fleetapi.Node
	Ready string
}

type clusterData struct {
	C         clusterRow
	Inventory *fleetapi.Inventory
	Nodes     []nodeRow
	Images    int
}

func (h *Hub) clusterPage(w http.ResponseWriter, r *http.Request, v viewer) {
	c, err := h.st.GetCluster(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		h.render(w, r, http.StatusNotFound, "error", v, page{Title: "Not found", Error: "No such cluster."})
		return
	}
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	nodes, err := h.st.ListNodes(r.Context(), c.ID)
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	_, nimg, err := h.st.QueryImages(r.Context(), store.ImageQuery{ClusterID: c.ID, Limit: 1})
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	d := clusterData{C: h.row(c), Inventory: c.Inventory, Images: nimg}
	for _, n := range nodes {
		ready := n.Conditions["Ready"]
		if ready == "" {
			ready = "Unknown"
		}
		d.Nodes = append(d.Nodes, nodeRow{Node: n, Ready: ready})
	}
	h.render(w, r, http.StatusOK, "cluster", v, page{Title: c.Name, Nav: "fleet", D: d})
}

type findingRow struct {
	store.Finding
	Cluster clusterRow
}

type findingsData struct {
	Rows     []findingRow
	Pager    pager
	Filter   store.FindingQuery
	Severity string
	Cluster  *clusterRow
}

func (h *Hub) findingsPage(w http.ResponseWriter, r *http.Request, v viewer) {
	q := r.URL.Query()
	fq := store.FindingQuery{ClusterID: q.Get("cluster"), RuleID: strings.TrimSpace(q.Get("rule")), Namespace: strings.TrimSpace(q.Get("namespace")),
		IncludeSuppressed: q.Get("suppressed") == "true", Limit: pageSize, Offset: offsetParam(r)}
	d := findingsData{Severity: strings.ToUpper(q.Get("severity"))}
	if d.Severity != "" {
		sev, err := finding.ParseSeverity(d.Severity)
		if err != nil {
			h.render(w, r, http.StatusBadRequest, "error", v, page{Title: "Bad request", Error: err.Error()})
			return
		}
		fq.MinSeverity = sev
	}
	total, err := h.st.CountFindings(r.Context(), fq)
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	fs, err := h.st.ListFindings(r.Context(), fq)
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	ids := []string{fq.ClusterID}
	for _, f := range fs {
		ids = append(ids, f.ClusterID)
	}
	names := h.clusterNames(r, ids...)
	for _, f := range fs {
		d.Rows = append(d.Rows, findingRow{Finding: f, Cluster: names[f.ClusterID]})
	}
	if fq.ClusterID != "" {
		c := names[fq.ClusterID]
		d.Cluster = &c
	}
	d.Filter, d.Pager = fq, pager{Total: total, Offset: fq.Offset, Limit: pageSize, Path: "/findings", Query: q}
	h.render(w, r, http.StatusOK, "findings", v, page{Title: "Findings", Nav: "findings", D: d})
}

type imageRow struct {
	store.Image
	Cluster clusterRow
}

type imagesData struct {
	Rows    []imageRow
	Pager   pager
	Search  string
	Cluster *clusterRow
}

func (h *Hub) imagesPage(w http.ResponseWriter, r *http.Request, v viewer) {
	q := r.URL.Query()
	iq := store.ImageQuery{ClusterID: q.Get("cluster"), Search: strings.TrimSpace(q.Get("q")), Limit: pageSize, Offset: offsetParam(r)}
	ims, total, err := h.st.QueryImages(r.Context(), iq)
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	ids := []string{iq.ClusterID}
	for _, im := range ims {
		ids = append(ids, im.ClusterID)
	}
	names := h.clusterNames(r, ids...)
	d := imagesData{Search: iq.Search, Pager: pager{Total: total, Offset: iq.Offset, Limit: pageSize, Path: "/images", Query: q}}
	for _, im := range ims {
		d.Rows = append(d.Rows, imageRow{Image: im, Cluster: names[im.ClusterID]})
	}
	if iq.ClusterID != "" {
		c := names[iq.ClusterID]
		d.Cluster = &c
	}
	h.render(w, r, http.StatusOK, "images", v, page{Title: "Images", Nav: "images", D: d})
}

type vulnRow struct {
	store.ImageVulnerability
	Clusters []clusterRow
}

type imageData struct {
	Digest string
	Uses   []imageRow
	Vulns  []vulnRow
	Counts map[string]int
	// NotMatched are the clusters whose scan of the image had no
	// vulnerability data; Matched says another cluster's scan had.
	NotMatched []clusterRow
	Matched    bool
}

func (h *Hub) imagePage(w http.ResponseWriter, r *http.Request, v viewer) {
	digest := r.PathValue("digest")
	uses, _, err := h.st.QueryImages(r.Context(), store.ImageQuery{Digest: digest, Limit: 500})
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	vs, err := h.st.ImageVulnerabilities(r.Context(), r.URL.Query().Get("cluster"), digest)
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	var ids []string
	for _, u := range uses {
		ids = append(ids, u.ClusterID)
	}
	for _, x := range vs {
		ids = append(ids, x.ClusterID)
	}
	names := h.clusterNames(r, ids...)
	d := imageData{Digest: digest, Counts: map[string]int{}}
	for _, u := range uses {
		d.Uses = append(d.Uses, imageRow{Image: u, Cluster: names[u.ClusterID]})
		switch {
		case u.NotMatched():
			d.NotMatched = append(d.NotMatched, names[u.ClusterID])
		case !u.ScannedAt.IsZero() && !u.ScanFailed():
			d.Matched = true
		}
	}
	// One row per (vulnerability, package, version); the clusters whose
	// scans reported it are listed on it.
	idx := map[string]int{}
	for _, x := range vs {
		k := x.ID + "\x00" + x.Package.Name + "\x00" + x.Installed
		if i, ok := idx[k]; ok {
			d.Vulns[i].Clusters = append(d.Vulns[i].Clusters, names[x.ClusterID])
			continue
		}
		idx[k] = len(d.Vulns)
		d.Vulns = append(d.Vulns, vulnRow{ImageVulnerability: x, Clusters: []clusterRow{names[x.ClusterID]}})
		d.Counts[x.Severity.String()]++
	}
	if len(uses) == 0 && len(vs) == 0 {
		h.render(w, r, http.StatusNotFound, "error", v, page{Title: "Not found", Error: "No cluster runs or scanned image " + digest + "."})
		return
	}
	h.render(w, r, http.StatusOK, "image", v, page{Title: "Image " + shortDigest(digest), Nav: "images", D: d})
}

// NormaliseVulnID writes advisory IDs the way databases spell them:
// CVE-, GO- and similar prefixes upper case; GHSA IDs as GHSA- followed by
// lower case.
func NormaliseVulnID(id string) string {
	id = strings.TrimSpace(id)
	up := strings.ToUpper(id)
	if strings.HasPrefix(up, "GHSA-") {
		return "GHSA-" + strings.ToLower(id[5:])
	}
	for _, p := range []string{"CVE-", "GO-", "PYSEC-", "RUSTSEC-", "DSA-", "DLA-", "USN-", "ALSA-", "RHSA-"} {
		if strings.HasPrefix(up, p) {
			return up
		}
	}
	return id
}

type affectedRow struct {
	store.AffectedCluster
	Cluster clusterRow
}

type vulnSearchData struct {
	Query    string
	Searched bool
	Rows     []affectedRow
	Clusters int
	// Coverage counts the images in use the search cannot speak for.
	Coverage store.ImageCoverage
}

func (h *Hub) vulnSearchPage(w http.ResponseWriter, r *http.Request, v viewer) {
	d := vulnSearchData{Query: NormaliseVulnID(r.URL.Query().Get("q"))}
	if d.Query != "" {
		d.Searched = true
		as, err := h.st.ClustersAffectedBy(r.Context(), d.Query)
		if err != nil {
			h.pageError(w, r, v, err)
			return
		}
		if len(as) == 0 && d.Query != strings.TrimSpace(r.URL.Query().Get("q")) { // stored as typed
			if as, err = h.st.ClustersAffectedBy(r.Context(), strings.TrimSpace(r.URL.Query().Get("q"))); err != nil {
				h.pageError(w, r, v, err)
				return
			}
		}
		var ids []string
		for _, a := range as {
			ids = append(ids, a.ClusterID)
		}
		if d.Coverage, err = h.st.ImageCoverage(r.Context()); err != nil {
			h.pageError(w, r, v, err)
			return
		}
		names := h.clusterNames(r, ids...)
		seen := map[string]bool{}
		for _, a := range as {
			d.Rows = append(d.Rows, affectedRow{AffectedCluster: a, Cluster: names[a.ClusterID]})
			if !seen[a.ClusterID] {
				seen[a.ClusterID] = true
				d.Clusters++
			}
		}
	}
	h.render(w, r, http.StatusOK, "vulnerabilities", v, page{Title: "Vulnerability search", Nav: "vulns", D: d})
}

type complianceRow struct {
	store.RuleCompliance
	Passing int
}

func (h *Hub) compliancePage(w http.ResponseWriter, r *http.Request, v viewer) {
	rs, err := h.st.Compliance(r.Context())
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	rows := make([]complianceRow, 0, len(rs))
	for _, x := range rs {
		rows = append(rows, complianceRow{RuleCompliance: x, Passing: max(0, x.EvaluatingClusters-x.FailingClusters)})
	}
	// Most failing clusters first, then by severity and ID.
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.FailingClusters != b.FailingClusters {
			return a.FailingClusters > b.FailingClusters
		}
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		return a.RuleID < b.RuleID
	})
	h.render(w, r, http.StatusOK, "compliance", v, page{Title: "Compliance", Nav: "compliance", D: rows})
}

type admissionRow struct {
	store.AdmissionEvent
	Cluster clusterRow
}

type admissionData struct {
	Rows    []admissionRow
	View    string
	Cluster *clusterRow
	Limit   int
}

func (h *Hub) admissionPage(w http.ResponseWriter, r *http.Request, v viewer) {
	q := r.URL.Query()
	d := admissionData{View: q.Get("view"), Limit: 200}
	aq := store.AdmissionQuery{ClusterID: q.Get("cluster"), Limit: d.Limit}
	switch d.View {
	case "break-glass":
		aq.BreakGlassOnly = true
	case "all":
	default:
		d.View, aq.Decision = "denied", "denied"
	}
	evs, err := h.st.ListAdmissionEvents(r.Context(), aq)
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	ids := []string{aq.ClusterID}
	for _, e := range evs {
		ids = append(ids, e.ClusterID)
	}
	names := h.clusterNames(r, ids...)
	for _, e := range evs {
		d.Rows = append(d.Rows, admissionRow{AdmissionEvent: e, Cluster: names[e.ClusterID]})
	}
	if aq.ClusterID != "" {
		c := names[aq.ClusterID]
		d.Cluster = &c
	}
	h.render(w, r, http.StatusOK, "admission", v, page{Title: "Admission", Nav: "admission", D: d})
}

// ---- admin

type adminData struct {
	// Created is shown once after a form succeeded.
	CreatedCluster *createdCluster
	CreatedToken   string
	Message        string
	// The accounts, tokens and audit trail (filled by renderAdmin).
	Users  []store.UserInfo
	Tokens []TokenView
	Events []store.AuditEvent
}

type createdCluster struct {
	Name, ID, Token, Fingerprint, HubURL string
	Expires                              time.Time
}

func (h *Hub) adminPage(w http.ResponseWriter, r *http.Request, v viewer) {
	h.renderAdmin(w, r, v, http.StatusOK, "", adminData{})
}

func (h *Hub) adminFailed(w http.ResponseWriter, r *http.Request, v viewer, msg string) {
	h.renderAdmin(w, r, v, http.StatusBadRequest, msg, adminData{})
}

// adminActionFailed shows the form's error as the API's fail does: the
// caller's mistakes (store.ErrInvalid, store.ErrConflict) with their
// message, anything else as the generic error page.
func (h *Hub) adminActionFailed(w http.ResponseWriter, r *http.Request, v viewer, err error) {
	switch {
	case errors.Is(err, store.ErrInvalid):
		h.adminFailed(w, r, v, err.Error())
	case errors.Is(err, store.ErrConflict):
		h.renderAdmin(w, r, v, http.StatusConflict, err.Error(), adminData{})
	case errors.Is(err, store.ErrNotFound):
		h.renderAdmin(w, r, v, http.StatusNotFound, err.Error(), adminData{})
	default:
		h.pageError(w, r, v, err)
	}
}

func formTTL(s string, def time.Duration) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("TTL %q: want a duration such as 1h or 30m", s)
	}
	return d, nil
}

func (h *Hub) adminCreateCluster(w http.ResponseWriter, r *http.Request, v viewer) {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	ttl, err := formTTL(r.PostForm.Get("ttl"), time.Hour)
	if err != nil {
		h.adminFailed(w, r, v, err.Error())
		return
	}
	tok, c, err := h.CreateBootstrapToken(r.Context(), name, ttl)
	if err != nil {
		h.adminActionFailed(w, r, v, err)
		return
	}
	h.log.InfoContext(r.Context(), "bootstrap token created", slog.String("cluster", c.Name), slog.String("by", v.Name))
	h.renderAdmin(w, r, v, http.StatusCreated, "", adminData{
		CreatedCluster: &createdCluster{Name: c.Name, ID: c.ID, Token: tok, Fingerprint: h.CAFingerprint(), Expires: h.cfg.Now().Add(ttl), HubURL: h.firstCluster(r).HubURL}})
}

func (h *Hub) adminCreateUser(w http.ResponseWriter, r *http.Request, v viewer) {
	name, role := strings.TrimSpace(r.PostForm.Get("name")), r.PostForm.Get("role")
	if err := h.CreateUser(r.Context(), name, r.PostForm.Get("password"), role); err != nil {
		h.adminActionFailed(w, r, v, err)
		return
	}
	h.renderAdmin(w, r, v, http.StatusCreated, "", adminData{Message: fmt.Sprintf("User %s created with role %s.", name, role)})
}

func (h *Hub) adminCreateToken(w http.ResponseWriter, r *http.Request, v viewer) {
	name, role := strings.TrimSpace(r.PostForm.Get("name")), r.PostForm.Get("role")
	ttl, err := ParseTokenExpiry(r.PostForm.Get("ttl"))
	if err == nil && name == "" {
		err = errors.New("token name is empty")
	}
	if err != nil {
		h.adminFailed(w, r, v, err.Error())
		return
	}
	tok, err := h.CreateAPIToken(r.Context(), name, role, ttl)
	if tok == "" {
		h.adminActionFailed(w, r, v, err)
		return
	}
	h.renderAdmin(w, r, v, http.StatusCreated, "", adminData{CreatedToken: tok,
		Message: fmt.Sprintf("API token %s (%s) created; it is shown once.", name, role)})
}
