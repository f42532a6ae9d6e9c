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
	// Skipped counts lines that were not events of audit.k8s.io/v1
	// (truncated, oversized, other versions, not JSON).
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

// Read streams one file's events into fn, adding to st.
func (r Reader) Read(ctx context.Context, name string, in io.Reader, st *Stats, fn func(Record) error) error {
	st.Files++
	br, err := maybeGunzip(bufio.NewReaderSize(in, 256<<10))
	if err != nil {
		return fmt.Errorf("audit log %s: %w", name, err)
	}
	max := r.max()
	var dec eventDecoder
	line := 0
	buf := make([]byte, 0, 64<<10)
	for {
		if line%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		var tooLong bool
		buf, tooLong, err = readLine(br, buf[:0], max)
		if len(buf) == 0 && err == io.EOF {
			return nil
		}
		line++
		st.Lines++
		switch {
		case tooLong:
			st.skip(name, line, fmt.Sprintf("event larger than %d bytes", max))
		case len(bytes.TrimSpace(buf)) == 0:
			st.Lines-- // blank lines are not events and not errors
		default:
			ev, reason := dec.decode(buf, false)
			if ev == nil {
				st.skip(name, line, reason)
			} else {
				st.Events++
				if ferr := fn(Record{Event: ev, File: name, Line: line}); ferr != nil {
					return ferr
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("audit log %s: line %d: %w", name, line, err)
		}
	}
}

// parseEvent decodes one line with a fresh decoder (tests, peeking).
func parseEvent(b []byte) (*Event, string) {
	var d eventDecoder
	return d.decode(b, false)
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
	var buf []byte
	for range 100 {
		var tooLong bool
		buf, tooLong, err = readLine(br, buf[:0], max)
		if !tooLong && len(buf) > 0 {
			if ev, _ := parseEvent(buf); ev != nil {
				return ev.RequestReceived, nil
			}
		}
		if err != nil {
			break
		}
	}
	return time.Time{}, nil
}
