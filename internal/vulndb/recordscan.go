package vulndb

import (
	"time"
	"unicode/utf8"

	"github.com/palisade-sec/palisade/internal/jsonenc"
)

// recordScanner fills recordKeys from a record's JSON bytes, without
// reflection and without a tokenizer's state machine: the common record
// (plain ASCII member names, kept strings without escapes, RFC 3339
// times in UTC, no repeated member, nesting under maxScanDepth) is read
// here, and on anything else (a repeated member, a null where a value
// is kept, an escaped or non-ASCII name, a \u escape of a surrogate,
// any syntax or type error) it gives up, and parseStripped decodes
// the record again through encoding/json/v2, whose verdict and error
// are then the answer. So the scanner only has to be right about what
// it accepts, never about how a record is refused: it accepts only
// strict JSON (RFC 8259's grammar, strings in valid UTF-8), a subset of
// what the general decoder accepts, and keeps what that decoder keeps.
// FuzzRecordKeysMatchRecord holds both paths to ParseRecord.
//
// The zero value is ready; it is reused for the records of one batch
// and is not safe for concurrent use.
type recordScanner struct {
	data  []byte
	pos   int
	depth int
	// bad is sticky: once set, every read returns at once and the
	// caller falls back to the general decoder.
	bad bool
	// interned holds the batch's ecosystems and range types, which
	// repeat in nearly every record, so that each is copied out once.
	interned map[string]string
	// gaps are the runs of white space between tokens that the scan
	// skipped, in order, so that a record read whole can be stripped in
	// place by moving the bytes between them (strip) instead of reading it
	// again byte by byte; manyGaps is set past maxGaps runs, and the
	// record is then stripped by appendStripped.
	gaps     []gap
	manyGaps bool
	// keys is the record being read, its lists reused from record to
	// record (their elements are copied out by parseInto).
	keys recordKeys
	// published is where a record's published time is read to: it is
	// checked, not kept.
	published time.Time
	// lastName is the last package name read (pkg).
	lastName string
}

// gap is a run data[start:end] of white space between two tokens.
type gap struct{ start, end int }

// maxGaps bounds the runs of white space a scan remembers (a record
// indented one member a line has a few dozen): a hostile record of
// millions of runs is stripped by appendStripped instead.
const maxGaps = 4096

// maxScanDepth bounds the scanner's recursion; deeper JSON (encoding/json/v2
// allows 10,000 levels) is left to the general decoder.
const maxScanDepth = 256

// scan reads data into k and reports whether it could.
func (s *recordScanner) scan(data []byte, k *recordKeys) bool {
	*s = recordScanner{data: data, interned: s.interned, gaps: s.gaps[:0], keys: s.keys, lastName: s.lastName}
	s.record(k)
	s.space()
	return !s.bad && s.pos == len(s.data)
}

func (s *recordScanner) fail() { s.bad = true }

// space skips JSON whitespace, noting the run skipped. Every run of white
// space outside strings in JSON that the scanner accepts is skipped here
// (between any two tokens, and before and after the value), so the gaps
// of an accepted record are all of its white space but the strings'.
func (s *recordScanner) space() {
	i := s.pos
	if i >= len(s.data) {
		return
	}
	switch s.data[i] {
	case ' ', '\t', '\n', '\r':
	default:
		return // the common case in compact JSON: nothing to skip
	}
	s.pos = jsonenc.SkipSpace(s.data, i+1)
	if len(s.gaps) == maxGaps {
		s.manyGaps = true
		return
	}
	s.gaps = append(s.gaps, gap{i, s.pos})
}

// strip removes the white space between the tokens of the record just
// scanned (which must have been accepted), in place, and returns the
// record without it: what appendStripped returns, without reading the
// record a second time.
func (s *recordScanner) strip() []byte {
	d := s.data
	if s.manyGaps {
		return appendStripped(d[:0], d)
	}
	w, from := 0, 0
	for _, g := range s.gaps {
		w += copy(d[w:], d[from:g.start])
		from = g.end
	}
	w += copy(d[w:], d[from:])
	return d[:w]
}

