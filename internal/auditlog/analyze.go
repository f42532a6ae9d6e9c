package auditlog

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
)

// maxFindings bounds the findings kept from one analysis; past it they are
// counted but not kept, so a hostile log cannot exhaust memory.
const maxFindings = 100000

// Analysis is the result of reading audit logs.
type Analysis struct {
	Report *finding.Report
	Access *AccessSummary
	Stats  Stats
	// Requests counts the requests judged: events of one auditID count once.
	Requests int
	Dropped  int
}

// Analyze streams the files through the engine and builds the report and
// the access summary.
func Analyze(ctx context.Context, engine *Engine, reader Reader, paths []string, stdin io.Reader) (*Analysis, error) {
	var findings []finding.Finding
	dropped := 0
	summary := newSummaryBuilder()
	requests := 0
	judged := func(rec Record, fs []finding.Finding) {
		requests++
		summary.observe(rec.Event)
		for _, f := range fs {
			if len(findings) >= maxFindings {
				dropped++
				continue
			}
			findings = append(findings, f)
		}
	}
	stats, err := reader.ReadFiles(ctx, paths, stdin, func(rec Record) error {
		engine.Feed(rec, judged)
		return nil
	})
	if err != nil {
		return nil, err
	}
	engine.Flush(judged)
	// Input that was not understood may have been the one event that
	// mattered: it is an error (exit 2) unless the caller accepts it.
	level := finding.LevelError
	if reader.AllowUnreadable {
		level = finding.LevelWarning
	}
	var problems []finding.Problem
	if stats.Events == 0 {
		problems = append(problems, finding.Problem{Level: finding.LevelError, Message: fmt.Sprintf(
			"no audit events understood in %d file(s) (%d non-blank line(s)): nothing was audited", stats.Files, stats.Lines)})
	}
	for _, s := range stats.Details {
		problems = append(problems, finding.Problem{File: s.File, Line: s.Line, Level: level, Message: "not read: " + s.Reason})
	}
	if extra := stats.Skipped - len(stats.Details); extra > 0 {
		problems = append(problems, finding.Problem{Level: level, Message: fmt.Sprintf("%d more lines or items not read", extra)})
	}
	// A detection that could not judge the requests it is about (the
	// policy logged no body) found nothing because it saw nothing: say
	// so, as an error unless the caller accepts partial input.
	for _, b := range engine.Blind() {
		problems = append(problems, finding.Problem{File: b.File, Line: b.Line, Level: level, Message: fmt.Sprintf(
			"%s cannot tell for %d request(s): %s (first: %s); log them at Request level or above, as 'palisade auditlog policy' does",
			listDetections(b.Detections), b.Requests, b.Reason, b.Example)})
	}
	if dropped > 0 {
		problems = append(problems, finding.Problem{Level: finding.LevelWarning, Message: fmt.Sprintf("%d findings beyond the first %d not kept", dropped, maxFindings)})
	}
	var infos []finding.RuleInfo
	seen := map[string]bool{}
	byID := map[string]*Detection{}
	for _, d := range engine.Detections() {
		byID[d.ID] = d
	}
	for _, f := range findings {
		if !seen[f.RuleID] {
			seen[f.RuleID] = true
			infos = append(infos, byID[f.RuleID].Info())
		}
	}
	r := finding.NewReport(findings, problems, stats.Events, infos)
	return &Analysis{Report: r, Access: summary.build(), Stats: stats, Requests: requests, Dropped: dropped}, nil
}

// listDetections names the detections of a blind spot, the first three
// and a count of the rest (the RBAC detections share their blind spots).
func listDetections(ids []string) string {
	if len(ids) <= 4 {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ids[:3], ", "), len(ids)-3)
}
