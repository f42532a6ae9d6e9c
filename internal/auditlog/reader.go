package auditlog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/valyala/fastjson"
)

// DefaultMaxEventBytes bounds one event line. The API server's own
// request limit is 3 MiB; events near it are bodies logged at
// RequestResponse level, which detections do not need whole.
const DefaultMaxEventBytes = 1 << 20

// maxSkipDetails bounds how many skipped lines are remembered by number.
const maxSkipDetails = 100

// Record is one event with where it was read.
type Record struct {
	Event *Event
	File  string
	Line  int
}

// Skip says why a line was not read.
type Skip struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// Stats count what a read saw.
type Stats struct {
	Files  int `json:"files"`
	Lines  int `json:"lines"`
	Events int `json:"events"`
	// Skipped counts lines, values and list items that were not audit
	// events (truncated, oversized, unsupported versions, not JSON, JSON
	// of something else).
	Skipped int `json:"skipped"`
	// Details lists the first skipped lines with their numbers.
	Details []Skip `json:"details,omitempty"`
}

func (s *Stats) skip(file string, line int, reason string) {
	s.Skipped++
	if len(s.Details) < maxSkipDetails {
		s.Details = append(s.Details, Skip{File: file, Line: line, Reason: reason})
	}
}

// Reader streams audit events from files or a stream.
type Reader struct {
	// MaxEventBytes bounds one line; 0 means DefaultMaxEventBytes.
	MaxEventBytes int
	// AllowUnreadable makes Analyze report what it could not read as
	// warnings instead of errors (exit code 2).
	AllowUnreadable bool
}

