package fleetapi

import (
	"fmt"
	"time"
)

// The runtime ledger: Kubernetes keeps Events about an hour, so an agent
// down longer would miss the runtime findings the node sensors wrote as
// Events in that time. Each node sensor therefore also keeps its newest
// RuntimeLedgerPerNode distinct findings (an identical finding, by rule,
// container and message, keeps only its newest entry) in one ConfigMap
// (default palisade-system/palisade-runtime-ledger), written by
// server-side apply with a field manager per node, so nodes never
// overwrite each other's entries and need no read-modify-write; the
// ConfigMap must exist (deploy/runtime creates it), since creating it
// would need a create permission RBAC cannot limit to a name. Keys are
// RuntimeLedgerKey; values are LedgerEntry{Reason:
// KubeEventReasonRuntimeFinding, Event: the RuntimeReport JSON of the
// finding's Event}. The agent reads the ConfigMap when it starts and
// every LedgerPollSeconds and forwards the entries it has not forwarded;
// the hub keys runtime findings on (cluster, ID), so a finding seen both
// as an Event and in the ledger is stored once.
const (
	RuntimeLedgerName    = "palisade-runtime-ledger"
	RuntimeLedgerPerNode = 16
	// MaxRuntimeLedgerValue bounds one entry (the finding's message is
	// cut to fit): 16 entries per node stay within 32 KiB, so the
	// ConfigMap's 1 MiB holds about 30 nodes at their full 16 (fewer
	// entries per node, --runtime-ledger-findings, for larger clusters).
	MaxRuntimeLedgerValue = 2048
	// RuntimeLedgerFieldManagerPrefix, followed by the node's name (or a
	// hash of a long one), is the field manager of that node's entries.
	RuntimeLedgerFieldManagerPrefix = "palisade-runtime/"
)

// RuntimeLedgerKey is an entry's key: its time (19 digits, so keys sort
// by time) and the finding's ID (hexadecimal, a valid ConfigMap key).
func RuntimeLedgerKey(t time.Time, id string) string {
	return fmt.Sprintf("%019d.%s", max(t.UnixNano(), 0), id)
}
