package auditlog

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

// TestNothingSilentlyDropped: whatever is not an audit event is a problem
// with its line number, an error unless AllowUnreadable; reading no event
// at all is always an error.
func TestNothingSilentlyDropped(t *testing.T) {
	exec := mustJSON(t, stage(t, "e1", "ResponseComplete", "alice", "create", "exec", 101, t0()), false)
	tests := []struct {
		name  string
		in    string
		lines map[int]string // line → part of the reason
		none  bool           // no event at all
	}{
		{"empty input", "", nil, true},
		{"blank lines only", "\n\n  \n", nil, true},
		{"JSON that is not an event", exec + "\n" + `{"hello":"world"}` + "\n", map[int]string{2: "not an audit event"}, false},
		{"not JSON", "I0101 00:00:00 apiserver started\n" + exec + "\n", map[int]string{1: "not JSON"}, false},
		{"kubectl get events output", `{"kind":"Event","apiVersion":"v1","metadata":{"name":"x"},"reason":"Pulled"}` + "\n",
			map[int]string{1: "a Kubernetes Event object (v1), not an audit event"}, true},
		{"unsupported audit version", `{"kind":"Event","apiVersion":"audit.k8s.io/v2","auditID":"x","stage":"ResponseComplete","verb":"get"}` + "\n",
			map[int]string{1: `unsupported audit API version "audit.k8s.io/v2"`}, true},
		{"audit policy is not an event", `{"kind":"Policy","apiVersion":"audit.k8s.io/v1","rules":[]}` + "\n",
			map[int]string{1: "an audit.k8s.io/v1 Policy, not an audit event"}, true},
		{"GKE Cloud Audit Logs entry", `{"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","methodName":"io.k8s.core.v1.pods.exec.create"}}` + "\n",
			map[int]string{1: "Google Cloud Audit Logs"}, true},
		{"truncated last line", exec + "\n" + exec[:40], map[int]string{2: "not closed by the end of the input"}, false},
		{"truncated line followed by an event", exec[:40] + "\n" + exec + "\n", map[int]string{1: "incomplete (line 2 starts another"}, false},
		{"shipper record without an event", `{"log":"GET /healthz 200\n","stream":"stderr"}` + "\n" + exec + "\n",
			map[int]string{1: "not an audit event"}, false},
		{"EventList with a bad item", `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + exec + `,42]}` + "\n",
			map[int]string{1: "item 2: not an audit event: a JSON number"}, false},
		{"JSON array of numbers", "[1,2]\n", map[int]string{1: "no item is an audit event"}, true},
		{"pretty value never closed", "{\n  \"auditID\": \"x\",\n", map[int]string{1: "not closed"}, true},
		{"a scalar", "42\n", map[int]string{1: "not JSON"}, true},
		{"CRI line split and never completed", exec + "\n2026-11-25T10:00:00Z stdout P {\"auditID\":\n", map[int]string{2: "never completed"}, false},
		{"Docker record split and never completed", exec + "\n" + `{"log":"{\"auditID\":","stream":"stdout"}` + "\n", map[int]string{2: "never completed"}, false},
		{"Docker record of another container's log line", `{"log":"GET / 200\n","stream":"stdout"}` + "\n" + exec + "\n", map[int]string{1: "not an audit event"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, allow := range []bool{false, true} {
				_, a := analyze(t, []byte(tc.in), Reader{AllowUnreadable: allow})
				seen := map[int]bool{}
				noneReported := false
				for _, p := range a.Report.Problems {
					if p.Line == 0 {
						noneReported = noneReported || strings.Contains(p.Message, "no audit events understood")
						if p.Level != finding.LevelError {
							t.Errorf("allow=%v: %q is %s, want error", allow, p.Message, p.Level)
						}
						continue
					}
					want, ok := tc.lines[p.Line]
					if !ok || !strings.Contains(p.Message, want) {
						t.Errorf("allow=%v: unexpected problem at line %d: %s (want %q)", allow, p.Line, p.Message, want)
					}
					if wantLevel := map[bool]string{false: finding.LevelError, true: finding.LevelWarning}[allow]; p.Level != wantLevel {
						t.Errorf("allow=%v: line %d is %s, want %s", allow, p.Line, p.Level, wantLevel)
					}
					seen[p.Line] = true
				}
				for l, want := range tc.lines {
					if !seen[l] {
						t.Errorf("allow=%v: no problem at line %d (%s): %+v", allow, l, want, a.Report.Problems)
					}
				}
				if noneReported != tc.none {
					t.Errorf("allow=%v: 'no audit events understood' reported = %v, want %v", allow, noneReported, tc.none)
				}
				if a.Stats.Skipped != len(tc.lines) {
					t.Errorf("allow=%v: skipped = %d, want %d", allow, a.Stats.Skipped, len(tc.lines))
				}
			}
		})
	}
}

// endless yields n bytes of c, a newline ending every `every` bytes when
// set, never holding more than one period of them.
type endless struct {
	n, every, i int64
	c           byte
	period      []byte
}

func (e *endless) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	if e.period == nil {
		size := e.every
		if size <= 0 {
			size = 64 << 10
		}
		e.period = bytes.Repeat([]byte{e.c}, int(size))
		if e.every > 0 {
			e.period[size-1] = '\n'
		}
	}
	if int64(len(p)) > e.n {
		p = p[:e.n]
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], e.period[e.i%int64(len(e.period)):])
		n += c
		e.i += int64(c)
	}
	e.n -= int64(n)
	return n, nil
}

// TestHostileSizes: a 1 GiB line, and a 1 GiB value that never closes,
// are read in bounded memory and reported; the events around them count.
func TestHostileSizes(t *testing.T) {
	exec := mustJSON(t, stage(t, "e1", "ResponseComplete", "alice", "create", "exec", 101, t0()), false)
	tests := []struct {
		name   string
		in     func() io.Reader
		reason string
	}{
		{"1 GiB line", func() io.Reader {
			return io.MultiReader(strings.NewReader(exec+"\n{\"a\":\""), &endless{n: 1 << 30, c: 'A'}, strings.NewReader("\"}\n"+exec+"\n"))
		}, "line longer than"},
		{"256 MiB value over many lines", func() io.Reader {
			return io.MultiReader(strings.NewReader(exec+"\n{\n \"a\": \""), &endless{n: 256 << 20, every: 512 << 10, c: 'A'}, strings.NewReader("\"\n}\n"+exec+"\n"))
		}, "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			var st Stats
			n := 0
			err := Reader{}.Read(t.Context(), "hostile", tc.in(), &st, func(Record) error { n++; return nil })
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 96<<20 {
				t.Errorf("allocated %d MiB reading it", grew>>20)
			}
			if n < 1 || st.Skipped < 1 || !strings.Contains(fmt.Sprint(st.Details), tc.reason) {
				t.Errorf("events %d, stats %+v", n, st)
			}
		})
	}
}

// TestDeepNesting: nesting past the parser's depth limit is a reported
// problem, not a crash, in every position.
func TestDeepNesting(t *testing.T) {
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	for _, in := range []string{
		deep,
		`{"log":"` + strings.Repeat(`[`, 5000) + `"}`,
		`{"auditID":"x","stage":"ResponseComplete","verb":"create","objectRef":{"resource":"pods"},"requestObject":` + deep + `}`,
		strings.Repeat(`{"log":`, 1000) + `1` + strings.Repeat(`}`, 1000),
	} {
		var st Stats
		if err := (Reader{}).Read(t.Context(), "deep", bytes.NewReader([]byte(in+"\n")), &st, func(Record) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if st.Skipped != 1 {
			t.Errorf("%.40s...: stats %+v", in, st)
		}
	}
}
