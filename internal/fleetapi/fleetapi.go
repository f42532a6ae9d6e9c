// Package fleetapi holds the wire types shared by the Palisade hub and its
// agents, and read by the dashboard: JSON over HTTPS, versioned by the URL
// prefix /api/v1. Types here carry no behaviour beyond validation, so both
// sides (and tests) agree on one definition.
package fleetapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
)

// Paths of the API. Agent paths need a client certificate issued by the
// hub; the enrol path needs a bootstrap token; the rest need a user session
// or an API token.
const (
	PathHealth  = "/healthz"
	PathEnroll  = "/api/v1/enroll"
	PathRenew   = "/api/v1/agent/renew"
	PathReports = "/api/v1/agent/reports"
	// PathReportBatch takes several outbox reports in one request and one
	// database transaction (ReportBatch); hubs without it answer 404 and
	// agents fall back to PathReports.
	PathReportBatch = "/api/v1/agent/reports/batch"
	PathHeartbeat   = "/api/v1/agent/heartbeat"
	PathBundles     = "/api/v1/agent/bundles"
	// PathBundleContent serves one bundle's content as raw bytes; the
	// query names it (BundleContentQuery).
	PathBundleContent = "/api/v1/agent/bundles/content"
	// PathCACert serves the hub CA's certificate (PEM) to anyone: browsers
	// and tools that trust it, operators checking the fingerprint.
	PathCACert = "/ca.crt"
)

// AgentALPN is the TLS application protocol agents offer (before
// http/1.1): a hub serving an operator's certificate to browsers
// (--tls-cert-file) answers the connections that offer it with the
// certificate of its own CA, which agents pin.
const AgentALPN = "palisade-agent/1"

// Envelope kinds: what a report carries.
const (
	KindFindings  = "findings"
	KindInventory = "inventory"
	KindImages    = "images"
	KindImageScan = "imagescan"
	KindAdmission = "admission"
	// KindRuntime carries a node's runtime sensor state and findings
	// (RuntimeReport).
	KindRuntime = "runtime"
)

// MaxReportBytes bounds one report body on the hub.
const MaxReportBytes = 32 << 20

// EnrollRequest exchanges a single-use bootstrap token and a CSR for a
// client certificate.
type EnrollRequest struct {
	Token string `json:"token"`
	// CSR is a PEM "CERTIFICATE REQUEST" for the agent's own key.
	CSR string `json:"csr"`
	// AgentVersion is informational.
	AgentVersion string `json:"agentVersion,omitempty"`
}

// EnrollResponse is the agent's identity.
type EnrollResponse struct {
	ClusterID   string `json:"clusterID"`
	ClusterName string `json:"clusterName"`
	AgentID     string `json:"agentID"`
	// Certificate is the PEM client certificate; CA the PEM hub CA.
	Certificate string `json:"certificate"`
	CA          string `json:"ca"`
	// BundleKey is the PEM (PKIX) ed25519 public key that signs bundles.
	BundleKey string    `json:"bundleKey"`
	NotAfter  time.Time `json:"notAfter"`
}

// RenewRequest asks for a fresh certificate for a new key (rotation).
type RenewRequest struct {
	CSR string `json:"csr"`
}

// Envelope is one report from an agent. Seq is per agent, strictly
// increasing; the hub applies an envelope at most once (it keeps the
// highest applied Seq per agent), so replays after an outage or restart are
// acknowledged without being counted again.
type Envelope struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	// Cluster, when set, must be the sender's own cluster ID: a report
	// naming another cluster is refused, never silently re-attributed.
	Cluster string `json:"cluster,omitempty"`
	// Dropped is the agent outbox's running count of reports dropped
	// because the outbox was full (oldest first).
	Dropped uint64 `json:"dropped,omitempty"`

	Findings  *FindingsDelta   `json:"findings,omitempty"`
	Inventory *Inventory       `json:"inventory,omitempty"`
	Images    *ImageSet        `json:"images,omitempty"`
	ImageScan *ImageScan       `json:"imageScan,omitempty"`
	Admission []AdmissionEvent `json:"admission,omitempty"`
	// ImageVerification is KindImageVerification's payload.
	ImageVerification *ImageVerification `json:"imageVerification,omitempty"`
	Runtime           *RuntimeReport     `json:"runtime,omitempty"`
}

