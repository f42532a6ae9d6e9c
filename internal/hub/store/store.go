// Package store is the hub's database: every cluster's findings, images,
// vulnerabilities, nodes and admission events, the agents' identities and
// the users. Scan results live here and never in a cluster's etcd.
//
// Store is one interface with two backends: embedded SQLite (the default,
// pure Go, WAL; one hub process) and PostgreSQL (large fleets, several hub
// replicas). Neither keeps state in memory between calls, so any number of
// hub replicas may share one PostgreSQL database: deduplication of reports,
// single use of bootstrap tokens and certificate revocation are decided by
// the database inside transactions.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/runtime/profile"
)

// Errors callers branch on.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
	// ErrTokenRejected covers unknown, wrong, expired and already used
	// bootstrap tokens alike: the caller learns nothing about which.
	ErrTokenRejected = errors.New("bootstrap token rejected")
	// ErrWrongCluster is a report naming a cluster other than the sender's.
	ErrWrongCluster = errors.New("report names another cluster")
	// ErrSeqAdvance is a report whose Seq is further beyond the agent's
	// highest applied one than MaxSeqAdvance: no genuine agent can have
	// sent it (see MaxSeqAdvance).
	ErrSeqAdvance = errors.New("sequence number too far beyond the last applied report")
	// ErrInvalid marks input the caller got wrong (an empty or malformed
	// name, an unknown role or state): an API answers it with its message,
	// unlike database failures, whose text stays in the server log. Every
	// *ValidationError is an ErrInvalid.
	ErrInvalid = errors.New("invalid input")
	// ErrRevoked is a certificate asked for a cluster an operator revoked.
	ErrRevoked = errors.New("cluster revoked")
)

// RenewalTooSoon is a renewal refused because the cluster renewed less
// than the minimum interval ago; RetryAfter is how long to wait.
type RenewalTooSoon struct {
	Cluster    string
	RetryAfter time.Duration
}

func (e *RenewalTooSoon) Error() string {
	return fmt.Sprintf("cluster %s: renewed less than a minimum interval ago, retry in %s", e.Cluster, e.RetryAfter)
}

