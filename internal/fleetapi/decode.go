package fleetapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/palisade-sec/palisade/internal/finding"
)

// Reading reports once. The hub reads an agent's report (an Envelope or a
// ReportBatch) with DecodeReport: one pass of
// github.com/go-json-experiment/json over the body, which keeps each
// finding's JSON exactly as received (ObjectFindings.Raw) beside its
// decoded value; the findings themselves are decoded by a hand-written
// decoder that gives the reflective one's result or gives up
// (findingdecode.go). The hub stores those bytes as the finding's data and
// compares their hash with the stored one to skip unchanged findings, so
// a finding is never encoded again on the hub. This is sound because the
// agent encodes deterministically: encoding/json writes a struct's fields
// in declaration order, and finding.Finding holds no map, so the same
// finding is the same bytes in every report (TestFindingEncodingStable).
//
// The semantics are those of the v2 decoder's defaults, stricter than
// encoding/json: member names match exactly (case-sensitive), a name
// repeated in one object or invalid UTF-8 is refused, unknown members are
// ignored. The hub reads stored findings back with UnmarshalFinding, the
// same decoders, so what the columns say (rule, severity, object) and what
// the stored JSON says cannot differ.

// DecodeReport reads exactly one JSON value from r into v (an *Envelope
// or a *ReportBatch); data after it is refused. r is read to its end
// before anything is decoded, so that a size or item limit of r (the
// hub's ItemLimitReader) trips before the decoder has allocated for the
// items: decoding as the bytes arrive, a few kilobytes of gzip inflating
// to 500,000 empty findings had the hub allocate 400 MiB before the
// limit. Errors of r are returned as they are, so errors.Is finds them.
//
// The body is decoded in place (jsontext reads a bytes.Buffer without
// copying it), each finding once; its Raw is the slice of the body it was
// decoded from (so the body lives as long as the report's Raw).
func DecodeReport(r io.Reader, v any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	return DecodeReportBody(body, v)
}

// DecodeReportBody is DecodeReport of a body already read whole, within
// its limits (ItemLimitReader.Count, or see DecodeReportBodyWithin).
func DecodeReportBody(body []byte, v any) error {
	return DecodeReportBodyWithin(body, 0, v)
}

// What the hand-written decoder allocates before the items are all
// counted. A decoded finding takes about 240 bytes, so a body within
// MaxReportBytes but far over MaxReportItems (32 MiB of "{},") would
// have it allocate up to the item bound (250,000 findings, 60 MB) before
// refusing the body, where counting first refused it having decoded
// nothing. Past denseFindingsFree findings, it therefore gives up on a
// body holding fewer than minFindingBytes bytes per finding read so far
// (the agent writes about 450 bytes a finding; none under 100), and the
// reflective path counts that body's items first. A body of findings of
// real sizes is bounded as before: it needs 64 bytes of body, within
// MaxReportBytes, for each finding decoded.
const (
	denseFindingsFree = 4096
	minFindingBytes   = 64
)

// DecodeReportBodyWithin is DecodeReportBody of a body whose JSON items
// (ItemLimitReader's count) are not counted yet: over maxItems (0: no
// bound) it fails with ErrTooLarge, as ItemLimitReader.Count would,
// without decoding past the bound. The hand-written decoder counts them
// as it reads — one pass over the body instead of two; a body it gives
// up on is counted whole before the reflective decoder reads it.
func DecodeReportBodyWithin(body []byte, maxItems int, v any) error {
	return decodeReportBodyWithin(body, maxItems, v, false)
}

// DecodeReportBodyPartial is DecodeReportBodyWithin leaving the findings
// of a full snapshot's objects sent with a digest partially decoded
// (ObjectFindings.Partial): the hub reads whole only the objects whose
// digest it does not already store (issue #17: decoding the findings of
// the unchanged objects was a third of a 500-pod snapshot's CPU). The
// same bodies are read and refused, with the same errors, and a report
// whose partial objects are completed (ObjectFindings.Complete) equals
// DecodeReportBodyWithin's (FuzzDecodeReportBodyPartial). Only bodies the
// hand-written decoder reads can have partial objects.
func DecodeReportBodyPartial(body []byte, maxItems int, v any) error {
	return decodeReportBodyWithin(body, maxItems, v, true)
}

func decodeReportBodyWithin(body []byte, maxItems int, v any, partial bool) error {
	fd := &findingDecoder{share: true, maxItems: maxItems, bounded: true, partial: partial}
	if fd.decodeReportFast(body, v) {
		return nil
	}
	// Past the bound (tooMany) the body is counted whole all the same:
	// a body cut short or otherwise invalid after the bound is refused
	// for what the count finds first, as if counted before decoding
	// (FuzzDecodeReportBodyWithin). The count reads without allocating
	// for the items.
	if maxItems > 0 {
		l := ItemLimitReader{Max: maxItems}
		if err := l.Count(body); err != nil {
			return err
		}
	}
	// Not in the hand-written decoder's subset: the reflective decoder
	// reads the whole body again, from a zero value (the strings
	// already interned are kept).
	switch v := v.(type) {
	case *Envelope:
		*v = Envelope{}
	case *ReportBatch:
		*v = ReportBatch{}
	}
	fd = &findingDecoder{share: true, strs: fd.strs}
	return decodeReportReflective(body, fd, v)
}

