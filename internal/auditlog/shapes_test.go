package auditlog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// shapes rewrite a capture of audit.k8s.io/v1 JSON lines as other sources
// write the same events. Each shape is how a real tool emits them; the
// detections must find exactly what they find in the original.
var shapes = map[string]func(t testing.TB, events []map[string]any) string{
	"v1 JSON lines": func(t testing.TB, evs []map[string]any) string { return jsonLines(t, evs, nil) },
	// --audit-log-version=audit.k8s.io/v1beta1 (Kubernetes ≤ 1.23): same
	// fields, plus the deprecated timestamp and metadata.
	"v1beta1": func(t testing.TB, evs []map[string]any) string {
		return jsonLines(t, evs, func(e map[string]any) any {
			e["apiVersion"] = "audit.k8s.io/v1beta1"
			e["timestamp"] = e["stageTimestamp"]
			e["metadata"] = map[string]any{"creationTimestamp": e["stageTimestamp"]}
			return e
		})
	},
	// Oldest v1beta1 writers: only the deprecated timestamp.
	"v1beta1 timestamp only": func(t testing.TB, evs []map[string]any) string {
		return jsonLines(t, evs, func(e map[string]any) any {
			e["apiVersion"] = "audit.k8s.io/v1beta1"
			e["timestamp"] = e["stageTimestamp"]
			delete(e, "stageTimestamp")
			delete(e, "requestReceivedTimestamp")
			return e
		})
	},
	"no TypeMeta": func(t testing.TB, evs []map[string]any) string {
		return jsonLines(t, evs, func(e map[string]any) any { return noTypeMeta(e) })
	},
	// The webhook backend's batches, saved to a file.
	"EventList": func(t testing.TB, evs []map[string]any) string {
		items := make([]any, len(evs))
		for i, e := range evs {
			items[i] = noTypeMeta(e)
		}
		return mustJSON(t, map[string]any{"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": map[string]any{}, "items": items}, false) + "\n"
	},
	"EventList v1beta1 pretty": func(t testing.TB, evs []map[string]any) string {
		items := make([]any, len(evs))
		for i, e := range evs {
			items[i] = noTypeMeta(e)
		}
		return mustJSON(t, map[string]any{"kind": "EventList", "apiVersion": "audit.k8s.io/v1beta1", "items": items}, true) + "\n"
	},
	"JSON array pretty":  func(t testing.TB, evs []map[string]any) string { return mustJSON(t, evs, true) + "\n" },
	"JSON array compact": func(t testing.TB, evs []map[string]any) string { return mustJSON(t, evs, false) + "\n" },
	// jq . without -c: one pretty-printed value after another.
	"pretty values": func(t testing.TB, evs []map[string]any) string {
		var b strings.Builder
		for _, e := range evs {
			b.WriteString(mustJSON(t, e, true) + "\n")
		}
		return b.String()
	},
	// Docker json-file, and fluent-bit/fluentd tailing it.
	"docker json-file": func(t testing.TB, evs []map[string]any) string {
		return jsonLines(t, evs, func(e map[string]any) any {
			return map[string]any{"log": mustJSON(t, e, false) + "\n", "stream": "stdout", "time": "2026-11-25T10:00:00.000000001Z"}
		})
	},
	"fluent-bit kubernetes": func(t testing.TB, evs []map[string]any) string {
		return jsonLines(t, evs, func(e map[string]any) any {
			return map[string]any{"@timestamp": 1764064800.5, "log": mustJSON(t, e, false), "stream": "stdout", "_p": "F",
				"kubernetes": map[string]any{"pod_name": "kube-apiserver-cp1", "namespace_name": "kube-system"}}
		})
	},
	// fluent-bit with Merge_Log: the event's fields at the top of the record.
	"merged into the record": func(t testing.TB, evs []map[string]any) string {
		return jsonLines(t, evs, func(e map[string]any) any {
			e = noTypeMeta(e)
			e["@timestamp"], e["stream"], e["_p"] = "2026-11-25T10:00:00Z", "stdout", "F"
			e["kubernetes"] = map[string]any{"pod_name": "kube-apiserver-cp1"}
			return e
		})
	},
	// --audit-log-path=- read from /var/log/containers (CRI format).
	"CRI log lines": func(t testing.TB, evs []map[string]any) string {
		var b strings.Builder
		for _, e := range evs {
			b.WriteString("2026-11-25T10:00:00.123456789Z stdout F " + mustJSON(t, e, false) + "\n")
		}
		return b.String()
	},
	// containerd splits lines at 16 KiB into "P" pieces ended by an "F"
	// one; the split is shown here at 300 bytes.
	"CRI split lines": func(t testing.TB, evs []map[string]any) string {
		var b strings.Builder
		for _, e := range evs {
			line := mustJSON(t, e, false)
			for len(line) > 300 {
				b.WriteString("2026-11-25T10:00:00.123456789Z stdout P " + line[:300] + "\n")
				line = line[300:]
			}
			b.WriteString("2026-11-25T10:00:00.123456789Z stdout F " + line + "\n")
		}
		return b.String()
	},
	// Docker's json-file driver splits lines at 16 KiB too: only the last
	// piece's "log" ends with a newline.
	"docker json-file split lines": func(t testing.TB, evs []map[string]any) string {
		var b strings.Builder
		for _, e := range evs {
			line := mustJSON(t, e, false) + "\n"
			for len(line) > 0 {
				piece := line[:min(300, len(line))]
				line = line[len(piece):]
				b.WriteString(mustJSON(t, map[string]any{"log": piece, "stream": "stdout", "time": "2026-11-25T10:00:00.000000001Z"}, false) + "\n")
			}
		}
		return b.String()
	},
	// EKS control-plane logs: CloudWatch records whose message is the event.
	"EKS CloudWatch records": func(t testing.TB, evs []map[string]any) string {
		return jsonLines(t, evs, func(e map[string]any) any {
			return map[string]any{"timestamp": 1764064800000, "message": mustJSON(t, e, false), "logStreamName": "kube-apiserver-audit-0123"}
		})
	},
	// aws logs filter-log-events output.
	"CloudWatch filter-log-events": func(t testing.TB, evs []map[string]any) string {
		var recs []any
		for _, e := range evs {
			recs = append(recs, map[string]any{"logStreamName": "kube-apiserver-audit-0123", "timestamp": 1764064800000, "message": mustJSON(t, e, false), "eventId": "1"})
		}
		return mustJSON(t, map[string]any{"events": recs, "searchedLogStreams": []any{}}, true) + "\n"
	},
	// AKS diagnostic settings to a storage account (category kube-audit).
	"AKS diagnostic records": func(t testing.TB, evs []map[string]any) string {
		var recs []any
		for _, e := range evs {
			recs = append(recs, map[string]any{"category": "kube-audit", "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
				"properties": map[string]any{"log": mustJSON(t, e, false), "stream": "stdout", "pod": "kube-apiserver-abc"}})
		}
		return mustJSON(t, map[string]any{"records": recs}, false) + "\n"
	},
	"Splunk HEC": func(t testing.TB, evs []map[string]any) string {
		return jsonLines(t, evs, func(e map[string]any) any {
			return map[string]any{"time": 1764064800, "sourcetype": "kube:apiserver:audit", "event": e}
		})
	},
	"Cloud Logging jsonPayload": func(t testing.TB, evs []map[string]any) string {
		return jsonLines(t, evs, func(e map[string]any) any {
			return map[string]any{"logName": "projects/p/logs/audit", "jsonPayload": e, "resource": map[string]any{"type": "k8s_cluster"}}
		})
	},
	"Elasticsearch hits": func(t testing.TB, evs []map[string]any) string {
		return jsonLines(t, evs, func(e map[string]any) any {
			return map[string]any{"_index": "k8s-audit", "_id": "x", "_source": map[string]any{"@timestamp": "2026-11-25T10:00:00Z", "message": mustJSON(t, e, false)}}
		})
	},
	"Elastic kubernetes.audit": func(t testing.TB, evs []map[string]any) string {
		return jsonLines(t, evs, func(e map[string]any) any {
			return map[string]any{"@timestamp": "2026-11-25T10:00:00Z", "kubernetes": map[string]any{"audit": noTypeMeta(e)}}
		})
	},
	// fluent-bit's Merge_Log with a Merge_Log_Key of the user's choosing.
	"fluent-bit Merge_Log_Key": func(t testing.TB, evs []map[string]any) string {
		return jsonLines(t, evs, func(e map[string]any) any {
			return map[string]any{"time": "2026-11-25T10:00:00Z", "stream": "stdout", "data": noTypeMeta(e)}
		})
	},
	// Azure Monitor's AKSAudit table (Log Analytics, Sentinel): PascalCase
	// columns, dynamic columns exported as JSON strings.
	"AKSAudit table export": func(t testing.TB, evs []map[string]any) string {
		var rows []any
		for _, e := range evs {
			row := map[string]any{"TimeGenerated": e["stageTimestamp"], "Category": "kube-audit", "PodName": "kube-apiserver-abc",
				"AuditId": e["auditID"], "Level": e["level"], "Stage": e["stage"], "RequestUri": e["requestURI"], "Verb": e["verb"],
				"User": mustJSON(t, e["user"], false), "SourceIps": mustJSON(t, e["sourceIPs"], false), "UserAgent": e["userAgent"],
				"RequestReceivedTime": e["requestReceivedTimestamp"], "StageReceivedTime": e["stageTimestamp"]}
			for from, to := range map[string]string{"objectRef": "ObjectRef", "responseStatus": "ResponseStatus", "requestObject": "RequestObject",
				"responseObject": "ResponseObject", "annotations": "Annotations", "impersonatedUser": "ImpersonatedUser"} {
				if v, ok := e[from]; ok {
					row[to] = mustJSON(t, v, false)
				}
			}
			rows = append(rows, row)
		}
		return mustJSON(t, rows, true) + "\n"
	},
	"Loki logcli jsonl": func(t testing.TB, evs []map[string]any) string {
		return jsonLines(t, evs, func(e map[string]any) any {
			return map[string]any{"labels": map[string]any{"job": "audit"}, "line": mustJSON(t, e, false), "timestamp": "2026-11-25T10:00:00Z"}
		})
	},
	"journald": func(t testing.TB, evs []map[string]any) string {
		return jsonLines(t, evs, func(e map[string]any) any {
			return map[string]any{"MESSAGE": mustJSON(t, e, false), "_SYSTEMD_UNIT": "kube-apiserver.service"}
		})
	},
}

