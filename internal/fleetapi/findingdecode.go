package fleetapi

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/jsonenc"
)

// A hand-written decoder for the findings the agent writes. Decoding a
// 500-pod snapshot's 7,130 findings with the reflective decoder was the
// largest single cost of a snapshot on the hub (bench/hub/README.md);
// this one reads the JSON the agent's encoding/json writes for a
// workload finding — the members of finding.Finding and ObjectRef, plain
// strings with the escapes encoding/json writes, an integer line, a
// suppression with a kind and a reason — and nothing else.
//
// Its contract is differential (FuzzDecodeFindingFast): for every input
// it either gives up, or gives exactly the finding the reflective
// decoder (UnmarshalFinding's github.com/go-json-experiment/json, and
// encoding/json too) gives for the same bytes. It gives up on anything it
// does not read itself: a member it does not know (the reflective
// decoder ignores it), a repeated member or invalid UTF-8 (the reflective
// decoder refuses them, with its error), null, a surrogate escape, a
// number that is not a plain integer, a severity not written upper-case,
// a vulnerability, an expiry. The caller then decodes the same bytes with
// the reflective decoder, so what the hub accepts and refuses is the
// reflective decoder's.

// findingDecoder decodes findings with the fast path; its string table
// gives the values repeated across a report's findings (rule IDs,
// titles, remediations, object names) one allocation each. It is not safe
// for concurrent use.
type findingDecoder struct {
	// share: intern the repeated values (a report's decoder; a decoder
	// of one finding would only pay for the table).
	share bool
	// reflectiveOnly: every finding by the reflective decoder
	// (DecodeReportReflective).
	reflectiveOnly bool
	// partial: a snapshot's objects sent with a digest are read partially
	// (ObjectFindings.Partial; DecodeReportBodyPartial).
	partial bool
	strs    map[string]string
	scratch []byte
	// findings and raw hold the findings of a report's objects, one
	// slab each instead of slices grown object by object; an object's
	// are a sub-slice (readFindings).
	findings []finding.Finding
	raw      [][]byte
	// items counts the JSON items read (objects and array elements, as
	// ItemLimitReader counts them); past maxItems (0: no bound) the
	// decoder stops with tooMany set. decoded counts the findings read;
	// when bounded, the decoder gives up on findings packed denser than
	// real ones (see DecodeReportBodyWithin).
	items, maxItems int
	tooMany         bool
	decoded         int
	bounded         bool
}

// item counts one JSON item; false past the bound (tooMany).
func (d *findingDecoder) item() bool {
	d.items++
	if d.maxItems > 0 && d.items > d.maxItems {
		d.tooMany = true
		return false
	}
	return true
}

// slabSize is how many findings a slab of findingDecoder holds.
const slabSize = 1024

// grow makes room in the slabs for one more finding of the object whose
// findings start at first, and returns where they start then: a full
// slab is replaced by a new one, to which the object's findings read so
// far move (the earlier objects keep their slices of the old slab).
func (d *findingDecoder) grow(first int) int {
	if len(d.findings) < cap(d.findings) {
		return first
	}
	n := len(d.findings) - first
	size := max(slabSize, 2*n)
	findings, raw := make([]finding.Finding, n, size), make([][]byte, n, size)
	copy(findings, d.findings[first:])
	copy(raw, d.raw[first:])
	d.findings, d.raw = findings, raw
	return 0
}

// maxInterned bounds the strings the table keeps: past it, strings are
// allocated each time (a hostile report of distinct values cannot grow
// the table beyond this).
const maxInterned = 1 << 14

// decode decodes data, the whole of one finding's JSON, into *f; false
// when data is outside the subset (see above), with *f then unspecified.
func (d *findingDecoder) decode(data []byte, f *finding.Finding) bool {
	*f = finding.Finding{}
	s := findingScan{d: d, data: data}
	if !s.finding(f) {
		return false
	}
	s.ws()
	return s.pos == len(data)
}