// ReadFiles reads files oldest first (by their first event's time, so
// rotated files are read in order whatever their names) and calls fn for
// each event. "-" reads stdin. Gzip files are recognised by content.
func (r Reader) ReadFiles(ctx context.Context, paths []string, stdin io.Reader, fn func(Record) error) (Stats, error) {
	var st Stats
	ordered, err := orderByFirstEvent(paths, r.max())
	if err != nil {
		return st, err
	}
	for _, p := range ordered {
		var in io.Reader
		var closeFn func() error
		if p == "-" {
			in, closeFn = stdin, func() error { return nil }
		} else {
			f, err := os.Open(p)
			if err != nil {
				return st, fmt.Errorf("audit log %s: %w", p, err)
			}
			in, closeFn = f, f.Close
		}
		err := r.Read(ctx, p, in, &st, fn)
		closeFn()
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

func (r Reader) max() int {
	if r.MaxEventBytes > 0 {
		return r.MaxEventBytes
	}
	return DefaultMaxEventBytes
}

// DefaultMaxDocumentBytes bounds one JSON value that spans several lines
// (a pretty-printed event or EventList); an array's elements are read one
// at a time, so a large array costs one element of memory.
const DefaultMaxDocumentBytes = 16 << 20

// maxLinePrefix bounds the text a line may carry before its JSON: the
// CRI log header ("2026-11-25T10:00:00.123Z stdout F "), a CloudWatch
// export's timestamp or a syslog header.
const maxLinePrefix = 256

// Read streams one file's events into fn, adding to st. It reads JSON
// lines, pretty-printed JSON values spanning lines, top-level arrays
// (element by element) and lines with a log prefix before the JSON; every
// line that is not an event is counted in st with its number.
func (r Reader) Read(ctx context.Context, name string, in io.Reader, st *Stats, fn func(Record) error) error {
	return r.read(ctx, name, in, st, fn, 0)
}

// read is Read stopping after maxLines lines when maxLines > 0.
func (r Reader) read(ctx context.Context, name string, in io.Reader, st *Stats, fn func(Record) error, maxLines int) error {
	st.Files++
	br, err := maybeGunzip(bufio.NewReaderSize(in, 256<<10))
	if err != nil {
		return fmt.Errorf("audit log %s: %w", name, err)
	}
	limit := r.max()
	fr := framer{name: name, st: st, maxDoc: max(DefaultMaxDocumentBytes, limit), fn: fn}
	line := 0
	buf := make([]byte, 0, 64<<10)
	for {
		if line%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if maxLines > 0 && line >= maxLines {
			return nil
		}
		var tooLong bool
		buf, tooLong, err = readLine(br, buf[:0], limit)
		if len(buf) == 0 && !tooLong && err == io.EOF {
			return fr.end(line)
		}
		line++
		st.Lines++
		if tooLong {
			fr.abandon(line, fmt.Sprintf("line longer than %d bytes (--max-event-size) not read", limit))
		} else if ferr := fr.line(line, buf); ferr != nil {
			return ferr
		}
		if err == io.EOF {
			return fr.end(line)
		}
		if err != nil {
			return fmt.Errorf("audit log %s: line %d: %w", name, line, err)
		}
	}
}

// framer cuts lines into JSON documents: a document is one line, or the
// lines of a value opened on one line and closed on a later one. A line
// that opens a value at column 0 while another is still open ends the
// open one as incomplete, so a truncated JSON line costs only that line.
type framer struct {
	name   string
	st     *Stats
	maxDoc int
	fn     func(Record) error
	dec    eventDecoder

	doc      []byte // the open multi-line document
	docLine  int    // its first line; 0 when none is open
	depth    jsonDepth
	dropping bool // the open document outgrew maxDoc: track, do not keep
	inArray  bool // inside a top-level array opened by a line "["

	// part joins a line the container runtime split: CRI "P" lines, or
	// Docker json-file records whose "log" does not end a line (both
	// split at 16 KiB, and RequestResponse events are often larger).
	part     []byte
	partLine int
	side     fastjson.Parser // reads Docker records when a line is not an event
}

func (f *framer) line(n int, b []byte) error {
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		f.st.Lines-- // blank lines are not events and not errors
		return nil
	}
	if content, partial, ok := criLine(t); ok {
		if partial {
			f.addPart(n, content)
			return nil
		}
		if len(f.part) > 0 {
			f.addPart(n, content)
			n, content = f.partLine, f.part
			defer f.resetPart()
		}
		t = bytes.TrimSpace(content)
		if len(t) == 0 {
			f.st.Lines-- // an empty log line
			return nil
		}
		b = t
	}
	if f.docLine > 0 {
		if b[0] != '{' && b[0] != '[' {
			return f.continueDoc(n, b)
		}
		f.abandon(n, "")
	}
	if f.inArray {
		switch string(bytes.TrimRight(t, ",")) {
		case "]":
			f.inArray = false
			return nil
		case "":
			return nil
		}
	}
	switch {
	case string(t) == "[" && !f.inArray:
		f.inArray = true
		return nil
	case t[0] == '{' || t[0] == '[':
		if last := t[len(t)-1]; last == '}' || last == ']' || last == ',' {
			// The usual JSON line: decode it whole before paying for a
			// pass of jsonDepth over it.
			if d, reason := f.dec.decode(bytes.TrimRight(t, ", \t")); reason == "" {
				return f.emitDecoded(n, d)
			}
		}
		f.depth = jsonDepth{}
		if f.depth.feed(t) {
			return f.emit(n, t)
		}
		f.doc, f.docLine, f.dropping = append(f.doc[:0], t...), n, false
		return nil
	}
	if i := bytes.IndexByte(t, '{'); i > 0 && i <= maxLinePrefix && !bytes.ContainsAny(t[:i], "\"[]") {
		return f.emit(n, t[i:])
	}
	f.st.skip(f.name, n, "not JSON")
	return nil
}

func (f *framer) continueDoc(n int, b []byte) error {
	if !f.dropping && len(f.doc)+len(b)+1 > f.maxDoc {
		f.dropping, f.doc = true, f.doc[:0]
	}
	if !f.dropping {
		f.doc = append(append(f.doc, '\n'), b...)
	}
	if !f.depth.feed(b) {
		return nil
	}
	start := f.docLine
	f.docLine = 0
	if f.dropping {
		f.st.skip(f.name, start, fmt.Sprintf("JSON value of lines %d-%d larger than %d bytes not read", start, n, f.maxDoc))
		return nil
	}
	return f.emit(start, f.doc)
}

// abandon ends the open document, if any, as incomplete, and reports the
// line n itself when reason is set.
func (f *framer) abandon(n int, reason string) {
	if f.docLine > 0 {
		f.st.skip(f.name, f.docLine, fmt.Sprintf("JSON value opened here is incomplete (line %d starts another or cannot be read)", n))
		f.docLine = 0
	}
	if reason != "" {
		f.st.skip(f.name, n, reason)
	}
}

func (f *framer) end(last int) error {
	if len(f.part) > 0 {
		f.st.skip(f.name, f.partLine, fmt.Sprintf("a line split by the container runtime (lines %d-%d) is never completed: truncated?", f.partLine, last))
		f.resetPart()
	}
	if f.docLine > 0 {
		f.st.skip(f.name, f.docLine, fmt.Sprintf("JSON value opened here is not closed by the end of the input (line %d): truncated?", last))
		f.docLine = 0
	}
	return nil
}

func (f *framer) emit(n int, doc []byte) error {
	doc = bytes.TrimRight(doc, ", \t\r\n")
	d, reason := f.dec.decode(doc)
	if reason != "" {
		if log, ok := f.dockerRecord(doc); ok {
			f.addPart(n, log)
			if !bytes.HasSuffix(log, []byte("\n")) {
				return nil // more of the line follows
			}
			n, doc = f.partLine, append([]byte(nil), f.part...)
			f.resetPart()
			if d, reason = f.dec.decode(bytes.TrimSpace(doc)); reason == "" {
				return f.emitDecoded(n, d)
			}
		}
		f.st.skip(f.name, n, reason)
		return nil
	}
	return f.emitDecoded(n, d)
}

func (f *framer) emitDecoded(n int, d decoded) error {
	for _, s := range d.skipped {
		f.st.skip(f.name, n, s)
	}
	for _, ev := range d.events {
		f.st.Events++
		if err := f.fn(Record{Event: ev, File: f.name, Line: n}); err != nil {
			return err
		}
	}
	return nil
}

// addPart appends a piece of a split line, dropping it past maxDoc.
func (f *framer) addPart(n int, piece []byte) {
	if len(f.part) == 0 {
		f.partLine = n
	}
	if len(f.part)+len(piece) > f.maxDoc {
		f.st.skip(f.name, f.partLine, fmt.Sprintf("a line split by the container runtime (lines %d-%d) is larger than %d bytes", f.partLine, n, f.maxDoc))
		f.resetPart()
		return
	}
	f.part = append(f.part, piece...)
}

func (f *framer) resetPart() { f.part, f.partLine = f.part[:0], 0 }

// dockerRecord recognises a Docker json-file record ({"log", "stream",
// "time"}) and returns its log text, when a line was not an event by
// itself: a piece of a split line, or its last piece.
func (f *framer) dockerRecord(doc []byte) ([]byte, bool) {
	v, err := f.side.ParseBytes(doc)
	if err != nil || v.Type() != fastjson.TypeObject || v.Get("stream") == nil {
		return nil, false
	}
	log := v.Get("log")
	if log == nil || log.Type() != fastjson.TypeString {
		return nil, false
	}
	s := log.GetStringBytes()
	if !bytes.HasSuffix(s, []byte("\n")) || len(f.part) > 0 {
		return s, true
	}
	return nil, false // a whole line that is not an event
}

// criLine splits a CRI container log line, "<time> <stream> <P|F> <text>",
// saying whether it is a partial line (more of it follows).
func criLine(t []byte) (content []byte, partial, ok bool) {
	if len(t) == 0 || t[0] < '0' || t[0] > '9' {
		return nil, false, false
	}
	fields := bytes.SplitN(t, []byte(" "), 4)
	if len(fields) < 3 {
		return nil, false, false
	}
	if s := string(fields[1]); s != "stdout" && s != "stderr" {
		return nil, false, false
	}
	if tag := string(fields[2]); tag != "P" && tag != "F" {
		return nil, false, false
	}
	if _, err := time.Parse(time.RFC3339Nano, string(fields[0])); err != nil {
		return nil, false, false
	}
	if len(fields) == 4 {
		content = fields[3]
	}
	return content, string(fields[2]) == "P", true
}

// jsonDepth follows the nesting of JSON text fed in pieces.
type jsonDepth struct {
	depth         int
	opened        bool
	inStr, escape bool
}

// feed reports whether the value opened so far closed within b.
func (j *jsonDepth) feed(b []byte) bool {
	for _, c := range b {
		switch {
		case j.escape:
			j.escape = false
		case j.inStr:
			switch c {
			case '\\':
				j.escape = true
			case '"':
				j.inStr = false
			}
		case c == '"':
			j.inStr = true
		case c == '{' || c == '[':
			j.depth++
			j.opened = true
		case c == '}' || c == ']':
			j.depth--
			if j.opened && j.depth <= 0 {
				return true
			}
		}
	}
	return false
}

// parseEvent decodes one document with a fresh decoder (tests, fuzzing).
func parseEvent(b []byte) (*Event, string) {
	var d eventDecoder
	out, reason := d.decode(b)
	if len(out.events) == 0 {
		return nil, reason
	}
	return out.events[0], ""
}

// readLine appends the next line (without its newline) to buf. A line
// longer than max is consumed but not kept, and tooLong is set.
func readLine(br *bufio.Reader, buf []byte, max int) ([]byte, bool, error) {
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > max+1 {
				tooLong, buf = true, buf[:0]
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		buf = bytes.TrimRight(buf, "\r\n")
		if tooLong {
			buf = buf[:0]
		}
		return buf, tooLong, err
	}
}

// maybeGunzip transparently decompresses gzip input.
func maybeGunzip(br *bufio.Reader) (*bufio.Reader, error) {
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return bufio.NewReaderSize(zr, 256<<10), nil
	}
	return br, nil
}

