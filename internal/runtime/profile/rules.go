package profile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
)

// Rule IDs of deviations from a locked profile.
const (
	RuleUnexpectedBinary     = "PAL-RT-009"
	RuleUnexpectedConnection = "PAL-RT-010"
)

// Rules is the deviations' metadata for the one catalogue (runtime.Rules
// lists it with the other runtime detections).
func Rules() []finding.RuleInfo {
	ref := finding.Reference{Title: "Palisade runtime sensor: workload profiles", URL: "https://github.com/palisade-sec/palisade/blob/main/docs/runtime.md#workload-profiles"}
	return []finding.RuleInfo{
		{ID: RuleUnexpectedBinary, Title: "Binary executed outside the workload's learned profile", Severity: finding.SeverityMedium,
			Description: "A container of the workload executed a binary that no container of it executed during the profile's learning window: new behaviour, as a foothold, an injected tool or an update that changed the image would show.",
			Remediation: "Find why the binary ran; if it is expected, restart the profile's learning window (POST /api/v1/runtime/profiles/learn).",
			References:  []finding.Reference{ref},
			Tags:        []string{"runtime", "profile"},
			Frameworks:  finding.Frameworks{NSA: []string{"logging.threat-detection"}}},
		{ID: RuleUnexpectedConnection, Title: "Connection outside the workload's learned profile", Severity: finding.SeverityMedium,
			Description: "The workload connected to, or accepted a connection from, a peer and port it did not use during the profile's learning window: an unauthorised service or outbound traffic (the edge whitepaper's 6.3 and 6.7).",
			Remediation: "Find the process that made the connection; if it is expected, restart the learning window. Generate least-privilege NetworkPolicies from the profile (palisade netpol generate --from-observed) so the cluster enforces it.",
			References:  []finding.Reference{ref},
			Tags:        []string{"runtime", "profile"},
			Frameworks:  finding.Frameworks{NSA: []string{"logging.threat-detection", "network.policies"}}},
	}
}

var ruleByID = func() map[string]finding.RuleInfo {
	m := map[string]finding.RuleInfo{}
	for _, r := range Rules() {
		m[r.ID] = r
	}
	return m
}()

// Deviation is one finding of an observation outside a locked profile.
// ID is stable for the profile's learning epoch, workload and item: a
// deviation seen again (from another node, after a replay) is the same
// finding, reported once until the profile is relearned.
type Deviation struct {
	ID string
	F  finding.Finding
}

// DeviationFindings are the findings of o against the locked profile p.
func DeviationFindings(cluster string, p *Profile, o *Observation) []Deviation {
	bins, conns := p.Deviations(o)
	out := make([]Deviation, 0, len(bins)+len(conns))
	obj := objectOf(o.Workload)
	add := func(rule, item, msg string) {
		info := ruleByID[rule]
		h := sha256.Sum256([]byte(cluster + "\x00" + p.Workload.Key() + "\x00" + strconv.FormatInt(p.LearnUntil.UnixMilli(), 10) + "\x00" + rule + "\x00" + item))
		out = append(out, Deviation{ID: "profile-" + hex.EncodeToString(h[:12]), F: finding.Finding{RuleID: rule, Severity: info.Severity, Title: info.Title,
			Message: msg, Object: obj, Remediation: info.Remediation}})
	}
	locked := p.LearnUntil.UTC().Format(time.RFC3339)
	for _, b := range bins {
		add(RuleUnexpectedBinary, b, fmt.Sprintf("%s executed %s, which is not in its profile (learned until %s)", o.Workload, b, locked))
	}
	for _, c := range conns {
		add(RuleUnexpectedConnection, c.Key(), fmt.Sprintf("%s: %s is not in its profile (learned until %s)", o.Workload, c, locked))
	}
	return out
}

// objectOf is the finding's object: the workload itself.
func objectOf(w Workload) finding.ObjectRef {
	ref := finding.ObjectRef{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name}
	switch w.Kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
		ref.APIVersion = "apps/v1"
	case "Job", "CronJob":
		ref.APIVersion = "batch/v1"
	case "Pod", "ReplicationController":
		ref.APIVersion = "v1"
	}
	return ref
}