// peek returns the next byte after whitespace, or 0 at the end.
func (s *recordScanner) peek() byte {
	s.space()
	if s.bad || s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

// open consumes the opening byte of an object or array and reports
// whether it was there.
func (s *recordScanner) open(c byte) bool {
	if s.peek() != c {
		s.fail()
		return false
	}
	s.pos++
	return true
}

// first reports whether an object or array just opened has an element
// (consuming the closing byte if it has none).
func (s *recordScanner) first(closing byte) bool {
	if c := s.peek(); c == closing {
		s.pos++
		return false
	}
	return !s.bad
}

// next consumes the separator after an element and reports whether
// another follows (consuming the closing byte if none does).
func (s *recordScanner) next(closing byte) bool {
	switch s.peek() {
	case ',':
		s.pos++
		return true
	case closing:
		s.pos++
		return false
	}
	s.fail()
	return false
}

// str consumes a JSON string and returns its bytes between the quotes
// and whether it has escapes. Control characters, malformed escapes,
// escapes of surrogates and invalid UTF-8 fail.
func (s *recordScanner) str() (raw []byte, escaped bool) {
	if s.peek() != '"' {
		s.fail()
		return nil, false
	}
	start := s.pos + 1
	ascii := true
	for i := start; i < len(s.data); i++ {
		switch c := s.data[i]; {
		case c == '"':
			s.pos = i + 1
			raw = s.data[start:i]
			if !ascii && !utf8.Valid(raw) {
				s.fail()
			}
			return raw, escaped
		case c < 0x20:
			s.fail()
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		case c == '\\':
			escaped = true
			if i+1 >= len(s.data) {
				s.fail()
				return nil, false
			}
			i++
			switch s.data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(s.data) {
					s.fail()
					return nil, false
				}
				var r rune
				for _, h := range s.data[i+1 : i+5] {
					switch {
					case '0' <= h && h <= '9':
						r = r<<4 | rune(h-'0')
					case 'a' <= h && h <= 'f':
						r = r<<4 | rune(h-'a'+10)
					case 'A' <= h && h <= 'F':
						r = r<<4 | rune(h-'A'+10)
					default:
						s.fail()
						return nil, false
					}
				}
				if 0xD800 <= r && r <= 0xDFFF {
					s.fail() // pairs and lone halves: the general decoder's rules
					return nil, false
				}
				i += 4
			default:
				s.fail()
				return nil, false
			}
		}
	}
	s.fail()
	return nil, false
}

// number consumes a JSON number (RFC 8259's grammar).
func (s *recordScanner) number() {
	d := s.data
	i := s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	digits := func() bool {
		j := i
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
		return i > j
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case !digits():
		s.fail()
		return
	}
	if i < len(d) && d[i] == '.' {
		i++
		if !digits() {
			s.fail()
			return
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if !digits() {
			s.fail()
			return
		}
	}
	s.pos = i
}

// literal consumes true, false or null.
func (s *recordScanner) literal(word string) {
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		s.fail()
		return
	}
	s.pos += len(word)
}

// value consumes any JSON value and returns it as written (what a
// json.RawMessage is given).
func (s *recordScanner) value() []byte {
	c := s.peek()
	start := s.pos
	switch {
	case c == '"':
		s.str()
	case c == '{' || c == '[':
		if s.depth++; s.depth > maxScanDepth {
			s.fail()
			return nil
		}
		s.pos++
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		for more := s.first(closing); more; more = s.next(closing) {
			if c == '{' {
				s.str()
				s.colon()
			}
			s.value()
		}
		s.depth--
	case c == 't':
		s.literal("true")
	case c == 'f':
		s.literal("false")
	case c == 'n':
		s.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		s.number()
	default:
		s.fail()
	}
	if s.bad {
		return nil
	}
	return s.data[start:s.pos]
}

