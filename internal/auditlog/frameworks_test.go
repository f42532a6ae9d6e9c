package auditlog

import "testing"

// TestFrameworkTableNamesDetections: a renamed detection must not keep a
// stale mapping while the renamed one has none.
func TestFrameworkTableNamesDetections(t *testing.T) {
	known := map[string]bool{}
	for _, d := range Detections() {
		known[d.ID] = true
		if d.Frameworks.IsZero() {
			t.Errorf("%s: no framework mapping", d.ID)
		}
	}
	for id := range detectionFrameworks() {
		if !known[id] {
			t.Errorf("framework mapping for %s: no such detection", id)
		}
	}
}
