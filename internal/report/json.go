package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/finding"
)

// normalized returns a shallow copy of r whose findings and severity counts
// are never nil, so consumers always see an array and an object, not null.
func normalized(r *finding.Report) finding.Report {
	out := *r
	if out.Findings == nil {
		out.Findings = []finding.Finding{}
	}
	if out.Summary.BySeverity == nil {
		out.Summary.BySeverity = map[string]int{}
	}
	// Rules come in whatever order the scanner found them; sort a copy.
	out.Rules = slices.Clone(out.Rules)
	slices.SortStableFunc(out.Rules, func(a, b finding.RuleInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// marshalJSON encodes v with two-space indent. HTML escaping is off: the
// output is a file, not a web page, and "<" reads better than "\u003c".
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// writeJSON streams the report one finding at a time, so a report with
// tens of thousands of findings never needs a second copy in memory. The
// bytes are exactly those of marshalJSON(normalized(r)).
func writeJSON(w io.Writer, r *finding.Report) error {
	n := normalized(r)
	bw := bufio.NewWriterSize(w, 64<<10)
	if len(n.Findings) == 0 {
		bw.WriteString("{\n  \"findings\": [],\n")
	} else {
		bw.WriteString("{\n  \"findings\": [\n")
		if err := writeFindingsJSON(bw, n.Findings); err != nil {
			return err
		}
	}
	// The rest is small: encode it whole and splice it in after "findings".
	rest := n
	rest.Findings = nil
	b, err := marshalJSON(struct {
		Summary    finding.Summary      `json:"summary"`
		Problems   []finding.Problem    `json:"problems,omitempty"`
		Rules      []finding.RuleInfo   `json:"rules,omitempty"`
		Compliance []finding.Compliance `json:"compliance,omitempty"`
	}{rest.Summary, rest.Problems, rest.Rules, rest.Compliance})
	if err != nil {
		return err
	}
	bw.Write(b[2:]) // drop the opening "{\n"
	return bw.Flush()
}

// findingChunk is how many findings one worker encodes at a time.
const findingChunk = 512

// writeFindingsJSON writes the items of the "findings" array, and its
// closing bracket, in order. Large reports (120,000 findings for 10,000
// workloads) spent a serial tenth of a scan here, so chunks of findings
// are encoded on every core and written in order as they complete; at
// most twice as many chunks as workers are held at once.
func writeFindingsJSON(w io.Writer, fs []finding.Finding) error {
	chunks := (len(fs) + findingChunk - 1) / findingChunk
	workers := min(runtime.GOMAXPROCS(0), chunks)
	type encoded struct {
		buf []byte
		err error
	}
	results := make([]chan encoded, chunks)
	for i := range results {
		results[i] = make(chan encoded, 1)
	}
	free := make(chan []byte, 2*workers)
	for range cap(free) {
		free <- nil
	}
	jobs := make(chan int)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(jobs)
		for i := range chunks {
			select {
			case jobs <- i:
			case <-stop:
				return
			}
		}
	}()
	for range workers {
		go func() {
			for {
				// The buffer first, then the job: a worker that took the
				// next chunk and then waited for a buffer, all held by
				// later chunks waiting to be written, would deadlock.
				var buf []byte
				select {
				case buf = <-free:
				case <-stop:
					return
				}
				i, ok := <-jobs
				if !ok {
					return
				}
				buf, err := encodeFindings(buf[:0], fs, i*findingChunk, min((i+1)*findingChunk, len(fs)))
				results[i] <- encoded{buf, err}
			}
		}()
	}
	for i := range chunks {
		r := <-results[i]
		if r.err != nil {
			return r.err
		}
		if _, err := w.Write(r.buf); err != nil {
			return err
		}
		free <- r.buf
	}
	return nil
}

// encodeFindings appends the array items of fs[from:to], each with the
// separator that follows it.
func encodeFindings(out []byte, fs []finding.Finding, from, to int) ([]byte, error) {
	for i := from; i < to; i++ {
		out = append(out, "    "...)
		var err error
		if out, err = appendFinding(out, &fs[i]); err != nil {
			return out, fmt.Errorf("encode JSON: finding %d: %w", i, err)
		}
		if i < len(fs)-1 {
			out = append(out, ",\n"...)
		} else {
			out = append(out, "\n  ],\n"...)
		}
	}
	return out, nil
}

// writeYAML goes through JSON (sigs.k8s.io/yaml does), so the field names
// are the JSON ones; keys come out sorted, which keeps the output stable.
func writeYAML(buf *bytes.Buffer, r *finding.Report) error {
	b, err := yaml.Marshal(normalized(r))
	if err != nil {
		return fmt.Errorf("encode YAML: %w", err)
	}
	buf.Write(b)
	return nil
}