// ValidationError is input refused before it reaches the database. Its
// message names the field and says what is wanted; it never carries
// database text, so it may be shown to the caller.
type ValidationError struct {
	Field  string // e.g. "role", "name"
	Reason string // e.g. `"root": want viewer or admin`
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// Is makes errors.Is(err, ErrInvalid) true for every ValidationError.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Invalid returns a *ValidationError for field.
func Invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// MaxNameLen bounds the names of clusters, users, API tokens and bundles.
const MaxNameLen = 128

// CheckName refuses names that are empty, longer than MaxNameLen bytes,
// not UTF-8, padded with spaces or carrying control characters (which
// would forge lines in logs and terminals). field names the input in the
// error ("name", "cluster").
func CheckName(field, name string) error {
	switch {
	case name == "":
		return Invalid(field, "empty")
	case len(name) > MaxNameLen:
		return Invalid(field, "%d bytes, want at most %d", len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return Invalid(field, "not valid UTF-8")
	case strings.TrimSpace(name) != name:
		return Invalid(field, "%q has leading or trailing spaces", name)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return Invalid(field, "%q contains control characters", name)
	}
	return nil
}

// Store is the hub's storage. Times are stored with millisecond precision.
type Store interface {
	// Backend is "sqlite" or "postgres".
	Backend() string
	// SchemaVersion is the highest applied migration.
	SchemaVersion(ctx context.Context) (int, error)
	// WriteFailure is the failure that stopped the store's report
	// writes until the hub restarts (SQLite: a failed WAL sync), or nil.
	// Reads go on; readiness reports it.
	WriteFailure() error
	Close() error

	// Secret returns the hub secret called name (CA, bundle key), creating
	// it with create when absent. Replicas racing to create one all end up
	// with the first one stored.
	Secret(ctx context.Context, name string, create func() ([]byte, error)) ([]byte, error)

	// EnsureCluster returns the cluster called name, creating it if needed.
	EnsureCluster(ctx context.Context, name string, now time.Time) (Cluster, error)
	GetCluster(ctx context.Context, id string) (Cluster, error)
	ListClusters(ctx context.Context) ([]Cluster, error)
	// QueryClusters returns one page of clusters (by name) and how many
	// match in all: the dashboard's view of large fleets.
	QueryClusters(ctx context.Context, q ClusterQuery) ([]Cluster, int, error)
	// FleetSummary counts clusters by state and open findings by severity
	// over the whole fleet (from counters, not the findings table).
	FleetSummary(ctx context.Context, c StateCutoffs) (FleetSummary, error)

	CreateBootstrapToken(ctx context.Context, t BootstrapToken) error
	// EnrollAgent consumes the token (hash of its secret must match, not
	// expired, never used) and creates the agent in the token's cluster,
	// atomically. It returns the cluster.
	EnrollAgent(ctx context.Context, tokenID string, secretHash []byte, agent Agent, now time.Time) (Cluster, error)
	GetAgent(ctx context.Context, id string) (Agent, error)

	// RecordCertificate records an issued certificate unless its cluster
	// is revoked (ErrRevoked), in the transaction that checks it, so that
	// a certificate is either recorded before RevokeCluster (and revoked
	// by it) or refused. A renewal (minInterval > 0) is also refused with
	// *RenewalTooSoon when the cluster's last renewal is more recent than
	// minInterval before now.
	RecordCertificate(ctx context.Context, c Certificate, now time.Time, minInterval time.Duration) error
	// GetCertificate returns a certificate; its ClusterRevokedAt is its
	// cluster's revocation, which refuses it as much as its own.
	GetCertificate(ctx context.Context, serial string) (Certificate, error)
	// RevokeCluster marks the cluster revoked and revokes its
	// certificates in one transaction; it returns how many certificates
	// it revoked (ErrNotFound for an unknown cluster).
	RevokeCluster(ctx context.Context, clusterID string, now time.Time) (int, error)
	// RevokeCertificates revokes by serial, agent or cluster (exactly one
	// set) and returns how many were revoked.
	RevokeCertificates(ctx context.Context, f CertificateFilter, now time.Time) (int, error)

	// Ingest applies an envelope from agentID once: it returns applied
	// false for a Seq at or below the agent's highest applied one.
	Ingest(ctx context.Context, agentID string, env *fleetapi.Envelope, now time.Time) (applied bool, err error)
	// IngestBatch applies several envelopes of one agent (strictly
	// increasing Seq) in one transaction, each at most once as Ingest
	// would; applied[i] tells which were new. An error applies none.
	IngestBatch(ctx context.Context, agentID string, envs []*fleetapi.Envelope, now time.Time) (applied []bool, err error)
	Heartbeat(ctx context.Context, agentID string, hb fleetapi.Heartbeat, now time.Time) error
	// SetIngestLimits replaces the per-cluster quotas Ingest enforces
	// (DefaultIngestLimits until called): a report over one is refused
	// whole with a *QuotaError (ErrQuota).
	SetIngestLimits(l IngestLimits)
	// RecordQuotaRefusal counts a report of the cluster refused over a
	// quota, with the time and reason (Cluster.QuotaRefused).
	RecordQuotaRefusal(ctx context.Context, clusterID, reason string, now time.Time) error

	ListFindings(ctx context.Context, q FindingQuery) ([]Finding, error)
	CountFindings(ctx context.Context, q FindingQuery) (int, error)
	ListNodes(ctx context.Context, clusterID string) ([]fleetapi.Node, error)
	ListImages(ctx context.Context, clusterID string) ([]Image, error)
	// QueryImages returns one page of images in use (by ref, cluster) and
	// how many match in all.
	QueryImages(ctx context.Context, q ImageQuery) ([]Image, int, error)
	ImageVulnerabilities(ctx context.Context, clusterID, digest string) ([]ImageVulnerability, error)
	// ClustersAffectedBy lists the clusters running an image with the
	// vulnerability (by ID or alias, e.g. a CVE behind a GHSA).
	ClustersAffectedBy(ctx context.Context, vulnID string) ([]AffectedCluster, error)
	// ImageCoverage counts the images in use across the fleet whose
	// vulnerabilities ClustersAffectedBy cannot know.
	ImageCoverage(ctx context.Context) (ImageCoverage, error)
	Compliance(ctx context.Context) ([]RuleCompliance, error)
	// ClusterRuleStatus returns, per cluster, the rules its agent
	// evaluates and the objects failing each (frameworks.go).
	ClusterRuleStatus(ctx context.Context) ([]ClusterRules, error)
	// RecordFrameworkScores keeps each score that differs from the
	// cluster's last one for that framework; FrameworkScores returns
	// those recorded since a time, oldest first.
	RecordFrameworkScores(ctx context.Context, scores []FrameworkScore) error
	FrameworkScores(ctx context.Context, since time.Time) ([]FrameworkScore, error)
	// PruneFrameworkScores deletes points older than maxAge, then each
	// cluster's and framework's oldest beyond perSeries, at most
	// maxDeletes rows a call (zero: no limit); it returns how many went.
	PruneFrameworkScores(ctx context.Context, maxAge time.Duration, perSeries, maxDeletes int64, now time.Time) (int64, error)
	ListAdmissionEvents(ctx context.Context, q AdmissionQuery) ([]AdmissionEvent, error)
	// PruneAdmissionEvents applies r to the admission events of one
	// cluster (clusterID) or of all (""): events older than r.MaxAge are
	// deleted, then each cluster's oldest beyond r.PerCluster, which are
	// added to its AdmissionDropped. At most r.MaxDeletes rows go per
	// call; the result is how many went.
	PruneAdmissionEvents(ctx context.Context, clusterID string, r Retention, now time.Time) (int64, error)
	// ListRuntimeSensors returns the last state of each node's runtime
	// sensor of one cluster ("" all), by cluster and node.
	ListRuntimeSensors(ctx context.Context, clusterID string) ([]RuntimeSensor, error)
	// ListRuntimeFindings returns runtime findings, newest first.
	ListRuntimeFindings(ctx context.Context, q RuntimeQuery) ([]RuntimeFinding, error)
	// PruneRuntimeFindings is PruneAdmissionEvents for runtime findings
	// (the dropped ones counted in RuntimeDropped).
	PruneRuntimeFindings(ctx context.Context, clusterID string, r Retention, now time.Time) (int64, error)
	// RuntimeDropped returns, per cluster ID, the runtime findings pruned
	// over the cluster's quota.
	RuntimeDropped(ctx context.Context) (map[string]uint64, error)
	// ListRuntimeProfiles returns the learned workload profiles of one
	// cluster ("" all), by cluster and workload.
	ListRuntimeProfiles(ctx context.Context, clusterID string) ([]RuntimeProfile, error)
	// RelearnRuntimeProfile restarts a workload's learning window at now
	// (window > 0: the workload's own window; 0: its previous override or
	// the default) and returns the emptied profile; ErrNotFound for an
	// unknown cluster, a *QuotaError over the profiles quota.
	RelearnRuntimeProfile(ctx context.Context, clusterID string, w profile.Workload, window time.Duration, now time.Time) (profile.Profile, error)
	// PruneRuntimeProfiles deletes profiles not updated for maxAge, at
	// most maxDeletes (zero: no limit); it returns how many went.
	PruneRuntimeProfiles(ctx context.Context, maxAge time.Duration, maxDeletes int64, now time.Time) (int64, error)
	// RuntimeProfilesDropped returns, per cluster ID, the observations of
	// workloads not profiled over the profiles quota.
	RuntimeProfilesDropped(ctx context.Context) (map[string]uint64, error)

	// PruneImageScans applies r to the image scans of every cluster (see
	// ImageScanRetention) and returns how many it deleted, by reason.
	PruneImageScans(ctx context.Context, r ImageScanRetention, now time.Time) (PrunedScans, error)
	// QueryImageVerifications returns one page of images in use with the
	// Sigstore verification their agent reported, how many match, and
	// how many per cluster (see VerificationQuery).
	QueryImageVerifications(ctx context.Context, q VerificationQuery) ([]ImageVerificationRow, int, []VerificationSummary, error)
	// OldestTrustedRoots returns, per cluster, when the oldest Sigstore
	// trusted root its agent verified an image it runs with was written
	// (clusters with none are absent).
	OldestTrustedRoots(ctx context.Context) (map[string]time.Time, error)
	// PruneImageVerifications applies r to image verifications as
	// PruneImageScans does to scans.
	PruneImageVerifications(ctx context.Context, r ImageScanRetention, now time.Time) (PrunedScans, error)

	CreateUser(ctx context.Context, u User) error
	GetUserByName(ctx context.Context, name string) (User, error)
	// HasUsers reports whether any local account exists (the login page
	// of a new hub says how to create the first).
	HasUsers(ctx context.Context) (bool, error)
	// CreateSession stores s and, in the same transaction, deletes the
	// user's expired sessions and its oldest beyond keep, counting s,
	// which is never the one dropped (keep <= 0: no cap). This bounds the
	// table to users × keep however often anyone signs in.
	CreateSession(ctx context.Context, s Session, keep int) error
	// GetSession returns an unexpired session and its user.
	GetSession(ctx context.Context, idHash []byte, now time.Time) (Session, User, error)
	DeleteSession(ctx context.Context, idHash []byte) error
	CreateAPIToken(ctx context.Context, t APIToken) error
	// GetAPIToken returns an unexpired, unrevoked token.
	GetAPIToken(ctx context.Context, id string, now time.Time) (APIToken, error)

	// ListUsers lists the local accounts with their live session counts.
	ListUsers(ctx context.Context, now time.Time) ([]UserInfo, error)
	// UpdateUser applies ch to the account called name and returns it
	// and how many of its sessions ended (see UserChange). A change that
	// would leave no enabled admin is refused (ErrInvalid).
	UpdateUser(ctx context.Context, name string, ch UserChange, now time.Time) (User, int, error)
	// DeleteUser deletes the account and its sessions, unless it is the
	// last enabled admin (ErrInvalid); it returns the sessions ended.
	DeleteUser(ctx context.Context, name string) (int, error)
	// DeleteUserSessions ends every session of the account.
	DeleteUserSessions(ctx context.Context, name string) (int, error)
	// ListAPITokens lists every API token, revoked and expired ones too.
	ListAPITokens(ctx context.Context) ([]APIToken, error)
	// RevokeAPITokens revokes the token whose ID is ref, or else every
	// token called ref, and returns how many it revoked; ErrNotFound when
	// no token has that ID or name.
	RevokeAPITokens(ctx context.Context, ref string, now time.Time) (int, error)
	// TouchAPIToken records a use of the token, writing at most once a
	// minute per token.
	TouchAPIToken(ctx context.Context, id string, now time.Time) error
	// Lockouts returns the shared sign-in lockouts of keys (absent keys
	// have none); RecordLockout locks key until then (a later lock is
	// kept); UnlockLockouts lifts the keys' lockouts as of now, on every
	// replica; PruneLockouts deletes those ended and unlocked before
	// before. See lockouts.go.
	Lockouts(ctx context.Context, keys []string) (map[string]Lockout, error)
	RecordLockout(ctx context.Context, key string, until time.Time) error
	UnlockLockouts(ctx context.Context, keys []string, now time.Time) error
	PruneLockouts(ctx context.Context, before time.Time) (int64, error)
	// AddAuditEvent appends to the audit trail (ID filled in if empty).
	AddAuditEvent(ctx context.Context, e AuditEvent) error
	// ListAuditEvents returns the newest events first (limit 0: 200).
	ListAuditEvents(ctx context.Context, limit int) ([]AuditEvent, error)
	// LookupSecret returns the secret called name (ErrNotFound if none).
	LookupSecret(ctx context.Context, name string) ([]byte, error)
	// WipeSecret deletes the secret called name and, as far as the
	// backend allows, its bytes from the database files (SQLite: secure
	// delete and a truncating WAL checkpoint; PostgreSQL: VACUUM of the
	// table).
	WipeSecret(ctx context.Context, name string) error

	// PutBundle stores content as the next version of (kind, name,
	// cluster); sign is called with the version-stamped bundle to fill in
	// the signature inside the same transaction.
	PutBundle(ctx context.Context, b fleetapi.Bundle, sign func(*fleetapi.Bundle) error) (fleetapi.Bundle, error)
	// ListBundles returns the latest bundles for a cluster: its own and the
	// fleet-wide ones, each with its Size; Content only for those of at
	// most fleetapi.MaxInlineBundleBytes (the rest is never read).
	ListBundles(ctx context.Context, clusterID string) ([]fleetapi.Bundle, error)
	// GetBundle returns the latest version of one bundle with its
	// content, read as one value from the database (ErrNotFound if none).
	GetBundle(ctx context.Context, kind, name, cluster string) (fleetapi.Bundle, error)
	// GetBundleInfo returns the latest version of one bundle without
	// reading its content: version, SHA-256, signature, Size and
	// creation time (ErrNotFound if none).
	GetBundleInfo(ctx context.Context, kind, name, cluster string) (fleetapi.Bundle, error)
}

// Retention bounds the admission events agents write (they are the one
// table agents append to; the others are keyed by what the cluster runs
// and replaced by full reports). Zero fields do not limit.
type Retention struct {
	// PerCluster is the most events a cluster keeps.
	PerCluster int64
	// MaxAge deletes events older than this.
	MaxAge time.Duration
	// MaxDeletes bounds the rows one call deletes, so a prune never holds
	// the writer long; the next call continues.
	MaxDeletes int64
}

// Cluster is a registered cluster and what its agent last reported.
type Cluster struct {
	ID        string
	Name      string
	CreatedAt time.Time
	// LastSeen is the last heartbeat or report; zero if never.
	LastSeen          time.Time
	KubernetesVersion string
	Distribution      string
	Inventory         *fleetapi.Inventory
	// Dropped is the agent outbox's drop counter; Pending its backlog.
	Dropped, Pending uint64
	// AdmissionDropped counts the cluster's admission events the hub
	// deleted, oldest first, to keep it within its quota (Retention).
	AdmissionDropped uint64
	// Findings counts open (unsuppressed) findings by severity name.
	Findings map[string]int
	// FindingRows counts the cluster's findings rows, suppressed ones
	// too: what IngestLimits.FindingsPerCluster bounds.
	FindingRows int64
	// QuotaRefused counts the reports refused over a quota (IngestLimits);
	// QuotaRefusedAt is the last refusal, zero once a findings report was
	// applied since; QuotaReason says which quota.
	QuotaRefused   uint64
	QuotaRefusedAt time.Time
	QuotaReason    string
	// RevokedAt is when an operator revoked the cluster; zero if not.
	// Every agent request of a revoked cluster is refused, whatever
	// certificate it presents.
	RevokedAt time.Time
}

// State classifies a cluster by the age of its last contact: online
// within stale, stale within offline, offline after; never seen before
// any contact.
func (c Cluster) State(now time.Time, stale, offline time.Duration) fleetapi.ClusterState {
	switch age := now.Sub(c.LastSeen); {
	case !c.RevokedAt.IsZero():
		return fleetapi.StateRevoked
	case c.LastSeen.IsZero():
		return fleetapi.StateNeverSeen
	case age <= stale:
		return fleetapi.StateOnline
	case age <= offline:
		return fleetapi.StateStale
	default:
		return fleetapi.StateOffline
	}
}

// StateCutoffs turn the stale and offline thresholds into last-contact
// times: a cluster last seen at or after Stale is online, at or after
// Offline stale, before it offline.
type StateCutoffs struct {
	Stale, Offline time.Time
}

// Cutoffs computes the cut-offs at now; State agrees with them.
func Cutoffs(now time.Time, stale, offline time.Duration) StateCutoffs {
	return StateCutoffs{Stale: now.Add(-stale), Offline: now.Add(-offline)}
}

// ClusterQuery selects a page of clusters; Limit 0 means 100.
type ClusterQuery struct {
	// Search matches a substring of the name (case-insensitive).
	Search string
	// State keeps clusters in that state under Cutoffs ("" = all).
	State   fleetapi.ClusterState
	Cutoffs StateCutoffs
	Limit   int
	Offset  int
}

// FleetSummary is the fleet at a glance.
type FleetSummary struct {
	Clusters int
	// States counts clusters by state.
	States map[fleetapi.ClusterState]int
	// Findings counts open findings by severity name.
	Findings map[string]int
}

// ImageQuery selects a page of images in use; Limit 0 means 100.
type ImageQuery struct {
	ClusterID string
	Digest    string
	// Ref matches the image reference exactly.
	Ref string
	// Search matches a substring of the reference or digest.
	Search string
	Limit  int
	Offset int
}

// BootstrapToken is a single-use enrolment token; only the hash of its
// secret is stored.
type BootstrapToken struct {
	ID        string
	ClusterID string
	Hash      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Agent is an enrolled agent; LastSeq is its highest applied report.
type Agent struct {
	ID        string
	ClusterID string
	CreatedAt time.Time
	LastSeq   uint64
	LastSeen  time.Time
}

// Certificate is an issued client certificate.
type Certificate struct {
	Serial    string // lowercase hex
	ClusterID string
	AgentID   string
	NotBefore time.Time
	NotAfter  time.Time
	RevokedAt time.Time // zero if valid
	// ClusterRevokedAt is the revocation of the certificate's cluster.
	ClusterRevokedAt time.Time
	// RenewedFrom is the serial of the certificate that asked for this
	// one (renewals only): RecordCertificate refuses the renewal if that
	// certificate was revoked meanwhile.
	RenewedFrom string
}

// CertificateFilter selects certificates to revoke.
type CertificateFilter struct {
	Serial, AgentID, ClusterID string
}

// Finding is a stored finding.
type Finding struct {
	ClusterID string
	finding.Finding
	FirstSeen time.Time
	LastSeen  time.Time
}

// FindingQuery filters findings; zero fields match everything. Limit 0
// means 1000.
type FindingQuery struct {
	ClusterID   string
	RuleID      string
	Namespace   string
	MinSeverity finding.Severity
	// IncludeSuppressed lists suppressed findings too.
	IncludeSuppressed bool
	Limit, Offset     int
}

// Image is an image in use in a cluster, with its last scan.
type Image struct {
	ClusterID  string
	Ref        string
	Digest     string
	Workloads  int
	Namespaces []string
	ScannedAt  time.Time
	DBStamp    string
	ScanError  string
	// Vulnerabilities counts by severity name.
	Vulnerabilities map[string]int
}

// NotMatched says the image was scanned without vulnerability data (the
// agent catalogued it before it had a database): its zero counts mean
// nothing.
func (im Image) NotMatched() bool {
	return !im.ScannedAt.IsZero() && im.DBStamp == "" && im.ScanError == fleetapi.ImageScanNotMatched
}

// ScanFailed says the image's last scan failed (its counts mean nothing).
func (im Image) ScanFailed() bool { return im.ScanError != "" && !im.NotMatched() }

// ImageCoverage counts the images in use (a cluster's reference and
// digest, as ListImages lists them): in all, and those without a
// vulnerability match — not matched (Image.NotMatched), not scanned (no
// scan yet, or no digest), and whose scan failed.
type ImageCoverage struct {
	InUse, NotMatched, Unscanned, Failed int
}

// ImageVulnerability is one vulnerable package in an image.
type ImageVulnerability struct {
	ClusterID string
	Digest    string
	Severity  finding.Severity
	finding.Vulnerability
}

// AffectedCluster is a cluster running an affected image.
type AffectedCluster struct {
	ClusterID   string
	ClusterName string
	Digest      string
	Refs        []string
	Workloads   int
	Namespaces  []string
}

// RuleCompliance summarises one rule across the fleet.
type RuleCompliance struct {
	RuleID          string
	Title           string
	Severity        finding.Severity
	FailingClusters int
	FailingObjects  int
	// EvaluatingClusters reported this rule as evaluated (inventory).
	EvaluatingClusters int
}

// AdmissionQuery filters admission events; Limit 0 means 1000.
type AdmissionQuery struct {
	ClusterID      string
	Decision       string
	BreakGlassOnly bool
	Since          time.Time
	Limit          int
}

// AdmissionEvent is a stored admission decision.
type AdmissionEvent struct {
	ClusterID string
	fleetapi.AdmissionEvent
}

// Roles of human users and API tokens.
const (
	RoleViewer = "viewer"
	RoleAdmin  = "admin"
)

// User is a local account; PasswordHash is a PHC-format argon2id string.
type User struct {
	ID           string
	Name         string
	PasswordHash string
	Role         string
	CreatedAt    time.Time
	// DisabledAt is when an admin disabled the account; zero if enabled.
	// A disabled account has no sessions and cannot sign in.
	DisabledAt time.Time
}

// UserInfo is a user as the account lists show it.
type UserInfo struct {
	User
	// Sessions counts the user's unexpired sessions.
	Sessions int
}

// UserChange changes one account; nil fields stay. Every change but
// enabling ends the user's sessions in the same transaction: a password
// that leaked, a role taken away or a disabled account must not live on
// in a browser.
type UserChange struct {
	PasswordHash *string
	Role         *string
	Disabled     *bool
}

// AuditEvent is one change to accounts or credentials (users, API
// tokens, sessions, lockouts, keys), kept for the dashboard.
type AuditEvent struct {
	ID     string
	Time   time.Time
	Actor  string // who did it: a user name, "token:NAME", "cli" or "hub"
	Action string // e.g. "user.disable", "token.revoke"
	Target string // the user, token or source acted on
	Detail string
}

// Session is a login session; only the hash of its ID is stored.
type Session struct {
	IDHash    []byte
	UserID    string
	CSRFToken string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// APIToken is an automation token; only the hash of its secret is stored.
type APIToken struct {
	ID        string
	Name      string
	Role      string
	Hash      []byte
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
	// RevokedAt is when it was revoked (zero: not); LastUsedAt its last
	// use, to the minute (zero: never used).
	RevokedAt  time.Time
	LastUsedAt time.Time
}

// ValidRole reports whether r names a role.
func ValidRole(r string) bool { return r == RoleViewer || r == RoleAdmin }

// checkRole is ValidRole as a ValidationError.
func checkRole(r string) error {
	if !ValidRole(r) {
		return Invalid("role", "%q: want viewer or admin", r)
	}
	return nil
}
