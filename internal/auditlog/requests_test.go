package auditlog

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// stage writes one stage of a request as the API server logs it.
func stage(t testing.TB, id, stg, user, verb, sub string, code int, at time.Time) map[string]any {
	e := map[string]any{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": id, "stage": stg,
		"verb": verb, "requestURI": "/api/v1/namespaces/shop/pods/web/" + sub, "user": map[string]any{"username": user},
		"objectRef":                map[string]any{"resource": "pods", "namespace": "shop", "name": "web", "apiVersion": "v1", "subresource": sub},
		"requestReceivedTimestamp": at.Format(time.RFC3339Nano), "stageTimestamp": at.Format(time.RFC3339Nano)}
	if stg != "RequestReceived" {
		e["responseStatus"] = map[string]any{"code": code}
	}
	return e
}

// TestEveryStageCounts: long-running requests may log only
// ResponseStarted (or RequestReceived); a request logged in several stages
// or several times is one finding, judged on its most complete stage.
func TestEveryStageCounts(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	later := t0.Add(3 * time.Hour)
	tests := []struct {
		name   string
		events []map[string]any
		want   []string // rule and the status the message shows
	}{
		{"exec ResponseStarted only", []map[string]any{stage(t, "e1", "ResponseStarted", "alice", "create", "exec", 101, t0)},
			[]string{"audit/pod-exec status 101"}},
		{"attach RequestReceived only", []map[string]any{stage(t, "a1", "RequestReceived", "alice", "create", "attach", 0, t0)},
			[]string{"audit/pod-attach status 0"}},
		{"portforward get, all stages, one finding on the final one", []map[string]any{
			stage(t, "p1", "RequestReceived", "alice", "get", "portforward", 0, t0),
			stage(t, "p1", "ResponseStarted", "alice", "get", "portforward", 101, t0),
			stage(t, "p1", "ResponseComplete", "alice", "get", "portforward", 200, t0.Add(time.Second)),
		}, []string{"audit/pod-portforward status 200"}},
		{"exec whose session ends hours later: judged once, on ResponseStarted", []map[string]any{
			stage(t, "e2", "RequestReceived", "alice", "create", "exec", 0, t0),
			stage(t, "e2", "ResponseStarted", "alice", "create", "exec", 101, t0),
			stage(t, "x1", "ResponseComplete", "bob", "get", "", 200, later), // the window passes
			stage(t, "e2", "ResponseComplete", "alice", "create", "exec", 101, later.Add(time.Second)),
		}, []string{"audit/pod-exec status 101"}},
		{"Panic stage is final", []map[string]any{stage(t, "e3", "Panic", "alice", "create", "exec", 500, t0)},
			[]string{"audit/pod-exec status 500"}},
		{"the same event twice (a log read twice) is one request", []map[string]any{
			stage(t, "e4", "ResponseComplete", "alice", "create", "exec", 101, t0),
			stage(t, "e4", "ResponseComplete", "alice", "create", "exec", 101, t0),
		}, []string{"audit/pod-exec status 101"}},
		{"two requests are two findings", []map[string]any{
			stage(t, "e5", "ResponseStarted", "alice", "create", "exec", 101, t0),
			stage(t, "e6", "ResponseStarted", "alice", "create", "exec", 101, t0),
		}, []string{"audit/pod-exec status 101", "audit/pod-exec status 101"}},
		{"an exec reusing a harmless request's auditID (Audit-ID header) is not a duplicate", []map[string]any{
			stage(t, "same", "ResponseComplete", "alice", "get", "", 200, t0),
			stage(t, "same", "ResponseStarted", "alice", "create", "exec", 101, t0),
			stage(t, "same", "ResponseComplete", "alice", "create", "exec", 101, t0),
		}, []string{"audit/pod-exec status 101"}},
		{"a waiting request without times does not hold back the window of later ones", []map[string]any{
			stage(t, "nt", "ResponseStarted", "alice", "create", "attach", 101, time.Time{}),
			stage(t, "e8", "ResponseStarted", "alice", "create", "exec", 101, t0),
			stage(t, "x2", "ResponseComplete", "bob", "get", "", 200, later), // the window passes for e8
			stage(t, "e8", "ResponseComplete", "alice", "create", "exec", 200, later),
		}, []string{"audit/pod-attach status 101", "audit/pod-exec status 101"}},
		{"out-of-order stages: a late RequestReceived does not replace the final stage", []map[string]any{
			stage(t, "e7", "ResponseComplete", "alice", "create", "exec", 403, t0),
			stage(t, "e7", "RequestReceived", "alice", "create", "exec", 0, t0),
		}, []string{"audit/pod-exec status 403"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, a := analyze(t, []byte(jsonLines(t, tc.events, nil)), Reader{})
			var short []string
			for _, g := range got {
				rule := strings.Fields(g)[0]
				if strings.HasPrefix(rule, "custom/") {
					continue // the shapes test's custom detection
				}
				i := strings.Index(g, "(status ")
				if i < 0 {
					t.Fatalf("message without status: %s", g)
				}
				short = append(short, rule+" status "+strings.TrimSuffix(strings.Fields(g[i+1:])[1], ")"))
			}
			if strings.Join(short, ",") != strings.Join(tc.want, ",") {
				t.Errorf("findings = %q, want %q", short, tc.want)
			}
			if a.Report.Summary.Errors > 0 {
				t.Errorf("problems: %+v", a.Report.Problems)
			}
		})
	}
}

// TestRequestTrackerIsBounded: waiting requests and remembered auditIDs
// stay within their bounds, and none is lost when the bound evicts it.
func TestRequestTrackerIsBounded(t *testing.T) {
	tr := newRequestTracker(time.Hour)
	judged := 0
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	big := make([]byte, 1<<20)
	n := maxTrackedRequests + 1000
	for i := range n {
		ev := &Event{AuditID: fmt.Sprint(i), Stage: "ResponseStarted", StageTimestamp: t0}
		if i%1000 == 0 {
			ev.RequestObject = big // 201 MiB of bodies in all: past maxPendingBytes
		}
		tr.add(Record{Event: ev}, func(Record) { judged++ })
		if tr.order.Len() > maxTrackedRequests || tr.bytes > maxPendingBytes {
			t.Fatalf("after %d: %d tracked, %d bytes waiting", i, tr.order.Len(), tr.bytes)
		}
	}
	tr.flush(func(Record) { judged++ })
	if judged != n {
		t.Errorf("judged %d of %d requests", judged, n)
	}
	if tr.bytes != 0 || tr.pending.Len() != 0 {
		t.Errorf("after flush: %d bytes, %d waiting", tr.bytes, tr.pending.Len())
	}
}

func t0() time.Time { return time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC) }
