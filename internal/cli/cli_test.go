package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/report"
)

// tree is a root with one group ("db") of one command ("status") that
// returns err.
func tree(err error) (*cobra.Command, *Global, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	s := NewStreams(strings.NewReader(""), &out, &errb)
	g := &Global{}
	root := NewRoot(s, g, "prog", "short", "long")
	db := &cobra.Command{Use: "db", Short: "group"}
	db.AddCommand(&cobra.Command{Use: "status", RunE: func(*cobra.Command, []string) error { return err }})
	root.AddCommand(db, NewVersionCommand(s, g, "prog"))
	Finish(root)
	return root, g, &out, &errb
}

func TestRunExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		args    []string
		code    int
		wantOut string
		wantErr string
	}{
		{"clean", nil, []string{"db", "status"}, CodeClean, "", ""},
		{"findings, nothing printed", &ExitError{Code: CodeFindings}, []string{"db", "status"}, CodeFindings, "", ""},
		{"error with its code", &ExitError{Code: CodeError, Err: errors.New("bad input")}, []string{"db", "status"}, CodeError, "", "Error: bad input\n"},
		{"wrapped exit error", errWrap{&ExitError{Code: CodeFindings}}, []string{"db", "status"}, CodeFindings, "", ""},
		{"any other error is 2", errors.New("boom"), []string{"db", "status"}, CodeError, "", "Error: boom\n"},
		{"flag error is a usage error", nil, []string{"db", "status", "--bogus"}, CodeError, "", "unknown flag: --bogus"},
		{"mistyped subcommand of a group", nil, []string{"db", "statu"}, CodeError, "", "Did you mean this?\n\tstatus"},
		{"mistyped command", nil, []string{"dv"}, CodeError, "", `unknown command "dv" for "prog"`},
		{"mistyped help topic", nil, []string{"help", "db", "statu"}, CodeError, "", `unknown command "statu" for "prog db"`},
		{"group alone prints help", nil, []string{"db"}, CodeClean, "Available Commands", ""},
		{"version", nil, []string{"version"}, CodeClean, "prog ", ""},
		{"version in a format it has not", nil, []string{"version", "-o", "sarif"}, CodeError, "", "version supports -o table, json or yaml"},
		{"bad --profile", nil, []string{"version", "--profile", "gpu"}, CodeError, "", "--profile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, g, out, errb := tree(tc.err)
			code := Run(context.Background(), root, g, tc.args, errb)
			if code != tc.code || !strings.Contains(out.String(), tc.wantOut) || !strings.Contains(errb.String(), tc.wantErr) {
				t.Errorf("%v: exit %d (want %d), stdout %q (want %q), stderr %q (want %q)", tc.args, code, tc.code, out, tc.wantOut, errb, tc.wantErr)
			}
			if tc.wantErr == "" && errb.Len() > 0 {
				t.Errorf("%v: stderr %q, want nothing", tc.args, errb)
			}
		})
	}
}

type errWrap struct{ err error }

func (e errWrap) Error() string { return "wrapped: " + e.err.Error() }
func (e errWrap) Unwrap() error { return e.err }

func TestWriteReportGate(t *testing.T) {
	high := finding.Finding{RuleID: "r", Severity: finding.SeverityHigh}
	unknown := finding.Finding{RuleID: "u"}
	for _, tc := range []struct {
		name     string
		o        ReportOptions
		findings []finding.Finding
		errors   int
		code     int
	}{
		{"below the threshold", ReportOptions{FailOn: "critical"}, []finding.Finding{high}, 0, CodeClean},
		{"at the threshold", ReportOptions{FailOn: "high"}, []finding.Finding{high}, 0, CodeFindings},
		{"none", ReportOptions{FailOn: "none"}, []finding.Finding{high}, 0, CodeClean},
		{"unknown severity fails", ReportOptions{FailOn: "critical"}, []finding.Finding{unknown}, 0, CodeFindings},
		{"unknown severity ignored", ReportOptions{FailOn: "critical", IgnoreUnknownSeverity: true}, []finding.Finding{unknown}, 0, CodeClean},
		{"input errors", ReportOptions{FailOn: "none"}, nil, 1, CodeError},
		{"input errors ignored", ReportOptions{FailOn: "none", IgnoreInputErrors: true}, nil, 1, CodeClean},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			r := &finding.Report{Findings: tc.findings}
			r.Summary.Errors = tc.errors
			err := tc.o.WriteReport(NewStreams(nil, &out, &errb), &Global{}, report.FormatJSON, r)
			code := CodeClean
			var ec *ExitError
			if errors.As(err, &ec) {
				code = ec.Code
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Errorf("exit %d, want %d (%v)", code, tc.code, err)
			}
			if out.Len() == 0 {
				t.Error("no report written")
			}
		})
	}
	if _, _, err := (&ReportOptions{FailOn: "severe"}).FailThreshold(); err == nil || !strings.Contains(err.Error(), "--fail-on") {
		t.Errorf("--fail-on severe: %v", err)
	}
}

func TestByteSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 20 << 20: "20.0 MiB"} {
		if got := ByteSize(n); got != want {
			t.Errorf("ByteSize(%d) = %q, want %q", n, got, want)
		}
	}
}