// orderByFirstEvent sorts files by the timestamp of their first readable
// event; files without one keep their place at the end, "-" last.
func orderByFirstEvent(paths []string, max int) ([]string, error) {
	type keyed struct {
		path  string
		first time.Time
		index int
	}
	var ks []keyed
	for i, p := range paths {
		k := keyed{path: p, index: i}
		if p != "-" {
			t, err := firstEventTime(p, max)
			if err != nil {
				return nil, err
			}
			k.first = t
		}
		ks = append(ks, k)
	}
	sort.SliceStable(ks, func(i, j int) bool {
		a, b := ks[i], ks[j]
		if a.first.IsZero() != b.first.IsZero() {
			return !a.first.IsZero()
		}
		return a.first.Before(b.first)
	})
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.path
	}
	return out, nil
}

// firstEventTime peeks at up to 100 lines for the first valid event.
func firstEventTime(path string, max int) (time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}, fmt.Errorf("audit log %s: %w", path, err)
	}
	defer f.Close()
	br, err := maybeGunzip(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return time.Time{}, fmt.Errorf("audit log %s: %w", path, err)
	}
	var first time.Time
	var st Stats
	errFound := errors.New("found")
	err = Reader{MaxEventBytes: max}.read(context.Background(), path, br, &st, func(rec Record) error {
		first = rec.Event.RequestReceived
		return errFound
	}, 1000)
	if err != nil && !errors.Is(err, errFound) {
		return time.Time{}, nil // the full read reports it
	}
	return first, nil
}
