package vulndb

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Record is an OSV vulnerability record
// (https://ossf.github.io/osv-schema/), reduced to the fields Palisade
// reads. Unknown fields are dropped on import; database_specific and
// ecosystem_specific are kept verbatim because distributions put their
// severity there.
type Record struct {
	SchemaVersion    string          `json:"schema_version,omitempty"`
	ID               string          `json:"id"`
	Modified         time.Time       `json:"modified"`
	Published        *time.Time      `json:"published,omitempty"`
	Withdrawn        *time.Time      `json:"withdrawn,omitempty"`
	Aliases          []string        `json:"aliases,omitempty"`
	Upstream         []string        `json:"upstream,omitempty"`
	Related          []string        `json:"related,omitempty"`
	Summary          string          `json:"summary,omitempty"`
	Details          string          `json:"details,omitempty"`
	Severity         []Severity      `json:"severity,omitempty"`
	Affected         []Affected      `json:"affected,omitempty"`
	References       []Reference     `json:"references,omitempty"`
	DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`
}

// Affected is one package a record affects, with the versions affected.
type Affected struct {
	Package           Package         `json:"package"`
	Severity          []Severity      `json:"severity,omitempty"`
	Ranges            []Range         `json:"ranges,omitempty"`
	Versions          []string        `json:"versions,omitempty"`
	EcosystemSpecific json.RawMessage `json:"ecosystem_specific,omitempty"`
	DatabaseSpecific  json.RawMessage `json:"database_specific,omitempty"`
}

// Package names a package in an OSV ecosystem ("Debian:12", "Go", "PyPI").
type Package struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	PURL      string `json:"purl,omitempty"`
}

// Range types of OSV.
const (
	RangeEcosystem = "ECOSYSTEM"
	RangeSemver    = "SEMVER"
	RangeGit       = "GIT"
)

// Range is a list of events over a version ordering; see
// https://ossf.github.io/osv-schema/#affectedranges-field.
type Range struct {
	Type   string  `json:"type"`
	Repo   string  `json:"repo,omitempty"`
	Events []Event `json:"events"`
	// DatabaseSpecific is the range's database_specific; Palisade's own
	// records put {"introduced_excluded": true} there for a range whose
	// introduced version is itself not affected (NVD's
	// versionStartExcluding, which OSV's events cannot say).
	DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`
}

// rangeIntroducedExcluded is the database_specific of a range whose
// introduced version is excluded.
var rangeIntroducedExcluded = json.RawMessage(`{"introduced_excluded":true}`)

// IntroducedExcluded reports whether the range's introduced versions are
// themselves unaffected: the range starts just above them.
func (r *Range) IntroducedExcluded() bool {
	if len(r.DatabaseSpecific) == 0 {
		return false
	}
	var v struct {
		Excluded bool `json:"introduced_excluded"`
	}
	return json.Unmarshal(r.DatabaseSpecific, &v) == nil && v.Excluded
}

// Event is one event of a range; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// Severity is a score of a record: Type is CVSS_V2, CVSS_V3, CVSS_V4 (Score
// holds the vector) or a distribution's own scale such as "Ubuntu" (Score
// holds its word: "medium").
type Severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// Reference is a link of a record (ADVISORY, FIX, WEB ...).
type Reference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// Limits of a single record. Real records stay far below them (the largest
// in OSV's exports are a few hundred kilobytes, mostly `versions` lists); a
// record over them is rejected rather than allowed to exhaust memory.
const (
	MaxRecordSize    = 8 << 20
	maxIDLen         = 128
	maxNameLen       = 1024
	maxAliases       = 1000
	maxAffected      = 10000
	maxRanges        = 1000
	maxEvents        = 10000
	maxVersions      = 200000
	maxSeverities    = 100
	maxReferences    = 10000
	maxSpecificBytes = 1 << 20
)

// ErrRecordTooLarge is wrapped when a record exceeds MaxRecordSize.
var ErrRecordTooLarge = errors.New("OSV record too large")

// ReadRecord reads and validates one OSV JSON record from r, reading at most
// MaxRecordSize bytes.
func ReadRecord(r io.Reader) (*Record, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxRecordSize+1))
	if err != nil {
		return nil, err
	}
	return ParseRecord(data)
}

