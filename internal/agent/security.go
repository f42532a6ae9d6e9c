package agent

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/encryption"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/nodeaudit"
)

// What the agent reports about the cluster's security configuration for
// placement: each namespace's Pod Security enforce level, and how Secrets
// are stored at rest.

// enforceLabel is the Pod Security Admission label placement reads.
const enforceLabel = "pod-security.kubernetes.io/enforce"

// podSecurity maps every namespace in the informer cache to its enforce
// level ("" when unlabelled). Namespaces are watched whole, so label
// changes arrive as context changes and the next full evaluation reports
// the new inventory.
func (w *watcher) podSecurity() map[string]string {
	out := map[string]string{}
	for _, k := range w.kinds {
		if k.kind != "Namespace" {
			continue
		}
		for _, obj := range k.informer.GetStore().List() {
			if m, ok := obj.(metav1.Object); ok {
				out[m.GetName()] = m.GetLabels()[enforceLabel]
			}
		}
	}
	return out
}

// hostCheckEvery is how often the host's API server configuration is
// reviewed again (it rarely changes; every review stamps CheckedAt, which
// would otherwise re-send the inventory each evaluation).
const hostCheckEvery = time.Hour

// encryptionSource tells how Secrets are stored at rest. An agent inside
// the cluster cannot read etcd, so it never verifies anything itself; it
// reports, with the level each states:
//
//   - a report of `palisade cluster encryption -o json` run where etcd is
//     reachable (a file, e.g. a ConfigMap mounted as a volume): verified
//     only when that report read etcd. CheckedAt is the file's
//     modification time.
//   - else, with a read-only host tree of a control-plane node (HostRoot),
//     the API server's flags and EncryptionConfiguration: at most
//     "configured", never "verified".
//   - else nothing (nil: placement says "not reported").
//
// Both are read again at each full evaluation (every 10 minutes, and on
// changes to namespaces and other context objects); the host tree at most
// once an hour.
type encryptionSource struct {
	report, hostRoot string
	now              func() time.Time

	mu      sync.Mutex
	key     string // size and modification time of the report last read
	last    *fleetapi.EncryptionAtRest
	checked time.Time
}

func newEncryptionSource(report, hostRoot string) *encryptionSource {
	return &encryptionSource{report: report, hostRoot: hostRoot, now: time.Now}
}

// current returns what is known now; nil when no source is configured.
func (s *encryptionSource) current(ctx context.Context) *fleetapi.EncryptionAtRest {
	if s == nil || (s.report == "" && s.hostRoot == "") {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.report != "" {
		st, err := os.Stat(s.report)
		if err != nil {
			s.key, s.last = "", nil
			return unreadableReport(s.report, err)
		}
		key := fmt.Sprintf("%d/%d", st.Size(), st.ModTime().UnixNano())
		if key != s.key || s.last == nil {
			s.key, s.last = key, readEncryptionReport(s.report, st.ModTime(), s.now())
		}
		return s.last
	}
	if s.last == nil || s.now().Sub(s.checked) >= hostCheckEvery {
		s.checked = s.now().UTC().Truncate(time.Second)
		s.last = atRest(nodeaudit.AssessEncryption(ctx, s.hostRoot).AtRest(), s.checked, "host "+s.hostRoot)
	}
	return s.last
}

func unreadableReport(path string, err error) *fleetapi.EncryptionAtRest {
	return &fleetapi.EncryptionAtRest{Status: fleetapi.EncryptionUnknown, Verification: fleetapi.VerificationNone,
		Detail: fmt.Sprintf("encryption report unreadable: %v", err), Source: "report " + path}
}

func readEncryptionReport(path string, mtime, now time.Time) *fleetapi.EncryptionAtRest {
	f, err := os.Open(path)
	if err != nil {
		return unreadableReport(path, err)
	}
	defer func() { _ = f.Close() }()
	r, err := encryption.ReadReport(f)
	if err != nil {
		return unreadableReport(path, err)
	}
	// The report's own time when it has one: a mounted ConfigMap's file
	// time is when the kubelet wrote it, not when etcd was read.
	at := r.CheckedAt
	if at.IsZero() {
		at = mtime
	}
	if at.After(now.Add(maxClockSkew)) {
		return unreadableReport(path, fmt.Errorf("made at %s, in the future", at.UTC().Format(time.RFC3339)))
	}
	return atRest(r, at.UTC().Truncate(time.Second), "report "+path)
}

// maxClockSkew is how far in the future a report's time may be before it
// is refused (a time in the future would never grow old for placement).
const maxClockSkew = 5 * time.Minute

// atRest turns encryption's summary into the wire type, status by status,
// so that a status the hub does not know becomes unknown, and "verified"
// needs an etcd read.
func atRest(r encryption.AtRest, at time.Time, source string) *fleetapi.EncryptionAtRest {
	out := &fleetapi.EncryptionAtRest{Status: fleetapi.EncryptionUnknown, Verification: string(r.Level), Provider: r.Provider, CheckedAt: at, Detail: r.Detail, Source: source}
	switch r.Status {
	case encryption.StatusVerified:
		if r.Level == encryption.LevelEtcd {
			out.Status = fleetapi.EncryptionVerified
		}
	case encryption.StatusConfigured:
		out.Status = fleetapi.EncryptionConfigured
	case encryption.StatusNotEncrypted:
		out.Status = fleetapi.EncryptionNotEncrypted
	}
	return out
}