func (s *recordScanner) colon() {
	if s.peek() != ':' {
		s.fail()
		return
	}
	s.pos++
}

// Member names as encoding/json/v2 matches them with
// MatchCaseInsensitiveNames: ASCII letters upper-cased, '_' and '-'
// dropped. A name that folds longer than any field's is no field.
const maxFoldedName = len("ECOSYSTEMSPECIFIC")

// name consumes a member name and its colon and returns the folded
// name; an escaped or non-ASCII name (which could fold to a field's
// name by Unicode rules) fails.
func (s *recordScanner) name(fold *[maxFoldedName]byte) []byte {
	raw, escaped := s.str()
	s.colon()
	if s.bad || escaped {
		s.fail()
		return nil
	}
	n := 0
	for _, c := range raw {
		switch {
		case c >= utf8.RuneSelf:
			s.fail()
			return nil
		case c == '_' || c == '-':
		case n < 0:
		case n == maxFoldedName:
			n = -1
		default:
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			fold[n] = c
			n++
		}
	}
	if n < 0 {
		return nil
	}
	return fold[:n]
}

// once marks field bit as read in seen, failing on a repeated member
// (encoding/json/v2 merges or replaces; the general decoder decides).
func (s *recordScanner) once(seen *uint32, bit uint) {
	if *seen&(1<<bit) != 0 {
		s.fail()
	}
	*seen |= 1 << bit
}

// checkString is jsonString: a string or null, not kept.
func (s *recordScanner) checkString() {
	switch s.peek() {
	case '"':
		s.str()
	case 'n':
		s.literal("null")
	default:
		s.fail()
	}
}

// plainBytes reads a kept string, one without escapes (so its bytes,
// valid UTF-8, are its value), and returns its bytes in the record (nil
// when it fails), to be copied out before the record is stripped in place.
func (s *recordScanner) plainBytes() []byte {
	raw, escaped := s.str()
	if s.bad || escaped {
		s.fail()
		return nil
	}
	return raw
}

// plainString is plainBytes copied out of the record.
func (s *recordScanner) plainString() string {
	return string(s.plainBytes())
}

// maxInterned bounds interned: a batch of hostile records naming a new
// ecosystem each stops being interned, not remembered.
const maxInterned = 256

// internedString is plainString for a value that repeats across
// records (an ecosystem, a range type).
func (s *recordScanner) internedString() string {
	raw := s.plainBytes()
	if s.bad {
		return ""
	}
	if v, ok := s.interned[string(raw)]; ok {
		return v
	}
	v := string(raw)
	if s.interned == nil {
		s.interned = make(map[string]string)
	}
	if len(s.interned) < maxInterned {
		s.interned[v] = v
	}
	return v
}

// timeValue reads a time of the form 2006-01-02T15:04:05[.999999999]Z,
// which encoding/json/v2 parses with time.Time.UnmarshalText and no
// further check.
func (s *recordScanner) timeValue() time.Time {
	raw, _ := s.str()
	var t time.Time
	if s.bad || !plainUTCTime(raw) || t.UnmarshalText(raw) != nil {
		s.fail()
	}
	return t
}

