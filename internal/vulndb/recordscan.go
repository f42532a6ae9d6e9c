package vulndb

import (
	"bytes"
	"errors"
	"io"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// recordScanner fills recordKeys from a record's JSON tokens, without
// reflection: the common record (plain ASCII member names, strings
// without escapes, RFC 3339 times in UTC, no repeated member) is read
// here, and everything else (a repeated member, a null where a value is
// kept, an escaped or non-ASCII name, a syntax or type error) makes it
// give up with errSlowPath so that parseRecordKeys decodes the record
// again through encoding/json/v2, whose verdict and error are then the
// answer. So the scanner only has to be right about what it accepts,
// never about how a record is refused; FuzzRecordKeysMatchRecord holds
// the two paths to ParseRecord.
//
// A recordScanner is reused for the records of one batch (its decoder's
// state); it is not safe for concurrent use.
type recordScanner struct {
	dec jsontext.Decoder
	buf bytes.Buffer
}

// errSlowPath: the record is not one the scanner reads; decode it with
// the general decoder.
var errSlowPath = errors.New("record needs the general decoder")

// scanOptions are recordDecoding's syntax options: duplicate names and
// invalid UTF-8 pass the tokenizer as they pass Unmarshal (the scanner
// gives up on both where they would matter).
var scanOptions = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

// scan reads data into k, or returns errSlowPath.
func (s *recordScanner) scan(data []byte, k *recordKeys) error {
	s.buf = *bytes.NewBuffer(data) // the decoder reads a bytes.Buffer in place
	s.dec.Reset(&s.buf, scanOptions...)
	if err := s.record(k); err != nil {
		return errSlowPath
	}
	if _, err := s.dec.ReadToken(); err != io.EOF {
		return errSlowPath // data after the record, or a syntax error
	}
	return nil
}

// Member names as encoding/json/v2 matches them with
// MatchCaseInsensitiveNames: ASCII letters upper-cased, '_' and '-'
// dropped. A name longer than any field's folds to "" (no field).
const maxFoldedName = len("ECOSYSTEMSPECIFIC")

// name reads a member name into fold and returns its folded form, or
// errSlowPath for an escaped or non-ASCII name (which could fold to a
// field's name by Unicode rules).
func (s *recordScanner) name(fold *[maxFoldedName]byte) ([]byte, error) {
	if s.dec.PeekKind() != '"' {
		return nil, errSlowPath
	}
	raw, err := s.dec.ReadValue()
	if err != nil {
		return nil, err
	}
	n := 0
	for _, c := range raw[1 : len(raw)-1] {
		switch {
		case c == '\\' || c >= utf8.RuneSelf:
			return nil, errSlowPath
		case c == '_' || c == '-':
			continue
		case n == maxFoldedName:
			n = -1
		case n < 0:
		default:
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			fold[n] = c
			n++
		}
	}
	if n < 0 {
		return nil, nil
	}
	return fold[:n], nil
}

// object reads a JSON object, calling member with each folded name
// (the value is member's to read, or skipped when it returns false).
// A member naming a field twice (bit ≥ 0 seen before) gives up.
func (s *recordScanner) object(member func(name []byte) (bit int, err error)) error {
	if s.dec.PeekKind() != '{' {
		return errSlowPath
	}
	if _, err := s.dec.ReadToken(); err != nil {
		return err
	}
	var fold [maxFoldedName]byte
	var seen uint32
	for s.dec.PeekKind() != '}' {
		name, err := s.name(&fold)
		if err != nil {
			return err
		}
		bit, err := member(name)
		if err != nil {
			return err
		}
		if bit < 0 {
			continue
		}
		if seen&(1<<bit) != 0 {
			return errSlowPath
		}
		seen |= 1 << bit
	}
	_, err := s.dec.ReadToken()
	return err
}

// skip skips a member's value that no field takes.
func (s *recordScanner) skip() (int, error) { return -1, s.dec.SkipValue() }

// array calls elem for each element of a JSON array and returns their
// count; null is an empty list (a nil slice).
func (s *recordScanner) array(elem func() error) (int, error) {
	switch s.dec.PeekKind() {
	case 'n':
		return 0, s.dec.SkipValue()
	case '[':
	default:
		return 0, errSlowPath
	}
	if _, err := s.dec.ReadToken(); err != nil {
		return 0, err
	}
	n := 0
	for s.dec.PeekKind() != ']' {
		if err := elem(); err != nil {
			return 0, err
		}
		n++
	}
	_, err := s.dec.ReadToken()
	return n, err
}

// checkString is jsonString: a string or null, not kept.
func (s *recordScanner) checkString() error {
	if k := s.dec.PeekKind(); k != '"' && k != 'n' {
		return errSlowPath
	}
	return s.dec.SkipValue()
}

// size is jsonSize: the length of the value as written.
func (s *recordScanner) size() (jsonSize, error) {
	v, err := s.dec.ReadValue()
	return jsonSize(len(v)), err
}

// plainString reads a kept string: one without escapes, in valid UTF-8
// (so its bytes are its value), copied out of the record (whose buffer
// is stripped in place afterwards).
func (s *recordScanner) plainString() (string, error) {
	if s.dec.PeekKind() != '"' {
		return "", errSlowPath
	}
	raw, err := s.dec.ReadValue()
	if err != nil {
		return "", err
	}
	b := raw[1 : len(raw)-1]
	if bytes.IndexByte(b, '\\') >= 0 || !utf8.Valid(b) {
		return "", errSlowPath
	}
	return string(b), nil
}

// timeValue reads a time of the form 2006-01-02T15:04:05[.999999999]Z,
// which encoding/json/v2 parses with time.Time.UnmarshalText and no
// further refusal; any other form gives up.
func (s *recordScanner) timeValue() (time.Time, error) {
	if s.dec.PeekKind() != '"' {
		return time.Time{}, errSlowPath
	}
	raw, err := s.dec.ReadValue()
	if err != nil {
		return time.Time{}, err
	}
	b := raw[1 : len(raw)-1]
	if !plainUTCTime(b) {
		return time.Time{}, errSlowPath
	}
	var t time.Time
	if err := t.UnmarshalText(b); err != nil {
		return time.Time{}, errSlowPath
	}
	return t, nil
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

// Field bits of recordKeys, for object's repeated-member check.
const (
	fSchemaVersion = iota
	fID
	fModified
	fPublished
	fWithdrawn
	fAliases
	fUpstream
	fRelated
	fSummary
	fDetails
	fSeverity
	fAffected
	fReferences
	fDatabaseSpecific
)

func (s *recordScanner) record(k *recordKeys) error {
	return s.object(func(name []byte) (int, error) {
		var err error
		switch string(name) {
		case "SCHEMAVERSION":
			return fSchemaVersion, s.checkString()
		case "ID":
			k.ID, err = s.plainString()
			return fID, err
		case "MODIFIED":
			k.Modified, err = s.timeValue()
			return fModified, err
		case "PUBLISHED":
			t, err := s.timeValue()
			k.Published = &t
			return fPublished, err
		case "WITHDRAWN":
			t, err := s.timeValue()
			k.Withdrawn = &t
			return fWithdrawn, err
		case "ALIASES":
			_, err = s.array(func() error {
				a, err := s.plainString()
				k.Aliases = append(k.Aliases, a)
				return err
			})
			return fAliases, err
		case "UPSTREAM":
			n, err := s.array(s.checkString)
			k.Upstream = make([]jsonString, n)
			return fUpstream, err
		case "RELATED":
			n, err := s.array(s.checkString)
			k.Related = make([]jsonString, n)
			return fRelated, err
		case "SUMMARY":
			return fSummary, s.checkString()
		case "DETAILS":
			return fDetails, s.checkString()
		case "SEVERITY":
			n, err := s.array(s.severity)
			k.Severity = make([]severityKeys, n)
			return fSeverity, err
		case "AFFECTED":
			_, err = s.array(func() error {
				k.Affected = append(k.Affected, affectedKeys{})
				return s.affected(&k.Affected[len(k.Affected)-1])
			})
			return fAffected, err
		case "REFERENCES":
			n, err := s.array(s.reference)
			k.References = make([]referenceKeys, n)
			return fReferences, err
		case "DATABASESPECIFIC":
			k.DatabaseSpecific, err = s.size()
			return fDatabaseSpecific, err
		}
		return s.skip()
	})
}

// typeScore reads severityKeys and referenceKeys: objects whose two
// named members are strings or null, nothing kept (so a repeated member
// is harmless); a null element is their zero value.
func (s *recordScanner) typeScore(a, b string) error {
	if s.dec.PeekKind() == 'n' {
		return s.dec.SkipValue()
	}
	return s.object(func(name []byte) (int, error) {
		if n := string(name); n == a || n == b {
			return -1, s.checkString()
		}
		return s.skip()
	})
}

func (s *recordScanner) severity() error  { return s.typeScore("TYPE", "SCORE") }
func (s *recordScanner) reference() error { return s.typeScore("TYPE", "URL") }

const (
	fPackage = iota
	fAffSeverity
	fRanges
	fVersions
	fEcosystemSpecific
	fAffDatabaseSpecific
)

func (s *recordScanner) affected(a *affectedKeys) error {
	return s.object(func(name []byte) (int, error) {
		var err error
		switch string(name) {
		case "PACKAGE":
			return fPackage, s.pkg(&a.Package)
		case "SEVERITY":
			n, err := s.array(s.severity)
			a.Severity = make([]severityKeys, n)
			return fAffSeverity, err
		case "RANGES":
			_, err = s.array(func() error {
				a.Ranges = append(a.Ranges, rangeKeys{})
				return s.rangeValue(&a.Ranges[len(a.Ranges)-1])
			})
			return fRanges, err
		case "VERSIONS":
			n, err := s.array(s.checkString)
			a.Versions = make([]jsonString, n)
			return fVersions, err
		case "ECOSYSTEMSPECIFIC":
			a.EcosystemSpecific, err = s.size()
			return fEcosystemSpecific, err
		case "DATABASESPECIFIC":
			a.DatabaseSpecific, err = s.size()
			return fAffDatabaseSpecific, err
		}
		return s.skip()
	})
}

func (s *recordScanner) pkg(p *Package) error {
	return s.object(func(name []byte) (int, error) {
		var err error
		switch string(name) {
		case "ECOSYSTEM":
			p.Ecosystem, err = s.plainString()
			return 0, err
		case "NAME":
			p.Name, err = s.plainString()
			return 1, err
		case "PURL":
			p.PURL, err = s.plainString()
			return 2, err
		}
		return s.skip()
	})
}

func (s *recordScanner) rangeValue(r *rangeKeys) error {
	return s.object(func(name []byte) (int, error) {
		var err error
		switch string(name) {
		case "TYPE":
			r.Type, err = s.plainString()
			return 0, err
		case "REPO":
			return 1, s.checkString()
		case "EVENTS":
			_, err = s.array(func() error {
				r.Events = append(r.Events, Event{})
				return s.event(&r.Events[len(r.Events)-1])
			})
			return 2, err
		case "DATABASESPECIFIC":
			r.DatabaseSpecific, err = s.size()
			return 3, err
		}
		return s.skip()
	})
}

func (s *recordScanner) event(e *Event) error {
	return s.object(func(name []byte) (int, error) {
		var err error
		switch string(name) {
		case "INTRODUCED":
			e.Introduced, err = s.plainString()
			return 0, err
		case "FIXED":
			e.Fixed, err = s.plainString()
			return 1, err
		case "LASTAFFECTED":
			e.LastAffected, err = s.plainString()
			return 2, err
		case "LIMIT":
			e.Limit, err = s.plainString()
			return 3, err
		}
		return s.skip()
	})
}