// findingScan is one decode's position in its data.
type findingScan struct {
	d    *findingDecoder
	data []byte
	pos  int
	// full: the findings delta being read said "full": true before its
	// objects (a snapshot, as the agent writes it).
	full bool
	// partial: the finding being read keeps only what the counters read
	// (see ObjectFindings.Partial); skip: the string being read is
	// checked as str checks it but not made (an ignored field of a
	// partial finding).
	partial, skip bool
}

// Members of a finding, as bits of the set of members seen.
const (
	mRuleID = 1 << iota
	mSeverity
	mTitle
	mMessage
	mObject
	mFile
	mLine
	mField
	mContainer
	mSuppressed
	mSuppression
	mRemediation
)

func (s *findingScan) finding(f *finding.Finding) bool {
	return s.object(func(name []byte) (bit uint32, ok bool) {
		switch string(name) {
		case "ruleID":
			bit = mRuleID
			f.RuleID, ok = s.str(true)
		case "severity":
			bit = mSeverity
			f.Severity, ok = s.severity()
		case "title":
			bit = mTitle
			f.Title, ok = s.str(true)
		case "message":
			bit = mMessage
			f.Message, ok = s.ignorable(false)
		case "object":
			bit = mObject
			s.skip = s.partial
			ok = s.objectRef(&f.Object)
			s.skip = false
		case "file":
			bit = mFile
			f.File, ok = s.ignorable(true)
		case "line":
			bit = mLine
			f.Line, ok = s.integer()
		case "field":
			bit = mField
			f.Field, ok = s.ignorable(true)
		case "container":
			bit = mContainer
			f.Container, ok = s.ignorable(true)
		case "suppressed":
			bit = mSuppressed
			f.Suppressed, ok = s.boolean()
		case "suppression":
			bit = mSuppression
			f.Suppression = &finding.Suppression{}
			s.skip = s.partial
			ok = s.suppression(f.Suppression)
			s.skip = false
		case "remediation":
			bit = mRemediation
			f.Remediation, ok = s.ignorable(true)
		}
		return bit, ok
	})
}

func (s *findingScan) objectRef(o *finding.ObjectRef) bool {
	return s.object(func(name []byte) (bit uint32, ok bool) {
		switch string(name) {
		case "apiVersion":
			bit = 1
			o.APIVersion, ok = s.str(true)
		case "kind":
			bit = 2
			o.Kind, ok = s.str(true)
		case "namespace":
			bit = 4
			o.Namespace, ok = s.str(true)
		case "name":
			bit = 8
			o.Name, ok = s.str(true)
		}
		return bit, ok
	})
}

func (s *findingScan) suppression(p *finding.Suppression) bool {
	return s.object(func(name []byte) (bit uint32, ok bool) {
		switch string(name) {
		case "kind":
			bit = 1
			p.Kind, ok = s.str(true)
		case "reason":
			bit = 2
			p.Reason, ok = s.str(false)
		}
		return bit, ok // "expires" too (0, false): the reflective decoder reads times
	})
}

// object reads a JSON object, calling member with each member's name
// (positioned at its value), which reads the value and returns the
// member's bit (0 for a member it does not know) and whether it read it.
// An unknown member, a value not read or a member seen twice (its bit
// again) gives up.
func (s *findingScan) object(member func(name []byte) (bit uint32, ok bool)) bool {
	s.ws()
	if !s.byte('{') || !s.d.item() {
		return false
	}
	s.ws()
	if s.byte('}') {
		return true
	}
	var seen uint32
	for {
		s.ws()
		name, ok := s.rawName()
		if !ok {
			return false
		}
		s.ws()
		if !s.byte(':') {
			return false
		}
		s.ws()
		bit, ok := member(name)
		if !ok || bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		s.ws()
		if s.byte('}') {
			return true
		}
		if !s.byte(',') {
			return false
		}
	}
}

