package auditlog

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/palisade-sec/palisade/internal/finding"
)

func line(t testing.TB, user, verb, resource, ns, name, when string) string {
	e := map[string]any{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete", "verb": verb,
		"auditID": user + verb + name + when, "user": map[string]any{"username": user},
		"objectRef": map[string]any{"resource": resource, "namespace": ns, "name": name}, "responseStatus": map[string]any{"code": 200},
		"requestReceivedTimestamp": when, "stageTimestamp": when}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func gzipped(data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func writeFile(t *testing.T, dir, name, content string, gz bool) string {
	t.Helper()
	p := filepath.Join(dir, name)
	data := []byte(content)
	if gz {
		data = gzipped(data)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReadOrderAndBadLines: rotated files (one gzipped) are read oldest
// first whatever their names; bad lines are skipped with their numbers.
func TestReadOrderAndBadLines(t *testing.T) {
	dir := t.TempDir()
	newest := writeFile(t, dir, "audit.log", line(t, "c", "get", "secrets", "ns", "third", "2026-11-25T12:00:00Z")+"\n", false)
	oldest := writeFile(t, dir, "audit-2026-11-25T10-00-00.000.log.gz",
		line(t, "a", "get", "secrets", "ns", "first", "2026-11-25T10:00:00Z")+"\n"+
			`{"kind":"Event","apiVersion":"audit.k8s.io/v2","verb":"get"}`+"\n"+
			`{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"get","user":{"usern`+"\n"+
			"\n"+
			`{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"get","user":{"username":"x"},"objectRef":{"resource":"secrets","name":"`+strings.Repeat("A", 2<<20)+`"}}`+"\n", true)
	middle := writeFile(t, dir, "zzz-rotated.log", line(t, "b", "get", "secrets", "ns", "second", "2026-11-25T11:00:00Z"), false)

	var order []string
	st, err := Reader{}.ReadFiles(context.Background(), []string{newest, middle, oldest}, nil, func(r Record) error {
		order = append(order, r.Event.ObjectRef.Name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, ",") != "first,second,third" {
		t.Errorf("order = %v", order)
	}
	if st.Events != 3 || st.Skipped != 3 || st.Files != 3 {
		t.Errorf("stats = %+v", st)
	}
	wantReasons := []string{"unsupported audit API version", "incomplete", "longer than"}
	wantLines := []int{2, 3, 5} // line 4 is blank: not an event, not an error
	for i, d := range st.Details {
		if d.Line != wantLines[i] || filepath.Base(d.File) != filepath.Base(oldest) || !strings.Contains(d.Reason, wantReasons[i]) {
			t.Errorf("skip %d = %+v", i, d)
		}
	}
}

func TestAnalyzeAndAccessSummary(t *testing.T) {
	in := strings.Join([]string{
		line(t, "alice", "get", "secrets", "shop", "db", "2026-11-25T10:00:00Z"),
		line(t, "alice", "get", "secrets", "shop", "db", "2026-11-25T10:05:00Z"),
		line(t, "bob", "list", "secrets", "", "", "2026-11-25T10:06:00Z"),
		line(t, "system:kube-controller-manager", "get", "secrets", "shop", "db", "2026-11-25T10:07:00Z"),
		line(t, "alice", "get", "pods", "shop", "p", "2026-11-25T10:08:00Z"),
	}, "\n")
	engine, err := NewEngine(EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := Analyze(context.Background(), engine, Reader{}, []string{"-"}, strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range a.Report.Findings {
		got = append(got, f.RuleID+" "+f.Object.Name)
	}
	want := "audit/secret-read db,audit/secret-read db,audit/secret-list-all-namespaces "
	if strings.Join(got, ",") != want {
		t.Errorf("findings = %q, want %q", strings.Join(got, ","), want)
	}
	if a.Report.Findings[0].Line != 1 || a.Report.Findings[0].File != "-" {
		t.Errorf("location = %s", a.Report.Findings[0].Location())
	}
	var ids []string
	for _, id := range a.Access.Identities {
		for _, acc := range id.Accesses {
			ids = append(ids, id.Identity+" "+acc.Action+" "+acc.Target+" x"+string(rune('0'+acc.Count)))
		}
	}
	if strings.Join(ids, ";") != "alice secret get shop/db x2;bob secret list * x1;system:kube-controller-manager secret get shop/db x1" {
		t.Errorf("access = %v", ids)
	}
}

func TestWebhookServer(t *testing.T) {
	engine, _ := NewEngine(EngineOptions{})
	var got []finding.Finding
	srv := httptest.NewServer(&Server{Engine: engine, Sink: func(fs []finding.Finding) { got = append(got, fs...) }, MaxBatchBytes: 1 << 20})
	defer srv.Close()
	post := func(body string) int {
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// List items carry no kind and apiVersion of their own.
	item := strings.Replace(line(t, "bob", "get", "secrets", "shop", "db", "2026-11-25T10:00:01Z"), `"apiVersion":"audit.k8s.io/v1",`, "", 1)
	item = strings.Replace(item, `"kind":"Event",`, "", 1)
	good := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + line(t, "alice", "get", "secrets", "shop", "db", "2026-11-25T10:00:00Z") + `,{"bad":true},` + item + `]}`
	if code := post(good); code != 200 || len(got) != 2 || got[0].RuleID != "audit/secret-read" || !strings.Contains(got[1].Message, "bob") {
		t.Errorf("good batch: %d %v", code, got)
	}
	for name, body := range map[string]string{
		"truncated":     good[:40],
		"wrong version": `{"kind":"EventList","apiVersion":"audit.k8s.io/v2","items":[]}`,
		"not JSON":      "\x00\x01",
	} {
		if code := post(body); code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", name, code)
		}
	}
	if code := post(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":["` + strings.Repeat("A", 2<<20) + `"]}`); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized: status %d", code)
	}
	// A v1beta1 batch (--audit-webhook-version) holding an exec that has
	// only started: judged when its window passes or at shutdown, once.
	got = nil
	started := mustJSON(t, noTypeMeta(stage(t, "ws1", "ResponseStarted", "alice", "create", "exec", 101, t0())), false)
	if code := post(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1beta1","items":[` + started + `]}`); code != 200 || len(got) != 0 {
		t.Fatalf("v1beta1 batch: %d %v", code, got)
	}
	srv.Config.Handler.(*Server).Expire(t0().Add(time.Minute))
	if len(got) != 0 {
		t.Fatalf("judged before the window passed: %v", got)
	}
	srv.Config.Handler.(*Server).Expire(t0().Add(DefaultStageWindow + time.Minute))
	if len(got) != 1 || got[0].RuleID != "audit/pod-exec" {
		t.Fatalf("after the window: %v", got)
	}
	srv.Config.Handler.(*Server).Flush()
	completed := mustJSON(t, noTypeMeta(stage(t, "ws1", "ResponseComplete", "alice", "create", "exec", 101, t0().Add(time.Hour))), false)
	if code := post(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + completed + `]}`); code != 200 || len(got) != 1 {
		t.Errorf("the session's end was judged again: %d %v", code, got)
	}
}

// FuzzParseEvent: any document decodes without panic, the detections run
// on whatever it yields, and an event read bare is read the same inside a
// log shipper's envelope, as a JSON string or as an object.
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"get","user":{"username":"a"},"objectRef":{"resource":"secrets"},"requestObject":{"spec":{"hostPID":true}}}`))
	f.Add([]byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"create","objectRef":{"resource":"pods"},"requestObject":[1,2]}`))
	f.Add([]byte(`{`))
	engine, _ := NewEngine(EngineOptions{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var d eventDecoder
		out, reason := d.decode(b)
		if len(out.events) == 0 && reason == "" {
			t.Fatalf("no event and no reason")
		}
		for _, ev := range out.events {
			engine.Observe(Record{Event: ev})
		}
		engine.Flush(func(Record, []finding.Finding) {})
		if len(out.events) != 1 || len(b) > 1<<16 || !utf8.Valid(b) || out.depth+2 > maxEnvelopeDepth {
			// A JSON string cannot carry invalid UTF-8 unchanged, and two
			// more envelopes must stay within the nesting bound.
			return
		}
		want := out.events[0]
		for _, wrapped := range [][]byte{
			append(append([]byte(`{"stream":"stdout","log":`), mustMarshal(t, string(b))...), '}'),
			append(append([]byte(`{"_source":{"@timestamp":"x","event":`), b...), []byte(`}}`)...),
		} {
			var d2 eventDecoder
			got, reason := d2.decode(wrapped)
			if len(got.events) != 1 {
				t.Fatalf("wrapped as %s: %d events (%s)", wrapped, len(got.events), reason)
			}
			g := got.events[0]
			if g.AuditID != want.AuditID || g.Verb != want.Verb || g.Stage != want.Stage || g.User.Username != want.User.Username ||
				g.Resource() != want.Resource() || !g.StageTimestamp.Equal(want.StageTimestamp) {
				t.Fatalf("wrapped event differs: %+v vs %+v", g, want)
			}
		}
	})
}

func mustMarshal(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzRead: any input, split into lines and values however it comes, is
// read without panic or error, and every non-blank line is accounted for
// (an event, or a reason with its line number).
func FuzzRead(f *testing.F) {
	f.Add([]byte("{\"auditID\":\"a\",\"stage\":\"ResponseStarted\",\"verb\":\"create\"}\n[\n  {\"a\": 1},\n]\n"))
	f.Add([]byte("2026-11-25T10:00:00Z stdout F {\"log\":\"{\\\"auditID\\\":1}\"}\n{\n\"x\":\"{\"\n"))
	engine, _ := NewEngine(EngineOptions{}) // its state across inputs is bounded
	f.Fuzz(func(t *testing.T, b []byte) {
		lines := bytes.Count(b, []byte("\n")) + 1
		var st Stats
		err := Reader{MaxEventBytes: 4096}.Read(context.Background(), "fuzz", bytes.NewReader(b), &st, func(r Record) error {
			if r.Event == nil || r.Line < 1 || r.Line > lines {
				t.Fatalf("record %+v in %d lines", r, lines)
			}
			engine.Observe(r)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		engine.Flush(func(Record, []finding.Finding) {})
		if st.Lines > 0 && st.Events == 0 && st.Skipped == 0 && !onlyArrayBrackets(b) {
			t.Fatalf("%d non-blank lines, no event and nothing reported", st.Lines)
		}
		for _, d := range st.Details {
			if d.Line < 1 || d.Line > lines || d.Reason == "" {
				t.Fatalf("bad skip %+v", d)
			}
		}
	})
}

// onlyArrayBrackets: lines "[" and "]" (an empty array spread over lines)
// hold nothing to report.
func onlyArrayBrackets(b []byte) bool {
	for _, l := range bytes.Split(b, []byte("\n")) {
		switch string(bytes.TrimRight(bytes.TrimSpace(l), ",")) {
		case "", "[", "]":
		default:
			return false
		}
	}
	return true
}