// plainUTCTime reports whether b is 2006-01-02T15:04:05Z with an
// optional fraction of 1–9 digits.
func plainUTCTime(b []byte) bool {
	const layout = "dddd-dd-ddTdd:dd:dd"
	if len(b) < len(layout)+1 || b[len(b)-1] != 'Z' {
		return false
	}
	for i := 0; i < len(layout); i++ {
		if layout[i] == 'd' {
			if b[i] < '0' || b[i] > '9' {
				return false
			}
		} else if b[i] != layout[i] {
			return false
		}
	}
	frac := b[len(layout) : len(b)-1]
	if len(frac) == 0 {
		return true
	}
	if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
		return false
	}
	for _, c := range frac[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// list consumes the start of an array and reports whether it has an
// element; null is an empty list (a nil slice). Its elements are read
// with for more := s.list(); more; more = s.next(']').
func (s *recordScanner) list() bool {
	if s.peek() == 'n' {
		s.literal("null")
		return false
	}
	return s.open('[') && s.first(']')
}

// object consumes the start of an object and reports whether it has a
// member. Its members are read with
// for more := s.object(); more; more = s.next('}').
func (s *recordScanner) object() bool {
	return s.open('{') && s.first('}')
}

// strings consumes a list of jsonString and returns its length.
func (s *recordScanner) strings() int {
	n := 0
	for more := s.list(); more; more = s.next(']') {
		s.checkString()
		n++
	}
	return n
}

// typeScores consumes a list of severityKeys or referenceKeys (objects
// whose members a and b are strings or null, nothing kept, so a
// repeated member is harmless; a null element is their zero value) and
// returns its length.
func (s *recordScanner) typeScores(a, b string) int {
	n := 0
	var fold [maxFoldedName]byte
	for more := s.list(); more; more = s.next(']') {
		n++
		if s.peek() == 'n' {
			s.literal("null")
			continue
		}
		for more := s.object(); more; more = s.next('}') {
			if n := string(s.name(&fold)); n == a || n == b {
				s.checkString()
			} else {
				s.value()
			}
		}
	}
	return n
}

func (s *recordScanner) record(k *recordKeys) {
	var fold [maxFoldedName]byte
	var seen uint32
	for more := s.object(); more; more = s.next('}') {
		switch string(s.name(&fold)) {
		case "SCHEMAVERSION":
			s.once(&seen, 0)
			s.checkString()
		case "ID":
			s.once(&seen, 1)
			k.ID = s.plainString()
		case "MODIFIED":
			s.once(&seen, 2)
			k.Modified = s.timeValue()
		case "PUBLISHED":
			s.once(&seen, 3)
			s.published = s.timeValue()
			k.Published = &s.published
		case "WITHDRAWN":
			s.once(&seen, 4)
			t := s.timeValue()
			k.Withdrawn = &t
		case "ALIASES":
			s.once(&seen, 5)
			for more := s.list(); more; more = s.next(']') {
				k.Aliases = append(k.Aliases, s.plainString())
			}
		case "UPSTREAM":
			s.once(&seen, 6)
			k.Upstream = make([]jsonString, s.strings())
		case "RELATED":
			s.once(&seen, 7)
			k.Related = make([]jsonString, s.strings())
		case "SUMMARY":
			s.once(&seen, 8)
			s.checkString()
		case "DETAILS":
			s.once(&seen, 9)
			s.checkString()
		case "SEVERITY":
			s.once(&seen, 10)
			k.Severity = make([]severityKeys, s.typeScores("TYPE", "SCORE"))
		case "AFFECTED":
			s.once(&seen, 11)
			for more := s.list(); more; more = s.next(']') {
				k.Affected = grow(k.Affected)
				a := &k.Affected[len(k.Affected)-1]
				*a = affectedKeys{Ranges: a.Ranges[:0]}
				s.affected(a)
			}
		case "REFERENCES":
			s.once(&seen, 12)
			k.References = make([]referenceKeys, s.typeScores("TYPE", "URL"))
		case "DATABASESPECIFIC":
			s.once(&seen, 13)
			k.DatabaseSpecific = jsonSize(len(s.value()))
		default:
			s.value()
		}
	}
}

func (s *recordScanner) affected(a *affectedKeys) {
	var fold [maxFoldedName]byte
	var seen uint32
	for more := s.object(); more; more = s.next('}') {
		switch string(s.name(&fold)) {
		case "PACKAGE":
			s.once(&seen, 0)
			s.pkg(&a.Package)
		case "SEVERITY":
			s.once(&seen, 1)
			a.Severity = make([]severityKeys, s.typeScores("TYPE", "SCORE"))
		case "RANGES":
			s.once(&seen, 2)
			for more := s.list(); more; more = s.next(']') {
				a.Ranges = grow(a.Ranges)
				r := &a.Ranges[len(a.Ranges)-1]
				*r = rangeKeys{Events: r.Events[:0]}
				s.rangeValue(r)
			}
		case "VERSIONS":
			s.once(&seen, 3)
			a.Versions = make([]jsonString, s.strings())
		case "ECOSYSTEMSPECIFIC":
			s.once(&seen, 4)
			a.EcosystemSpecific = jsonSize(len(s.value()))
		case "DATABASESPECIFIC":
			s.once(&seen, 5)
			a.DatabaseSpecific = jsonSize(len(s.value()))
		default:
			s.value()
		}
	}
}

// pkg reads a package. Its ecosystem is interned; its name, when it is
// the name of the package read before (a distribution's record names its
// package once per release), is that same string, not another copy.
func (s *recordScanner) pkg(p *Package) {
	var fold [maxFoldedName]byte
	var seen uint32
	for more := s.object(); more; more = s.next('}') {
		switch string(s.name(&fold)) {
		case "ECOSYSTEM":
			s.once(&seen, 0)
			p.Ecosystem = s.internedString()
		case "NAME":
			s.once(&seen, 1)
			raw := s.plainBytes()
			if s.bad {
				return
			}
			if string(raw) != s.lastName {
				s.lastName = string(raw)
			}
			p.Name = s.lastName
		case "PURL":
			s.once(&seen, 2)
			p.PURL = s.plainString()
		default:
			s.value()
		}
	}
}

// event reads an event. Its versions are only checked for being empty
// (validateAffected: exactly one is set), so a non-empty one is read as
// the placeholder eventSet rather than copied out; the first member (the
// introduced version, "0" in most records) is interned as before.
func (s *recordScanner) event(e *Event) {
	*e = Event{}
	var fold [maxFoldedName]byte
	var seen uint32
	for more := s.object(); more; more = s.next('}') {
		var dst *string
		switch string(s.name(&fold)) {
		case "INTRODUCED":
			s.once(&seen, 0)
			e.Introduced = s.internedString()
			continue
		case "FIXED":
			s.once(&seen, 1)
			dst = &e.Fixed
		case "LASTAFFECTED":
			s.once(&seen, 2)
			dst = &e.LastAffected
		case "LIMIT":
			s.once(&seen, 3)
			dst = &e.Limit
		default:
			s.value()
			continue
		}
		if raw := s.plainBytes(); len(raw) > 0 {
			*dst = eventSet
		}
	}
}

// eventSet stands for a non-empty version of an event that the scanner
// checked but did not copy out.
const eventSet = "set"

// grow extends l by one element, reusing its capacity (and so the lists
// of an element read before, which the caller resets).
func grow[E any](l []E) []E {
	if len(l) < cap(l) {
		return l[:len(l)+1]
	}
	var zero E
	return append(l, zero)
}

func (s *recordScanner) rangeValue(r *rangeKeys) {
	var fold [maxFoldedName]byte
	var seen uint32
	for more := s.object(); more; more = s.next('}') {
		switch string(s.name(&fold)) {
		case "TYPE":
			s.once(&seen, 0)
			r.Type = s.internedString()
		case "REPO":
			s.once(&seen, 1)
			s.checkString()
		case "EVENTS":
			s.once(&seen, 2)
			for more := s.list(); more; more = s.next(']') {
				r.Events = grow(r.Events)
				s.event(&r.Events[len(r.Events)-1])
			}
		case "DATABASESPECIFIC":
			s.once(&seen, 3)
			r.DatabaseSpecific = jsonSize(len(s.value()))
		default:
			s.value()
		}
	}
}
