package reliability

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// topologySpreadInvalid: each topologySpreadConstraint a pod spec writes
// must be able to spread something (kube-score
// pod-topology-spread-constraints, which judges the constraints written,
// not their absence: that is no-topology-spread). A constraint is
// reported, once, with every fault found: no labelSelector (it counts no
// pods, so it spreads nothing), maxSkew below 1, no topologyKey, a
// whenUnsatisfiable other than DoNotSchedule or ScheduleAnyway, or a
// minDomains below 1 or beside ScheduleAnyway. The API server rejects all
// but the first; the first is accepted and silently does nothing.
func topologySpreadInvalid() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/topology-spread-invalid", Title: "Topology spread constraint cannot spread the pods", Severity: finding.SeverityLow,
		Description:     "A topology spread constraint without a labelSelector counts no pods in any domain, so it never spreads the replicas its author meant to keep apart; one with maxSkew below 1, no topologyKey, an unknown whenUnsatisfiable or a misplaced minDomains is rejected by the API server, so the rollout fails at apply time.",
		Remediation:     "Give each constraint a labelSelector matching the workload's pods, maxSkew of at least 1, a topologyKey, whenUnsatisfiable DoNotSchedule or ScheduleAnyway, and minDomains (at least 1) only with DoNotSchedule.",
		RemediationYAML: "topologySpreadConstraints:\n- maxSkew: 1\n  topologyKey: topology.kubernetes.io/zone\n  whenUnsatisfiable: ScheduleAnyway\n  labelSelector:\n    matchLabels: {app: web}",
		References:      []finding.Reference{refSpread}, Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			var out []rule.Violation
			for i, t := range w.Spec.TopologySpreadConstraints {
				if faults := spreadFaults(t); len(faults) > 0 {
					out = append(out, rule.Violation{Field: w.Field(fmt.Sprintf("topologySpreadConstraints[%d]", i)),
						Message: fmt.Sprintf("topology spread constraint %d: %s", i, strings.Join(faults, "; "))})
				}
			}
			return out
		},
	}
}

func spreadFaults(t corev1.TopologySpreadConstraint) []string {
	var faults []string
	if t.LabelSelector == nil {
		faults = append(faults, "no labelSelector, so it counts no pods and spreads nothing")
	}
	if t.MaxSkew < 1 {
		faults = append(faults, fmt.Sprintf("maxSkew %d is below 1", t.MaxSkew))
	}
	if strings.TrimSpace(t.TopologyKey) == "" {
		faults = append(faults, "no topologyKey")
	}
	switch t.WhenUnsatisfiable {
	case corev1.DoNotSchedule, corev1.ScheduleAnyway:
	default:
		faults = append(faults, fmt.Sprintf("whenUnsatisfiable %q is neither DoNotSchedule nor ScheduleAnyway", t.WhenUnsatisfiable))
	}
	if m := t.MinDomains; m != nil {
		if *m < 1 {
			faults = append(faults, fmt.Sprintf("minDomains %d is below 1", *m))
		}
		if t.WhenUnsatisfiable != corev1.DoNotSchedule {
			faults = append(faults, "minDomains is set without whenUnsatisfiable: DoNotSchedule")
		}
	}
	return faults
}