// byte consumes c if it is next.
func (s *findingScan) byte(c byte) bool {
	if s.pos < len(s.data) && s.data[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

// ws skips JSON white space.
func (s *findingScan) ws() { s.pos = jsonenc.SkipSpace(s.data, s.pos) }

// rawName reads a member name that is plain ASCII without escapes (every
// name the fast path knows is): anything else gives up.
func (s *findingScan) rawName() ([]byte, bool) {
	if !s.byte('"') {
		return nil, false
	}
	start := s.pos
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		if c == '"' {
			name := s.data[start:s.pos]
			s.pos++
			return name, true
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return nil, false
		}
		s.pos++
	}
	return nil, false
}

// plainByte marks the bytes a string value holds as they are: not the
// quote, not the backslash, not a control character, ASCII.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainRun is how many bytes of b from i on are plainByte. Eight bytes
// at a time while none of them can be special (plainWord), then byte by
// byte: a finding's strings are mostly long plain runs (issue #17: this
// loop was 7 % of the hub's CPU under snapshots, byte by byte).
func plainRun(b []byte, i int) int {
	j := i
	for j+8 <= len(b) && plainWord(binary.LittleEndian.Uint64(b[j:])) {
		j += 8
	}
	for j < len(b) && plainByte[b[j]] {
		j++
	}
	return j - i
}

// plainWord reports whether the eight bytes of x are all plainByte. Each
// test is the exact "some byte is zero" (or "below n") test of a word:
// it may be true for a plain word only where another byte makes it true
// anyway, so a false answer just sends the word to the byte loop
// (TestPlainRun against the byte loop).
func plainWord(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q, b := x^'"'*ones, x^'\\'*ones // a zero byte where x has a quote, a backslash
	control := (x - 0x20*ones) &^ x // a byte below 0x20
	quote := (q - ones) &^ q
	backslash := (b - ones) &^ b
	return (control|quote|backslash|x)&highs == 0
}

// ignorable reads a string value of a finding that a partial finding
// does not keep: checked as str checks it, made only when the finding is
// read whole.
func (s *findingScan) ignorable(intern bool) (string, bool) {
	s.skip = s.partial
	v, ok := s.str(intern)
	s.skip = false
	return v, ok
}

// str reads a string value; intern shares its value with equal ones of
// the decoder (for the values findings repeat; a message is unique).
// With skip set it checks the value the same way and returns "".
func (s *findingScan) str(intern bool) (string, bool) {
	if !s.byte('"') {
		return "", false
	}
	start := s.pos
	ascii := true
	for {
		s.pos += plainRun(s.data, s.pos)
		if s.pos >= len(s.data) {
			return "", false
		}
		switch c := s.data[s.pos]; {
		case c == '"':
			raw := s.data[start:s.pos]
			s.pos++
			if !ascii && !utf8.Valid(raw) {
				return "", false
			}
			if s.skip {
				return "", true
			}
			return s.d.text(raw, intern), true
		case c == '\\':
			return s.escaped(start, intern)
		case c < 0x20:
			return "", false
		default:
			ascii = false
			s.pos++
		}
	}
}

// escaped finishes reading a string value that holds escapes, from its
// first byte at start (s.pos is at the first backslash).
func (s *findingScan) escaped(start int, intern bool) (string, bool) {
	if s.skip {
		return "", s.skipEscaped(start)
	}
	b := append(s.d.scratch[:0], s.data[start:s.pos]...)
	defer func() { s.d.scratch = b[:0] }()
	for {
		n := plainRun(s.data, s.pos)
		b = append(b, s.data[s.pos:s.pos+n]...)
		s.pos += n
		if s.pos >= len(s.data) {
			return "", false
		}
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			if !utf8.Valid(b) {
				return "", false
			}
			if s.skip {
				return "", true
			}
			return s.d.text(b, intern), true
		case c < 0x20:
			return "", false
		case c != '\\':
			b = append(b, c)
			s.pos++
			continue
		}
		if s.pos+1 >= len(s.data) {
			return "", false
		}
		e := s.data[s.pos+1]
		s.pos += 2
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(s.data, s.pos)
			if !ok || (r >= 0xD800 && r <= 0xDFFF) {
				return "", false // surrogates: the reflective decoder pairs or refuses them
			}
			b = utf8.AppendRune(b, r)
			s.pos += 4
		default:
			return "", false
		}
	}
}

