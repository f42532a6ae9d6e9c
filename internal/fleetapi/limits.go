package fleetapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxReportItems bounds the JSON items of one report or batch request:
// every object and every array element counts once (a finding is at
// least two: the array element and its object). Bytes alone do not bound
// a report's memory: 32 MiB of `{},` decodes to ten million findings,
// which took a hub to gigabytes. Half a million items is far above what
// one agent report holds (the agent batches at most 4 MiB) and decodes
// to tens of megabytes at most.
const MaxReportItems = 500_000

// ErrTooLarge is a request over MaxReportBytes (decompressed) or
// MaxReportItems; the hub answers it 413 and the agent does not resend
// the request as it is.
var ErrTooLarge = errors.New("request too large")

// ItemLimitReader passes JSON through while counting its items (objects
// and array elements, outside strings) and fails with ErrTooLarge once
// they exceed max, so a decoder reading from it stops within one read of
// the limit, before it has decoded (allocated) anything: json.Decoder
// reads a whole value before it unmarshals it. It never buffers.
type ItemLimitReader struct {
	R     io.Reader
	Max   int
	items int
	// scanner state across reads
	inString, escaped bool
	// stack holds, per open bracket, whether it is an array, and
	// awaiting whether the array's next non-space byte starts an element.
	stack    []bool
	awaiting bool
}

// quoteOrBackslash is the index of the first '"' or '\\' in b, or -1.
func quoteOrBackslash(b []byte) int {
	q := bytes.IndexByte(b, '"')
	end := q
	if q < 0 {
		end = len(b)
	}
	if e := bytes.IndexByte(b[:end], '\\'); e >= 0 {
		return e
	}
	return q
}

// maxDepth bounds the bracket stack (json.Decoder refuses deeper values
// anyway).
const maxDepth = 10000

func (l *ItemLimitReader) Read(p []byte) (int, error) {
	n, err := l.R.Read(p)
	if cerr := l.Count(p[:n]); cerr != nil {
		return 0, cerr
	}
	return n, err
}

// Count counts the items of p, the next bytes of the JSON (R is not
// read): for a caller that has the bytes pushed to it, such as the hub
// inflating a body. It fails with ErrTooLarge once they exceed Max.
func (l *ItemLimitReader) Count(p []byte) error {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if l.inString {
			if l.escaped {
				l.escaped = false
				continue
			}
			// Most of a report's bytes are inside strings (messages,
			// names): jump to the next quote or backslash instead of
			// looking at every byte.
			j := quoteOrBackslash(p[i:])
			if j < 0 {
				break // the rest of this read is inside the string
			}
			i += j
			if p[i] == '\\' {
				l.escaped = true
			} else {
				l.inString = false
			}
			continue
		}
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			continue
		}
		if l.awaiting && c != ']' {
			l.items++
		}
		l.awaiting = false
		switch c {
		case '"':
			l.inString = true
		case '{', '[':
			if c == '{' {
				l.items++
			}
			if len(l.stack) >= maxDepth {
				return fmt.Errorf("JSON nested over %d deep: %w", maxDepth, ErrTooLarge)
			}
			l.stack = append(l.stack, c == '[')
			l.awaiting = c == '['
		case '}', ']':
			if len(l.stack) > 0 {
				l.stack = l.stack[:len(l.stack)-1]
			}
		case ',':
			l.awaiting = len(l.stack) > 0 && l.stack[len(l.stack)-1]
		}
		if l.items > l.Max {
			return fmt.Errorf("over %d JSON items: %w", l.Max, ErrTooLarge)
		}
	}
	return nil
}