// ParseRecord decodes and validates one OSV JSON record. It never panics on
// hostile input: sizes, counts and identifiers are bounded, and a record
// that fails validation is an error naming the field at fault.
func ParseRecord(data []byte) (*Record, error) {
	if len(data) > MaxRecordSize {
		return nil, fmt.Errorf("%w: over %d bytes", ErrRecordTooLarge, MaxRecordSize)
	}
	var rec Record
	if err := decodeRecord(data, &rec); err != nil {
		return nil, fmt.Errorf("decode OSV record: %w", err)
	}
	if err := rec.validate(); err != nil {
		if rec.ID != "" && len(rec.ID) <= maxIDLen {
			return nil, fmt.Errorf("OSV record %q: %w", rec.ID, err)
		}
		return nil, fmt.Errorf("OSV record: %w", err)
	}
	return &rec, nil
}

// recordDecoding are the decoding options of records: encoding/json/v2's
// decoder (several times faster than encoding/json's, which reflects on
// every value: half of an import's CPU) with encoding/json's leniency,
// so that a record accepted before is accepted now: names match without
// regard to case, a repeated name's last value wins, invalid UTF-8 is
// kept.
var recordDecoding = jsonv2.JoinOptions(
	jsonv2.MatchCaseInsensitiveNames(true),
	jsontext.AllowDuplicateNames(true),
	jsontext.AllowInvalidUTF8(true),
)

// decodeRecord decodes one JSON record into rec; data after the record
// is an error.
func decodeRecord(data []byte, rec *Record) error {
	return decodeRecordPart(data, rec)
}

// decodeRecordPart decodes one JSON record into v, a Record or a struct
// of some of its fields. Unmarshal, not a Decoder: it decodes from data
// itself with a pooled decoder (a Decoder per record copied the record
// and allocated four times as much).
func decodeRecordPart(data []byte, v any) error {
	err := jsonv2.Unmarshal(data, v, recordDecoding)
	var se *jsontext.SyntacticError
	if errors.As(err, &se) && strings.Contains(se.Error(), "after top-level value") {
		return errors.New("data after the JSON object")
	}
	return err
}

func (r *Record) validate() error {
	return validateRecord(r.ID, r.Aliases, len(r.Aliases)+len(r.Upstream)+len(r.Related), len(r.Severity),
		len(r.References), len(r.Affected), len(r.DatabaseSpecific), func(i int) error {
			a := &r.Affected[i]
			return validateAffected(a.Package, len(a.Ranges), len(a.Versions), len(a.Severity),
				len(a.EcosystemSpecific)+len(a.DatabaseSpecific), func(j int) (string, []Event, int) {
					rg := &a.Ranges[j]
					return rg.Type, rg.Events, len(rg.DatabaseSpecific)
				})
		})
}

// validateRecord checks a record from what validation needs of it (so
// that a Record and the import's leaner recordKeys are held to the same
// rules): its ID and aliases, the counts of its lists, the size of its
// database_specific, and each affected entry through affected.
func validateRecord(id string, aliases []string, nAliasLike, nSeverity, nReferences, nAffected, specLen int,
	affected func(i int) error) error {
	if err := validID(id); err != nil {
		return fmt.Errorf("id: %w", err)
	}
	if err := within("aliases", nAliasLike, maxAliases); err != nil {
		return err
	}
	for _, a := range aliases {
		if err := validID(a); err != nil {
			return fmt.Errorf("alias: %w", err)
		}
	}
	if err := within("severity", nSeverity, maxSeverities); err != nil {
		return err
	}
	if err := within("references", nReferences, maxReferences); err != nil {
		return err
	}
	if err := within("affected", nAffected, maxAffected); err != nil {
		return err
	}
	if specLen > maxSpecificBytes {
		return errors.New("database_specific: too large")
	}
	for i := range nAffected {
		if err := affected(i); err != nil {
			return fmt.Errorf("affected[%d]: %w", i, err)
		}
	}
	return nil
}