// skipEscaped checks the rest of a string value that holds escapes as
// escaped does, without making it. The value's bytes between escapes
// are checked as UTF-8 run by run: an escape stands for ASCII or a whole
// character, never a byte that continues or starts a sequence across it,
// so the value decoded is valid UTF-8 exactly when every run is
// (TestDecodeReportBodyPartial, FuzzDecodeReportBodyPartial).
func (s *findingScan) skipEscaped(start int) bool {
	run, ascii := start, false // str did not say whether its run was ASCII
	for {
		s.pos += plainRun(s.data, s.pos)
		if s.pos >= len(s.data) {
			return false
		}
		c := s.data[s.pos]
		switch {
		case c == '"':
			ok := ascii || utf8.Valid(s.data[run:s.pos])
			s.pos++
			return ok
		case c < 0x20:
			return false
		case c != '\\':
			ascii = false
			s.pos++
			continue
		}
		if !ascii && !utf8.Valid(s.data[run:s.pos]) {
			return false
		}
		if s.pos+1 >= len(s.data) {
			return false
		}
		e := s.data[s.pos+1]
		s.pos += 2
		switch e {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			r, ok := hex4(s.data, s.pos)
			if !ok || (r >= 0xD800 && r <= 0xDFFF) {
				return false
			}
			s.pos += 4
		default:
			return false
		}
		run, ascii = s.pos, true
	}
}

// hex4 reads the four hexadecimal digits of a \u escape at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// text makes b a string, from the table when interned.
func (d *findingDecoder) text(b []byte, intern bool) string {
	if !intern || !d.share {
		return string(b)
	}
	if v, ok := d.strs[string(b)]; ok {
		return v
	}
	v := string(b)
	if d.strs == nil {
		d.strs = make(map[string]string, 256)
	}
	if len(d.strs) < maxInterned {
		d.strs[v] = v
	}
	return v
}

// severity reads a severity written as the agent writes it, upper-case
// (finding.Severity.MarshalText); other spellings the reflective decoder
// reads (ParseSeverity is case-insensitive) or refuses.
func (s *findingScan) severity() (finding.Severity, bool) {
	if !s.byte('"') {
		return 0, false
	}
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= 'A' && s.data[s.pos] <= 'Z' {
		s.pos++
	}
	if !s.byte('"') {
		return 0, false
	}
	switch string(s.data[start : s.pos-1]) {
	case "UNKNOWN":
		return finding.SeverityUnknown, true
	case "LOW":
		return finding.SeverityLow, true
	case "MEDIUM":
		return finding.SeverityMedium, true
	case "HIGH":
		return finding.SeverityHigh, true
	case "CRITICAL":
		return finding.SeverityCritical, true
	}
	return 0, false
}

// integer reads a JSON integer without fraction or exponent that fits an
// int.
func (s *findingScan) integer() (int, bool) {
	start := s.pos
	s.byte('-')
	if !s.digits() {
		return 0, false
	}
	n, err := strconv.ParseInt(string(s.data[start:s.pos]), 10, strconv.IntSize)
	return int(n), err == nil
}

// digits reads the digits of a JSON number that has neither fraction
// nor exponent (JSON's grammar: no leading zeros).
func (s *findingScan) digits() bool {
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	if s.pos == start || (s.data[start] == '0' && s.pos-start > 1) {
		return false
	}
	if s.pos < len(s.data) {
		if c := s.data[s.pos]; c == '.' || c == 'e' || c == 'E' {
			return false
		}
	}
	return true
}

// boolean reads true or false.
func (s *findingScan) boolean() (bool, bool) {
	rest := s.data[s.pos:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		s.pos += 4
		return true, true
	case len(rest) >= 5 && string(rest[:5]) == "false":
		s.pos += 5
		return false, true
	}
	return false, false
}
