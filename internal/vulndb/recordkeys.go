package vulndb

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// recordKeys is what an import needs of an OSV record: what the index
// and the withdrawn check read (ID, withdrawn, affected packages) and
// what validation reads, with every other field checked for its JSON
// type but not kept. The database stores the record's own JSON, so a
// decode into Record (strings, references, severities, versions copied
// out only to be dropped) was wasted work: the largest part of an
// import's CPU.
//
// The contract, checked by FuzzRecordKeysMatchRecord: a record's JSON is
// accepted by parseStripped exactly when ParseRecord accepts it, with
// the same ID, withdrawn time and affected packages. So every field of
// Record appears here with a type that fails on the same JSON values
// (jsonString where Record has a string, jsonSize where it has a
// json.RawMessage), under the same name.
type recordKeys struct {
	SchemaVersion    jsonString      `json:"schema_version"`
	ID               string          `json:"id"`
	Modified         time.Time       `json:"modified"`
	Published        *time.Time      `json:"published"`
	Withdrawn        *time.Time      `json:"withdrawn"`
	Aliases          []string        `json:"aliases"`
	Upstream         []jsonString    `json:"upstream"`
	Related          []jsonString    `json:"related"`
	Summary          jsonString      `json:"summary"`
	Details          jsonString      `json:"details"`
	Severity         []severityKeys  `json:"severity"`
	Affected         []affectedKeys  `json:"affected"`
	References       []referenceKeys `json:"references"`
	DatabaseSpecific jsonSize        `json:"database_specific"`
}

// affectedKeys is Affected as recordKeys reads it.
type affectedKeys struct {
	Package           Package        `json:"package"`
	Severity          []severityKeys `json:"severity"`
	Ranges            []rangeKeys    `json:"ranges"`
	Versions          []jsonString   `json:"versions"`
	EcosystemSpecific jsonSize       `json:"ecosystem_specific"`
	DatabaseSpecific  jsonSize       `json:"database_specific"`
}

// rangeKeys is Range as recordKeys reads it.
type rangeKeys struct {
	Type             string     `json:"type"`
	Repo             jsonString `json:"repo"`
	Events           []Event    `json:"events"`
	DatabaseSpecific jsonSize   `json:"database_specific"`
}

// severityKeys is Severity as recordKeys reads it.
type severityKeys struct {
	Type  jsonString `json:"type"`
	Score jsonString `json:"score"`
}

// referenceKeys is Reference as recordKeys reads it.
type referenceKeys struct {
	Type jsonString `json:"type"`
	URL  jsonString `json:"url"`
}

// jsonString accepts what decoding into a Go string accepts (a JSON
// string or null) without copying it out.
type jsonString struct{}

var errNotString = errors.New("JSON value is not a string")

func (*jsonString) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	if k := v.Kind(); k != '"' && k != 'n' {
		return fmt.Errorf("%w: %s", errNotString, k)
	}
	return nil
}

// jsonSize is the length of a JSON value that Record keeps as a
// json.RawMessage (which is given the value as written, null included).
type jsonSize int

func (n *jsonSize) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	*n = jsonSize(len(v))
	return nil
}

// parseStripped decodes and validates one record for an import,
// accepting and rejecting exactly what ParseRecord does, with s reused
// across the records of a batch: the scanner reads the common record, and one
// it gives up on is decoded through encoding/json/v2 (see
// recordScanner). It fills rec with the record's ID, withdrawn time and
// affected packages, these appended to affected (one list for a batch's
// records, so that a record costs no list of its own), which it
// returns. A valid record's data is stripped of the white space between
// its tokens in place (what the database stores) and returned as
// stripped; an invalid one's is left as it was.
func (s *recordScanner) parseStripped(data []byte, rec *Record, affected []Affected) (stripped []byte, _ []Affected, err error) {
	if len(data) > MaxRecordSize {
		return nil, affected, fmt.Errorf("%w: over %d bytes", ErrRecordTooLarge, MaxRecordSize)
	}
	k := &s.keys
	*k = recordKeys{Aliases: k.Aliases[:0], Affected: k.Affected[:0]}
	scanned := s.scan(data, k)
	if !scanned {
		k = new(recordKeys)
		if err := decodeRecordPart(data, k); err != nil {
			return nil, affected, fmt.Errorf("decode OSV record: %w", err)
		}
	}
	if err := k.validate(); err != nil {
		if k.ID != "" && len(k.ID) <= maxIDLen {
			return nil, affected, fmt.Errorf("OSV record %q: %w", k.ID, err)
		}
		return nil, affected, fmt.Errorf("OSV record: %w", err)
	}
	*rec = Record{ID: k.ID, Withdrawn: k.Withdrawn}
	start := len(affected)
	for i := range k.Affected {
		affected = append(affected, Affected{Package: k.Affected[i].Package})
	}
	rec.Affected = affected[start:len(affected):len(affected)]
	if scanned {
		stripped = s.strip()
	} else {
		stripped = appendStripped(data[:0], data)
	}
	return stripped, affected, nil
}

func (k *recordKeys) validate() error {
	return validateRecord(k.ID, k.Aliases, len(k.Aliases)+len(k.Upstream)+len(k.Related), len(k.Severity),
		len(k.References), len(k.Affected), int(k.DatabaseSpecific), func(i int) error {
			a := &k.Affected[i]
			return validateAffected(a.Package, len(a.Ranges), len(a.Versions), len(a.Severity),
				int(a.EcosystemSpecific+a.DatabaseSpecific), func(j int) (string, []Event, int) {
					rg := &a.Ranges[j]
					return rg.Type, rg.Events, int(rg.DatabaseSpecific)
				})
		})
}