// validateAffected checks one affected entry: its package, the counts of
// its lists, the size of its ecosystem_specific and database_specific
// together, and each range's type, events and database_specific size
// (from rangeAt).
func validateAffected(p Package, nRanges, nVersions, nSeverity, specLen int,
	rangeAt func(i int) (typ string, events []Event, specLen int)) error {
	if p.Name == "" || p.Ecosystem == "" {
		return errors.New("package: ecosystem and name are required")
	}
	if len(p.Name) > maxNameLen || len(p.Ecosystem) > maxIDLen || len(p.PURL) > maxNameLen {
		return errors.New("package: name too long")
	}
	if strings.ContainsRune(p.Name, 0) || strings.ContainsRune(p.Ecosystem, 0) {
		return errors.New("package: NUL in name")
	}
	if err := within("ranges", nRanges, maxRanges); err != nil {
		return err
	}
	if err := within("versions", nVersions, maxVersions); err != nil {
		return err
	}
	if err := within("severity", nSeverity, maxSeverities); err != nil {
		return err
	}
	if specLen > maxSpecificBytes {
		return errors.New("ecosystem_specific/database_specific: too large")
	}
	for i := range nRanges {
		typ, events, rangeSpec := rangeAt(i)
		if err := within("events", len(events), maxEvents); err != nil {
			return fmt.Errorf("ranges[%d]: %w", i, err)
		}
		if rangeSpec > maxSpecificBytes {
			return fmt.Errorf("ranges[%d]: database_specific: too large", i)
		}
		switch typ {
		case RangeEcosystem, RangeSemver, RangeGit:
		default:
			return fmt.Errorf("ranges[%d]: unknown type %q", i, truncate(typ, 32))
		}
		for j, e := range events {
			n := 0
			for _, v := range []string{e.Introduced, e.Fixed, e.LastAffected, e.Limit} {
				if v != "" {
					n++
				}
			}
			if n != 1 {
				return fmt.Errorf("ranges[%d].events[%d]: want exactly one of introduced, fixed, last_affected, limit", i, j)
			}
		}
	}
	return nil
}

// validID accepts OSV identifiers and aliases: printable ASCII without
// spaces or path separators (they become database keys and file names).
func validID(id string) error {
	if id == "" {
		return errors.New("empty")
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("%q...: longer than %d bytes", id[:32], maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c >= 0x7f || c == '/' || c == '\\' {
			return fmt.Errorf("%q: invalid character", id)
		}
	}
	return nil
}

func within(field string, n, max int) error {
	if n > max {
		return fmt.Errorf("%s: %d entries, limit %d", field, n, max)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Links returns the record's advisory link first, then its other references.
func (r *Record) Links() []string {
	var first, rest []string
	for _, ref := range r.References {
		if ref.Type == "ADVISORY" {
			first = append(first, ref.URL)
		} else {
			rest = append(rest, ref.URL)
		}
	}
	return append(first, rest...)
}

// SpecificSeverity returns the "severity" string a distribution puts in
// database_specific or ecosystem_specific (for example "HIGH", "moderate",
// "unimportant"), or "" if there is none. The affected entry's values win
// over the record's.
func (r *Record) SpecificSeverity(a *Affected) string {
	var blobs []json.RawMessage
	if a != nil {
		blobs = append(blobs, a.EcosystemSpecific, a.DatabaseSpecific)
	}
	blobs = append(blobs, r.DatabaseSpecific)
	for _, b := range blobs {
		if len(b) == 0 {
			continue
		}
		var v struct {
			Severity json.RawMessage `json:"severity"`
			Urgency  string          `json:"urgency"`
		}
		if json.Unmarshal(b, &v) != nil {
			continue
		}
		var s string
		if json.Unmarshal(v.Severity, &s) == nil && s != "" {
			return s
		}
		if v.Urgency != "" {
			return v.Urgency
		}
	}
	return ""
}

// SpecificFixState returns the fix state a vendor source recorded on an
// affected entry ("will_not_fix", "fix_deferred", "end_of_life",
// "affected") and the vendor's own words, from its database_specific
// fix_state and fix_state_reason (Palisade's normalisation of Red Hat's
// VEX and the vendors' formats); "" when it has none.
func (a *Affected) SpecificFixState() (state, reason string) {
	if a == nil || len(a.DatabaseSpecific) == 0 {
		return "", ""
	}
	var v struct {
		State  string `json:"fix_state"`
		Reason string `json:"fix_state_reason"`
	}
	if json.Unmarshal(a.DatabaseSpecific, &v) != nil {
		return "", ""
	}
	return v.State, v.Reason
}

// SourcePackage reports whether an affected entry names a source package
// rather than a binary one (Red Hat's VEX names unfixed components by
// their source rpm).
func (a *Affected) SourcePackage() bool {
	if a == nil || len(a.DatabaseSpecific) == 0 {
		return false
	}
	var v struct {
		Source bool `json:"source_package"`
	}
	return json.Unmarshal(a.DatabaseSpecific, &v) == nil && v.Source
}
