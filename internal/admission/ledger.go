package admission

// The break-glass ledger (fleetapi.BreakGlassLedgerName): Events live
// about an hour in the API server, so an agent down longer would miss the
// break-glass uses of that time. Each one the sink writes as an Event is
// also appended here, a ConfigMap that does not expire, bounded to the
// newest fleetapi.MaxLedgerEntries entries and fleetapi.MaxLedgerBytes;
// the agent reads it at start and every fleetapi.LedgerPollSeconds and
// forwards what it has not forwarded yet. The ConfigMap must exist
// (deploy/admission creates it): the webhook only gets and updates that
// one object, so its RBAC names it (create cannot be limited to a name).
// Concurrent webhook replicas append with optimistic concurrency
// (resourceVersion), retrying on conflict.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// BreakGlassLedger appends break-glass events to the ledger ConfigMap.
type BreakGlassLedger struct {
	Client          kubernetes.Interface
	Namespace, Name string
}

// ledgerConflictRetries bounds the retries of an append that lost a race
// with another replica's; each waits a random, growing pause first, so
// replicas that collided do not collide again.
const ledgerConflictRetries = 16

// Append adds e (its Event reason and JSON) to the ledger and drops the
// oldest entries beyond the bounds, in one update.
func (l *BreakGlassLedger) Append(ctx context.Context, e *Event) error {
	ev := KubeEvent(e, "")
	raw := ev.Annotations[EventJSONAnnotation]
	val, err := json.Marshal(fleetapi.LedgerEntry{Reason: ev.Reason, Event: json.RawMessage(raw)})
	if err != nil {
		return err
	}
	key := LedgerKey(e.Time.UnixNano(), e.UID)
	cms := l.Client.CoreV1().ConfigMaps(l.Namespace)
	for i := range ledgerConflictRetries {
		if i > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("break-glass ledger %s/%s: %w", l.Namespace, l.Name, ctx.Err())
			case <-time.After(time.Duration(rand.IntN(10*i)+1) * time.Millisecond):
			}
		}
		cm, err := cms.Get(ctx, l.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("break-glass ledger %s/%s: %w", l.Namespace, l.Name, err)
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[key] = string(val)
		trimLedger(cm.Data)
		if _, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); err == nil {
			return nil
		} else if !apierrors.IsConflict(err) {
			return fmt.Errorf("break-glass ledger %s/%s: %w", l.Namespace, l.Name, err)
		}
	}
	return fmt.Errorf("break-glass ledger %s/%s: %d conflicting updates in a row", l.Namespace, l.Name, ledgerConflictRetries)
}

// LedgerKey is an entry's key: its time (19 digits, so keys sort by time)
// and the review UID reduced to the characters a ConfigMap key allows.
func LedgerKey(unixNano int64, uid string) string {
	clean := strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, uid)
	if len(clean) > 200 {
		clean = clean[:200]
	}
	return fmt.Sprintf("%019d-%s", max(unixNano, 0), clean)
}

// trimLedger drops the oldest entries (by key) until the ledger is within
// fleetapi.MaxLedgerEntries entries and fleetapi.MaxLedgerBytes.
func trimLedger(data map[string]string) {
	keys := make([]string, 0, len(data))
	size := 0
	for k, v := range data {
		keys = append(keys, k)
		size += len(k) + len(v)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if len(data) <= fleetapi.MaxLedgerEntries && size <= fleetapi.MaxLedgerBytes {
			return
		}
		size -= len(k) + len(data[k])
		delete(data, k)
	}
}
