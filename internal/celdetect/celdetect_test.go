package celdetect

import (
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

// TestCompile: the rules every custom detection obeys, whichever file
// kind it came from; each bad spec is an error naming its position and
// ID.
func TestCompile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		specs   []Spec
		wantErr string
		check   func(*Detection) bool
	}{
		{"defaults", []Spec{{ID: "x", Expression: "true"}}, "",
			func(d *Detection) bool {
				return d.ID == "custom/x" && d.Title == "custom/x" && d.Severity == finding.SeverityMedium
			}},
		{"prefix kept", []Spec{{ID: "custom/y", Title: "T", Severity: "critical", Expression: "event.a == 1"}}, "",
			func(d *Detection) bool {
				return d.ID == "custom/y" && d.Title == "T" && d.Severity == finding.SeverityCritical
			}},
		{"no id", []Spec{{Expression: "true"}}, "detection 1 (): id and expression are required", nil},
		{"no expression", []Spec{{ID: "x", Expression: "  "}}, "id and expression are required", nil},
		{"bad severity", []Spec{{ID: "x", Expression: "true", Severity: "loud"}}, "detection 1 (x)", nil},
		{"syntax", []Spec{{ID: "ok", Expression: "true"}, {ID: "x", Expression: "event.verb =="}}, `detection 2 (x): expression "event.verb =="`, nil},
		{"not a bool", []Spec{{ID: "x", Expression: "'a'"}}, "must evaluate to bool", nil},
		{"message not a string", []Spec{{ID: "x", Expression: "true", MessageExpression: "1 + 1"}}, "messageExpression", nil},
		{"duplicate", []Spec{{ID: "x", Expression: "true"}, {ID: "custom/x", Expression: "false"}}, "detection 2 (custom/x): duplicate id", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := Compile(tc.specs, 1000)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(ds) != len(tc.specs) || !tc.check(ds[0]) {
				t.Fatalf("%+v, %v", ds, err)
			}
		})
	}
}

// TestMatch: a match's message comes from messageExpression, else the
// fixed message, else "" for the caller; evaluation errors (a missing
// field, the cost limit, a dynamic non-bool) are errors, never a match.
func TestMatch(t *testing.T) {
	event := map[string]any{"event": map[string]any{"kind": "exec", "path": "/bin/sh", "n": int64(3), "list": []any{"a", "b", "c", "d", "e", "f", "g", "h"}}}
	for _, tc := range []struct {
		name    string
		spec    Spec
		fired   bool
		msg     string
		wantErr string
	}{
		{"fires, expression message", Spec{ID: "a", Expression: `event.kind == "exec"`, MessageExpression: `"ran " + event.path`, Message: "fixed"}, true, "ran /bin/sh", ""},
		{"fires, fixed message", Spec{ID: "a", Expression: `event.n > 2`, Message: "fixed"}, true, "fixed", ""},
		{"message expression fails, fixed used", Spec{ID: "a", Expression: `true`, MessageExpression: `event.nope`, Message: "fixed"}, true, "fixed", ""},
		{"fires, no message", Spec{ID: "a", Expression: `event.n == 3`}, true, "", ""},
		{"does not fire", Spec{ID: "a", Expression: `event.kind == "exit"`, Message: "fixed"}, false, "", ""},
		{"missing field", Spec{ID: "a", Expression: `event.nosuch == 1`}, false, "", "no such key"},
		{"dynamic non-bool", Spec{ID: "a", Expression: `event.path`}, false, "", "not a bool"},
		{"cost limit", Spec{ID: "a", Expression: `event.list.all(x, event.list.all(y, event.list.all(z, x + y + z != "")))`}, false, "", "cost limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := Compile([]Spec{tc.spec}, 100)
			if err != nil {
				t.Fatal(err)
			}
			fired, msg, err := ds[0].Match(event)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || fired {
					t.Fatalf("fired %v, error %v, want %q", fired, err, tc.wantErr)
				}
				return
			}
			if err != nil || fired != tc.fired || msg != tc.msg {
				t.Fatalf("fired %v %q %v, want %v %q", fired, msg, err, tc.fired, tc.msg)
			}
		})
	}
}

// FuzzCompile: any expression text compiles to a detection or an error,
// and a compiled one evaluates without panicking within the cost limit.
func FuzzCompile(f *testing.F) {
	f.Add(`event.kind == "exec"`, `"x " + event.path`)
	f.Add(`event.list.exists(x, x == "a")`, ``)
	f.Add(`[1,2,3].map(x, [x, x]).size() > 1`, `string(event.n)`)
	f.Fuzz(func(t *testing.T, expr, msg string) {
		ds, err := Compile([]Spec{{ID: "f", Expression: expr, MessageExpression: msg}}, 1000)
		if err != nil {
			return
		}
		_, _, _ = ds[0].Match(map[string]any{"event": map[string]any{"kind": "exec", "path": "/bin/sh", "n": int64(1), "list": []any{"a"}}})
	})
}