// Complete decodes a partial object's findings whole from their Raw
// (ObjectFindings.Partial); it does nothing to an object read whole.
func (o *ObjectFindings) Complete() error {
	if !o.Partial {
		return nil
	}
	if len(o.Raw) != len(o.Findings) {
		return fmt.Errorf("object %s/%s/%s: %d findings, %d kept as received", o.Object.Kind, o.Object.Namespace, o.Object.Name, len(o.Findings), len(o.Raw))
	}
	d := &findingDecoder{share: true}
	for i, raw := range o.Raw {
		if !d.decode(raw, &o.Findings[i]) {
			return fmt.Errorf("object %s/%s/%s: finding %d: not read again as first read", o.Object.Kind, o.Object.Namespace, o.Object.Name, i)
		}
	}
	o.Partial = false
	return nil
}

// DecodeReportReflective decodes as DecodeReport did before the
// hand-written decoders: the structure and every finding read by the
// reflective decoder alone. It is the reference they are compared with
// (the store's TestDecodersStoreTheSame), not for the hub's use.
func DecodeReportReflective(r io.Reader, v any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeReportReflective(body, &findingDecoder{reflectiveOnly: true}, v)
}

// decodeReportReflective is DecodeReport's reflective path: the
// structure read by github.com/go-json-experiment/json, each finding's
// bytes found by its scanner and decoded by fd.
func decodeReportReflective(body []byte, fd *findingDecoder, v any) error {
	dec := jsontext.NewDecoder(bytes.NewBuffer(body))
	objects := json.WithUnmarshalers(json.UnmarshalFromFunc(func(dec *jsontext.Decoder, o *ObjectFindings) error {
		return readObjectFindings(dec, body, fd, o)
	}))
	if err := json.UnmarshalDecode(dec, v, objects); err != nil {
		return err
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return ErrDataAfterValue
	}
	return nil
}

// readBody reads r to its end into chunks that double up to 1 MiB, then
// joins them once: a bytes.Buffer doubling from 512 bytes allocated 16 MB
// and copied each byte several times for a 4 MB snapshot. Errors of r
// are returned as they are.
func readBody(r io.Reader) ([]byte, error) {
	var chunks [][]byte
	for size := 32 << 10; ; size = min(2*size, 1<<20) {
		c := make([]byte, size)
		n, err := io.ReadFull(r, c)
		chunks = append(chunks, c[:n])
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(chunks) == 1 {
		return chunks[0], nil
	}
	return slices.Concat(chunks...), nil
}

// ErrDataAfterValue is a body with more than one JSON value: it is
// refused, so that a body never means more than was decoded.
var ErrDataAfterValue = errors.New("data after the first JSON value")

// UnmarshalFinding decodes one finding's JSON as DecodeReport does.
func UnmarshalFinding(data []byte, f *finding.Finding) error {
	var fd findingDecoder
	return fd.unmarshal(data, f)
}

// unmarshal decodes data, one finding's JSON, with the hand-written
// decoder (findingdecode.go) or, when it gives up, the reflective one,
// whose result and errors are then the answer.
func (d *findingDecoder) unmarshal(data []byte, f *finding.Finding) error {
	if !d.reflectiveOnly && d.decode(data, f) {
		return nil
	}
	*f = finding.Finding{}
	return json.Unmarshal(data, f)
}

// readObjectFindings decodes an ObjectFindings of body for DecodeReport,
// keeping each finding's bytes in Raw.
func readObjectFindings(dec *jsontext.Decoder, body []byte, fd *findingDecoder, o *ObjectFindings) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case 'n':
		return nil
	case '{':
	default:
		return fmt.Errorf("object findings: want an object, got %v", tok.Kind())
	}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return err
		}
		switch name.String() {
		case "object":
			if err := json.UnmarshalDecode(dec, &o.Object); err != nil {
				return fmt.Errorf("object: %w", err)
			}
		case "digest":
			if err := json.UnmarshalDecode(dec, &o.Digest); err != nil {
				return fmt.Errorf("digest: %w", err)
			}
		case "findings":
			if err := readFindings(dec, body, fd, o); err != nil {
				return fmt.Errorf("object %s/%s/%s: %w", o.Object.Kind, o.Object.Namespace, o.Object.Name, err)
			}
		default:
			if err := dec.SkipValue(); err != nil {
				return err
			}
		}
	}
	_, err = dec.ReadToken() // '}'
	return err
}

// readFindings reads the findings array: each element's bytes are the
// body between the decoder's offsets before and after it (less the
// separator before it), read as one value by the decoder (which checks
// its syntax, names and UTF-8) and decoded from those bytes.
func readFindings(dec *jsontext.Decoder, body []byte, fd *findingDecoder, o *ObjectFindings) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	o.Findings, o.Raw = nil, nil
	switch tok.Kind() {
	case 'n':
		return nil
	case '[':
	default:
		return fmt.Errorf("findings: want an array, got %v", tok.Kind())
	}
	first := len(fd.findings)
	for i := 0; dec.PeekKind() != ']'; i++ {
		start := dec.InputOffset()
		if _, err := dec.ReadValue(); err != nil {
			return fmt.Errorf("finding %d: %w", i, err)
		}
		end := dec.InputOffset()
		if start < 0 || end > int64(len(body)) || start > end {
			return fmt.Errorf("finding %d: offsets %d-%d outside the body", i, start, end)
		}
		raw := bytes.TrimLeft(body[start:end], " \t\r\n,")
		first = fd.grow(first)
		fd.findings = append(fd.findings, finding.Finding{})
		fd.raw = append(fd.raw, raw)
		if err := fd.unmarshal(raw, &fd.findings[len(fd.findings)-1]); err != nil {
			return fmt.Errorf("finding %d: %w", i, err)
		}
	}
	if n := len(fd.findings); n > first {
		// Capacity capped, so that an append to one object's slices
		// never writes into the next object's.
		o.Findings, o.Raw = fd.findings[first:n:n], fd.raw[first:n:n]
	}
	_, err = dec.ReadToken() // ']'
	return err
}
