package runtimenode

// The node sensor's Events as their readers see them: the agent, which
// forwards them through its outbox, and the ledger's reader. The sensor
// writes them (node.go, observe.go).

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// Bounds of a node sensor Event as its readers accept it: one
// annotation's JSON, findings per Event, a finding's message (longer ones
// are cut).
const (
	maxRuntimeAnnotation = 64 << 10
	maxRuntimeFindings   = 16
	maxRuntimeMessage    = 2048
)

// ReportFromEvent reads one node sensor Event (the agent forwards it
// to the hub; the ledger keeps findings in the same form); an Event that is not
// one, or whose report cannot be read, is an error naming it.
func ReportFromEvent(ev *corev1.Event) (fleetapi.RuntimeReport, error) {
	var rep fleetapi.RuntimeReport
	where := "event " + ev.Namespace + "/" + ev.Name
	if ev.Reason != fleetapi.KubeEventReasonRuntimeFinding && ev.Reason != fleetapi.KubeEventReasonRuntimeState && ev.Reason != fleetapi.KubeEventReasonRuntimeObservations {
		return rep, fmt.Errorf("%s: reason %q is not a Palisade runtime event", where, ev.Reason)
	}
	raw := ev.Annotations[fleetapi.KubeEventRuntimeAnnotation]
	if raw == "" {
		return rep, fmt.Errorf("%s: no %s annotation", where, fleetapi.KubeEventRuntimeAnnotation)
	}
	if len(raw) > maxRuntimeAnnotation {
		return rep, fmt.Errorf("%s: annotation %s of %d bytes, over %d", where, fleetapi.KubeEventRuntimeAnnotation, len(raw), maxRuntimeAnnotation)
	}
	if err := json.Unmarshal([]byte(raw), &rep); err != nil {
		return rep, fmt.Errorf("%s: annotation %s: %w", where, fleetapi.KubeEventRuntimeAnnotation, err)
	}
	if rep.Node == "" {
		return rep, fmt.Errorf("%s: runtime report names no node", where)
	}
	if len(rep.Findings) > maxRuntimeFindings {
		return rep, fmt.Errorf("%s: %d runtime findings in one Event, over %d", where, len(rep.Findings), maxRuntimeFindings)
	}
	if ev.Reason == fleetapi.KubeEventReasonRuntimeObservations {
		return rep, checkObservationEvent(where, &rep)
	}
	if (ev.Reason == fleetapi.KubeEventReasonRuntimeState) != (rep.Sensor != nil) || (rep.Sensor == nil && len(rep.Findings) == 0) || len(rep.Observations) > 0 {
		return rep, fmt.Errorf("%s: reason %s does not match its report", where, ev.Reason)
	}
	for i := range rep.Findings {
		f := &rep.Findings[i]
		if f.ID == "" || f.F.RuleID == "" {
			return rep, fmt.Errorf("%s: runtime finding %d without an ID or rule", where, i)
		}
		if len(f.F.Message) > maxRuntimeMessage {
			f.F.Message = f.F.Message[:maxRuntimeMessage]
		}
	}
	return rep, nil
}

// checkObservationEvent checks an observations Event's report: only
// observations, each valid (the hub would refuse the whole report).
func checkObservationEvent(where string, rep *fleetapi.RuntimeReport) error {
	if rep.Sensor != nil || len(rep.Findings) > 0 || len(rep.Observations) == 0 {
		return fmt.Errorf("%s: reason %s does not match its report", where, fleetapi.KubeEventReasonRuntimeObservations)
	}
	if len(rep.Observations) > maxObservationsPerEvent {
		return fmt.Errorf("%s: %d observations in one Event, over %d", where, len(rep.Observations), maxObservationsPerEvent)
	}
	for i := range rep.Observations {
		if err := rep.Observations[i].Validate(); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	return nil
}

// maxObservationsPerEvent bounds one Event's observations (a 48 KiB
// annotation holds far fewer of any real size).
const maxObservationsPerEvent = 256

// SplitReport keeps each report within the hub's bound on
// observations; findings and the state travel with the first.
func SplitReport(r *fleetapi.RuntimeReport) []*fleetapi.RuntimeReport {
	if len(r.Observations) <= maxObservationsPerEvent {
		return []*fleetapi.RuntimeReport{r}
	}
	first := *r
	first.Observations = r.Observations[:maxObservationsPerEvent]
	out := []*fleetapi.RuntimeReport{&first}
	for rest := r.Observations[maxObservationsPerEvent:]; len(rest) > 0; {
		k := min(len(rest), maxObservationsPerEvent)
		out = append(out, &fleetapi.RuntimeReport{Node: r.Node, Observations: rest[:k]})
		rest = rest[k:]
	}
	return out
}
