package report

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTable(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		want     []string
		wantNot  []string
		colorful bool
	}{
		{
			name: "plain",
			opts: Options{},
			want: []string{
				"SEVERITY  RULE", "CRITICAL  PS-K8S-001", "manifests/web.yaml:21",
				"Problems:", "ERROR  manifests/broken.yaml:3: yaml", "NOTE   manifests/kustomization.yaml",
				"4 findings: 1 CRITICAL, 1 HIGH, 1 MEDIUM, 1 LOW (2 suppressed, not shown); 1 error, 1 note\n",
				"Pod/kube-system/debug", // the cluster object, located as "-"
			},
			wantNot: []string{"PS-K8S-002", "PS-K8S-010", "(suppressed)"},
		},
		{
			name: "suppressed and colour",
			opts: Options{Color: true, ShowSuppressed: true},
			want: []string{
				"(suppressed) Pod shares", "suppressed by annotation: ingress controller needs host ports",
				"suppressed by policy until 2027-03-31: limits tracked in OPS-42",
				ansiBoldRed + "CRITICAL" + ansiReset, ansiRed + "ERROR" + ansiReset,
				"(2 suppressed); 1 error, 1 note\n",
			},
			colorful: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := string(render(t, FormatTable, testReport(), tt.opts))
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			if got := strings.Contains(out, "\x1b["); got != tt.colorful {
				t.Errorf("ANSI escapes present = %v, want %v", got, tt.colorful)
			}
			// The hostile message's own escape and BEL never reach the terminal.
			if strings.Contains(out, "\x1b[31mred") || strings.Contains(out, "\x07") {
				t.Errorf("control characters from a message leaked into the table:\n%q", out)
			}
		})
	}
}

// TestTableAlignment checks that colour does not shift the columns: with
// escapes removed, the coloured table equals the plain one.
func TestTableAlignment(t *testing.T) {
	opts := Options{ShowSuppressed: true}
	plain := string(render(t, FormatTable, testReport(), opts))
	opts.Color = true
	colored := string(render(t, FormatTable, testReport(), opts))
	for _, seq := range []string{ansiReset, ansiBoldRed, ansiRed, ansiYellow, ansiCyan, ansiDim} {
		colored = strings.ReplaceAll(colored, seq, "")
	}
	if colored != plain {
		t.Errorf("coloured table differs from the plain one once escapes are removed:\n%s\n---\n%s", colored, plain)
	}
	// Every row starts its MESSAGE column at the same offset as the header.
	lines := strings.Split(plain, "\n")
	col := strings.Index(lines[0], "MESSAGE")
	for _, l := range lines[1:] {
		if l == "" {
			break // end of the table
		}
		if utf8.RuneCountInString(l) <= col || l[col-2:col] != "  " || l[col] == ' ' {
			t.Errorf("row not aligned on MESSAGE column %d: %q", col, l)
		}
	}
}

func TestWrap(t *testing.T) {
	tests := []struct {
		in    string
		width int
		want  []string
	}{
		{"", 10, nil},
		{"short", 10, []string{"short"}},
		{"one two three four", 9, []string{"one two", "three", "four"}},
		{"abcdefghijkl xy", 5, []string{"abcde", "fghij", "kl xy"}},
		{"ééééé ü", 5, []string{"ééééé", "ü"}},
	}
	for _, tt := range tests {
		got := wrap(tt.in, tt.width)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("wrap(%q, %d) = %q, want %q", tt.in, tt.width, got, tt.want)
		}
	}
}

func TestStripControl(t *testing.T) {
	tests := []struct {
		in        string
		keepLines bool
		want      string
	}{
		{"a\x07b\x1b[31mc\u009bd", false, "ab[31mcd"},
		{"l1\r\nl2\tx", true, "l1\nl2\tx"},
		{"l1\nl2", false, "l1 l2"},
		{"bad\xffutf8", false, "bad\uFFFDutf8"},
		{"admin\u202e\u2066txt.yaml", false, "admintxt.yaml"},
	}
	for _, tt := range tests {
		if got := stripControl(tt.in, tt.keepLines); got != tt.want {
			t.Errorf("stripControl(%q, %v) = %q, want %q", tt.in, tt.keepLines, got, tt.want)
		}
	}
}