// Validate checks that the envelope carries what its kind says.
func (e *Envelope) Validate() error {
	if e.Seq == 0 {
		return errors.New("seq must be positive")
	}
	var ok bool
	switch e.Kind {
	case KindFindings:
		ok = e.Findings != nil
	case KindInventory:
		ok = e.Inventory != nil
	case KindImages:
		ok = e.Images != nil
	case KindImageScan:
		ok = e.ImageScan != nil && e.ImageScan.Digest != ""
	case KindAdmission:
		ok = len(e.Admission) > 0
	case KindImageVerification:
		if e.ImageVerification == nil {
			break
		}
		if err := e.ImageVerification.Validate(); err != nil {
			return err
		}
		ok = true
	case KindRuntime:
		ok = e.Runtime != nil && e.Runtime.Node != "" && (e.Runtime.Sensor != nil || len(e.Runtime.Findings) > 0 || len(e.Runtime.Observations) > 0)
		if ok {
			if err := e.Runtime.validateObservations(); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unknown kind %q", e.Kind)
	}
	if !ok {
		return fmt.Errorf("kind %q without its payload", e.Kind)
	}
	return nil
}

// FindingsDelta replaces the findings of the objects it names. Objects
// listed with no findings are clean; Deleted objects are gone. When Full is
// set, the delta is the cluster's complete state: every object it does not
// name is cleared (sent after an agent restart or after outbox drops, so
// the hub converges whatever was lost).
type FindingsDelta struct {
	Full    bool                `json:"full,omitempty"`
	Objects []ObjectFindings    `json:"objects,omitempty"`
	Deleted []finding.ObjectRef `json:"deleted,omitempty"`
}

// ObjectFindings is the complete current set of findings of one object.
type ObjectFindings struct {
	Object finding.ObjectRef `json:"object"`
	// Digest, when set, is ObjectDigest of Findings as the agent encodes
	// them (SetDigest): the hub takes an object whose digest it already
	// stores for the cluster as unchanged, without hashing its findings
	// (internal/hub/store, objectdigest.go). A wrong digest can only hide
	// the changes of the sender's own cluster. Agents before it send
	// none, and the hub then computes it.
	Digest   string            `json:"digest,omitempty"`
	Findings []finding.Finding `json:"findings"`
	// Raw is, for a report read with DecodeReport, each finding's JSON
	// as received, in the order of Findings; nil otherwise.
	Raw [][]byte `json:"-"`
	// Partial, for a report read with DecodeReportBodyPartial, marks an
	// object whose findings hold only RuleID, Title, Severity, Line and
	// Suppressed (every other field zero; Suppression, if sent, empty)
	// until Complete decodes them whole from Raw. Its findings were
	// checked as a whole decode checks them, so Complete does not fail
	// on them.
	Partial bool `json:"-"`
}

// Inventory describes the cluster and its nodes.
type Inventory struct {
	KubernetesVersion string `json:"kubernetesVersion"`
	// Distribution is k3s, microk8s, kubeadm, eks, gke, aks, openshift,
	// rke2, kind or unknown.
	Distribution string   `json:"distribution"`
	Nodes        []Node   `json:"nodes"`
	Namespaces   int      `json:"namespaces"`
	Pods         int      `json:"pods"`
	Rules        []string `json:"rules,omitempty"` // rule IDs the agent evaluates
	AgentVersion string   `json:"agentVersion,omitempty"`
	// PodSecurity maps every namespace to its pod-security.kubernetes.io/
	// enforce level ("" when unlabelled); nil when not reported.
	PodSecurity map[string]string `json:"podSecurity,omitempty"`
	// EncryptionAtRest is what the agent verified about Secrets at rest;
	// nil when not reported (placement treats that as unknown).
	EncryptionAtRest *EncryptionAtRest `json:"encryptionAtRest,omitempty"`
}

// Encryption-at-rest statuses.
const (
	// EncryptionVerified: the stored values were read from etcd and every
	// Secret was encrypted (Verification is "etcd"; nothing else verifies).
	EncryptionVerified = "verified"
	// EncryptionConfigured: the API server's EncryptionConfiguration
	// encrypts new writes of Secrets, but the stored values were not read:
	// Secrets written before encryption was enabled may be plaintext.
	EncryptionConfigured = "configured"
	// EncryptionNotEncrypted: Secrets are stored, or written, as plaintext.
	EncryptionNotEncrypted = "not-encrypted"
	EncryptionUnknown      = "unknown" // could not be checked
)

// Verification levels of EncryptionAtRest, from most to least certain
// (those `palisade cluster encryption` states).
const (
	VerificationEtcd   = "etcd"   // raw stored values read from etcd
	VerificationConfig = "config" // the EncryptionConfiguration read
	VerificationFlags  = "flags"  // only the API server's flags seen
	VerificationNone   = "none"   // nothing read
)

// EncryptionAtRest is the result of checking how Secrets are stored.
type EncryptionAtRest struct {
	Status string `json:"status"`
	// Verification is how Status was established: etcd, config, flags or
	// none ("" from agents that did not say, which placement never takes
	// as verified).
	Verification string `json:"verification,omitempty"`
	// Provider: aescbc, aesgcm, secretbox, kms-v1, kms-v2 (several joined
	// by "+").
	Provider string `json:"provider,omitempty"`
	// CheckedAt is when the check ran: for a report file, when the file
	// was last written.
	CheckedAt time.Time `json:"checkedAt,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	// Source names where the agent got it: "report /path" or "host /root".
	Source string `json:"source,omitempty"`
}

// Node is what placement and the dashboard need about a node.
type Node struct {
	Name             string            `json:"name"`
	Architecture     string            `json:"architecture"`
	OS               string            `json:"os"`
	OSImage          string            `json:"osImage,omitempty"`
	KernelVersion    string            `json:"kernelVersion,omitempty"`
	KubeletVersion   string            `json:"kubeletVersion,omitempty"`
	ContainerRuntime string            `json:"containerRuntime,omitempty"`
	Labels           map[string]string `json:"labels,omitempty"`
	Capacity         map[string]string `json:"capacity,omitempty"`
	Allocatable      map[string]string `json:"allocatable,omitempty"`
	Conditions       map[string]string `json:"conditions,omitempty"` // type -> status
	// Requested is the sum of the resource requests of the pods scheduled
	// on the node (quantities as in Allocatable); nil when not reported.
	Requested     map[string]string `json:"requested,omitempty"`
	Unschedulable bool              `json:"unschedulable,omitempty"`
}

// ImageSet is the complete set of images running in the cluster; it
// replaces the previous set.
type ImageSet struct {
	Images []ImageUse `json:"images"`
}

// ImageUse is one image as used by the cluster's workloads.
type ImageUse struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest,omitempty"` // sha256:... when known
	// Workloads is how many workloads run it; Namespaces where.
	Workloads  int      `json:"workloads"`
	Namespaces []string `json:"namespaces,omitempty"`
}

// ImageScan is the result of scanning one image digest; it replaces the
// previous result for that digest in this cluster. A scan without a
// DBStamp was not matched against vulnerability data (the agent
// catalogued the image without a database; Error is ImageScanNotMatched):
// its empty Vulnerabilities mean nothing.
type ImageScan struct {
	Digest    string    `json:"digest"`
	Ref       string    `json:"ref,omitempty"`
	DBStamp   string    `json:"dbStamp,omitempty"` // vulnerability DB version used
	ScannedAt time.Time `json:"scannedAt"`
	// Vulnerabilities are findings with Vulnerability set.
	Vulnerabilities []finding.Finding `json:"vulnerabilities"`
	Error           string            `json:"error,omitempty"`
}

// ImageScanNotMatched is the Error of an image scan catalogued without a
// vulnerability database. Being an error, a hub that does not know it
// shows a failed scan, never a clean one.
const ImageScanNotMatched = "catalogued, not matched: no vulnerability database"

// AdmissionEvent is a decision of the cluster's admission controller.
type AdmissionEvent struct {
	Time       time.Time         `json:"time"`
	UID        string            `json:"uid,omitempty"` // dedupe key from the webhook
	Operation  string            `json:"operation"`
	Object     finding.ObjectRef `json:"object"`
	User       string            `json:"user,omitempty"`
	Decision   string            `json:"decision"` // allowed, denied, warned
	BreakGlass bool              `json:"breakGlass,omitempty"`
	Rules      []string          `json:"rules,omitempty"`
	Message    string            `json:"message,omitempty"`
}

// ReportResult acknowledges an envelope.
type ReportResult struct {
	Seq uint64 `json:"seq"`
	// Duplicate is true when the envelope had been applied before.
	Duplicate bool `json:"duplicate"`
	// Error, in a batch, is why the hub refused this envelope for good
	// (it is invalid); the agent drops it, as it does on a 400 for a
	// single report.
	Error string `json:"error,omitempty"`
}

// MaxBatchReports bounds the envelopes of one ReportBatch.
const MaxBatchReports = 64

// ReportBatch is several outbox reports of one agent, oldest first
// (strictly increasing Seq). The hub applies them in one transaction, each
// at most once, exactly as if they had been sent one by one; the answer
// has one result per envelope, in order. A database failure fails the
// whole batch (nothing applied), and the agent retries it.
type ReportBatch struct {
	// Dropped is the outbox's drop counter at sending time; it overrides
	// the envelopes' own (they were encoded when queued).
	Dropped   uint64     `json:"dropped,omitempty"`
	Envelopes []Envelope `json:"envelopes"`
}

// Validate checks the batch's shape; each envelope is validated on its
// own (an invalid one is refused alone).
func (b *ReportBatch) Validate() error {
	if len(b.Envelopes) == 0 {
		return errors.New("empty batch")
	}
	if len(b.Envelopes) > MaxBatchReports {
		return fmt.Errorf("%d reports in one batch, at most %d", len(b.Envelopes), MaxBatchReports)
	}
	for i := 1; i < len(b.Envelopes); i++ {
		if b.Envelopes[i].Seq <= b.Envelopes[i-1].Seq {
			return fmt.Errorf("report %d: seq %d after %d: not increasing", i, b.Envelopes[i].Seq, b.Envelopes[i-1].Seq)
		}
	}
	return nil
}

// BatchResult answers a ReportBatch: one result per envelope, in order.
type BatchResult struct {
	Results []ReportResult `json:"results"`
}

// Heartbeat is sent directly (not through the outbox).
type Heartbeat struct {
	Time         time.Time `json:"time"`
	AgentVersion string    `json:"agentVersion,omitempty"`
	// Pending reports in the outbox, and Dropped so far.
	Pending uint64 `json:"pending"`
	Dropped uint64 `json:"dropped"`
	// LastSeq is the highest Seq the agent has assigned.
	LastSeq uint64 `json:"lastSeq"`
	// Resync asks the hub for the highest Seq it applied from this agent
	// (HeartbeatResult.LastApplied): an agent whose reports are refused as
	// too far ahead (409) renumbers its queue after it.
	Resync bool `json:"resync,omitempty"`
}

// HeartbeatResult answers a heartbeat that asked to resync; other
// heartbeats (and hubs before it) are answered 204 No Content.
type HeartbeatResult struct {
	LastApplied *uint64 `json:"lastApplied,omitempty"`
}

// Bundle kinds distributed to agents.
const (
	BundlePolicy    = "policy"
	BundleAllowList = "allowlist"
	BundleRules     = "rules"
	BundleVulnDB    = "vulndb"
	// BundleAdmission is an AdmissionPolicy for each cluster's admission
	// webhook: agents write it into the webhook's ConfigMap.
	BundleAdmission = "admission"
)

// MaxInlineBundleBytes bounds the content the hub sends inside a
// BundleList. Larger bundles (vulnerability databases) are listed without
// Content and fetched as raw bytes from PathBundleContent, so neither end
// holds a large bundle in JSON, base64 or memory; small ones stay inline,
// which is what agents older than PathBundleContent read.
const MaxInlineBundleBytes = 256 << 10

// MaxInlineListBytes bounds the inline contents of one BundleList
// together (agents decode at most 16 MiB of a hub answer; base64 adds a
// third): bundles past it are listed without content.
const MaxInlineListBytes = 4 << 20

// Bundle is signed content for agents. SHA256 is the hex digest of the
// content; Signature is ed25519 over SigningPayload, which binds the
// SHA256, so a content fetched apart from its metadata is verified by
// hashing it. Content is set only for bundles of at most
// MaxInlineBundleBytes in a BundleList; Size is always the content's
// length (informational: it is not signed, the SHA-256 is).
type Bundle struct {
	Kind      string    `json:"kind"`
	Name      string    `json:"name"`
	Version   int64     `json:"version"`
	Cluster   string    `json:"cluster,omitempty"` // "" for every cluster
	SHA256    string    `json:"sha256"`
	Signature []byte    `json:"signature"`
	Size      int64     `json:"size,omitempty"`
	Content   []byte    `json:"content,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// BundleContentQuery names a bundle version for PathBundleContent. The hub
// keeps only the latest version of a bundle: an older one is a 404 (list
// again); another cluster's bundle is a 403.
func BundleContentQuery(b *Bundle) url.Values {
	return url.Values{"kind": {b.Kind}, "name": {b.Name}, "cluster": {b.Cluster}, "version": {strconv.FormatInt(b.Version, 10)}}
}

// validBundleName reports whether s may be a bundle's kind or name:
// agents use them as file names, and each is one line of the signed
// payload, so no path separator, no leading dot and no newline. It is
// the language ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ (FuzzValidBundleName
// holds it to that expression), checked without a regular expression:
// compiling that one, whose counted repetition expands to 128 copies,
// cost every start of the binary 118 KB and 1,694 allocations.
func validBundleName(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// CheckBundleName refuses a kind or name agents could not use safely; the
// hub checks it when a bundle is published, agents again when they verify.
func CheckBundleName(kind, name string) error {
	if !validBundleName(kind) || !validBundleName(name) {
		return fmt.Errorf("bundle %q/%q: kind and name must be letters, digits, '.', '_' and '-' (not first), at most 128", kind, name)
	}
	return nil
}

// SigningPayload is what the hub signs for a bundle: every field that
// decides how the agent uses it, so a signature cannot be moved to another
// kind, name, version or cluster.
func (b *Bundle) SigningPayload() []byte {
	return fmt.Appendf(nil, "palisade-bundle-v1\nkind=%s\nname=%s\nversion=%d\ncluster=%s\nsha256=%s\n",
		b.Kind, b.Name, b.Version, b.Cluster, b.SHA256)
}

// BundleList is the agent's view of its bundles.
type BundleList struct {
	Bundles []Bundle `json:"bundles"`
}

// ClusterState is how fresh a cluster's data is.
type ClusterState string

// Cluster states. A cluster is never shown online unless a heartbeat
// arrived within the stale threshold.
const (
	StateNeverSeen ClusterState = "never-seen"
	StateOnline    ClusterState = "online"
	StateStale     ClusterState = "stale"
	StateOffline   ClusterState = "offline"
	// StateRevoked is a cluster whose agents an operator revoked: its
	// data stops where the revocation found it, whatever last contact says.
	StateRevoked ClusterState = "revoked"
	// StateRefused is a cluster in contact whose reports the hub refuses
	// (over a quota, or its database unavailable): its data is not
	// current however recent its heartbeats.
	StateRefused ClusterState = "reports-refused"
)

// Error is the body of every non-2xx response.
type Error struct {
	Error string `json:"error"`
}

// Kubernetes Events carrying admission events from the webhook to the
// agent (the webhook runs apart from the agent; see internal/admission's
// KubeEventSink and internal/agent's admission event watch).
const (
	// KubeEventReportingComponent is the Events' reportingComponent (and
	// source.component): the agent watches by this field selector.
	KubeEventReportingComponent = "palisade-admission"
	// KubeEventReasonBreakGlass: the break-glass annotation admitted the
	// object; KubeEventReasonBreakGlassRefused: it was present but not
	// honoured for the requester.
	KubeEventReasonBreakGlass        = "PalisadeBreakGlass"
	KubeEventReasonBreakGlassRefused = "PalisadeBreakGlassRefused"
	// KubeEventAnnotation holds the webhook's admission event as JSON
	// (schema palisade.io/admission-event/v1, docs/admission.md).
	KubeEventAnnotation = "palisade.io/admission-event"
)

// The break-glass ledger: Kubernetes keeps Events about an hour, so an
// agent down longer would miss break-glass uses. The webhook therefore
// also appends each one to a ConfigMap (default
// palisade-system/palisade-break-glass-ledger), bounded to the newest
// MaxLedgerEntries entries and MaxLedgerBytes, which the agent reads when
// it starts and every LedgerPollSeconds; the hub keys admission events on
// (cluster, review UID), so an entry seen both as an Event and in the
// ledger is stored once.
const (
	BreakGlassLedgerName = "palisade-break-glass-ledger"
	MaxLedgerEntries     = 256
	MaxLedgerBytes       = 512 << 10
	LedgerPollSeconds    = 30
)

// LedgerEntry is one value of a ledger ConfigMap: the reason and the
// annotation JSON of the Event it copies. In the break-glass ledger, keys
// are "<unix nanoseconds, 19 digits>-<review UID>" (so they sort by time)
// and Event is the admission event JSON (KubeEventAnnotation); in the
// runtime ledger, RuntimeLedgerKey and the RuntimeReport JSON
// (KubeEventRuntimeAnnotation).
type LedgerEntry struct {
	Reason string          `json:"reason"`
	Event  json.RawMessage `json:"event"`
}