func jsonLines(t testing.TB, evs []map[string]any, f func(map[string]any) any) string {
	var b strings.Builder
	for _, e := range evs {
		var v any = e
		if f != nil {
			v = f(clone(t, e))
		}
		b.WriteString(mustJSON(t, v, false) + "\n")
	}
	return b.String()
}

func noTypeMeta(e map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range e {
		if k != "kind" && k != "apiVersion" {
			out[k] = v
		}
	}
	return out
}

func clone(t testing.TB, e map[string]any) map[string]any {
	var out map[string]any
	if err := json.Unmarshal([]byte(mustJSON(t, e, false)), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustJSON(t testing.TB, v any, indent bool) string {
	var b []byte
	var err error
	if indent {
		b, err = json.MarshalIndent(v, "", "  ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readCapture reads a committed capture of v1 JSON lines.
func readCapture(t testing.TB, name string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "capture", name))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for i, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var e map[string]any
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatalf("%s:%d: %v", name, i+1, err)
		}
		out = append(out, e)
	}
	return out
}

// analyze runs the built-in detections over in and returns one line per
// finding (rule, object, message without the file location), sorted.
func analyze(t testing.TB, in []byte, reader Reader) ([]string, *Analysis) {
	t.Helper()
	// A custom detection sees the event itself, whatever carried it.
	custom, err := CompileCustom([]CustomSpec{{ID: "exec", Severity: "HIGH",
		Expression: "has(event.objectRef) && has(event.objectRef.subresource) && event.objectRef.subresource == 'exec' && event.user.username != ''"}})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := NewEngine(EngineOptions{BurstThreshold: 5, Custom: custom})
	if err != nil {
		t.Fatal(err)
	}
	a, err := Analyze(context.Background(), engine, reader, []string{"-"}, bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range a.Report.Findings {
		got = append(got, fmt.Sprintf("%s %s/%s %s", f.RuleID, f.Object.Namespace, f.Object.Name, f.Message))
	}
	sort.Strings(got)
	return got, a
}

// TestCaptureInEveryShape: the real API server's events, rewritten as
// each source writes them, give exactly the findings of the original, and
// nothing is left unread.
func TestCaptureInEveryShape(t *testing.T) {
	capture := readCapture(t, "apiserver-v1.jsonl")
	want, a := analyze(t, []byte(jsonLines(t, capture, nil)), Reader{})
	if a.Stats.Skipped > 0 {
		t.Fatalf("the capture itself has %d unread lines: %+v", a.Stats.Skipped, a.Stats.Details)
	}
	// One finding per request, whichever of its stages were logged (see
	// testdata/capture/README.md for what the test did).
	rules := map[string]int{}
	for _, f := range want {
		rules[strings.Fields(f)[0]]++
	}
	wantRules := map[string]int{"audit/pod-exec": 2, "audit/pod-attach": 1, "audit/pod-portforward": 1, "audit/secret-read": 2,
		"audit/secret-list-all-namespaces": 1, "audit/privileged-pod": 1, "audit/token-for-other-sa": 1, "audit/anonymous-allowed": 1,
		"audit/forbidden-burst": 1, "custom/exec": 2}
	if fmt.Sprint(rules) != fmt.Sprint(wantRules) {
		t.Fatalf("the capture gives %v, want %v:\n%s", rules, wantRules, strings.Join(want, "\n"))
	}
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			in := shapes[name](t, capture)
			for _, gz := range []bool{false, true} {
				b := []byte(in)
				if gz {
					b = gzipped(b)
				}
				got, a := analyze(t, b, Reader{})
				if a.Stats.Skipped > 0 || a.Report.Summary.Errors > 0 {
					t.Errorf("gzip=%v: %d unread: %+v", gz, a.Stats.Skipped, a.Report.Problems)
				}
				if a.Stats.Events != len(capture) {
					t.Errorf("gzip=%v: read %d events, want %d", gz, a.Stats.Events, len(capture))
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("gzip=%v: findings differ from the v1 original\ngot:\n%s\nwant:\n%s", gz, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
		})
	}
}
