package fleetapi

import (
	"bytes"
	"strconv"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/palisade-sec/palisade/internal/finding"
)

// The whole report by hand. With the findings decoded by hand, the
// reflective decoder's scan of each finding for its end (ReadValue) was
// the next cost of a snapshot. decodeReportFast reads a report whose
// every part is in the subset the agent writes for findings — a batch
// ({"dropped", "envelopes"}) or one envelope, envelopes of the members
// seq, time, kind, cluster, dropped and findings, a findings delta's
// full, objects and deleted, the findings findingdecode.go reads — and
// gives up on anything else (another kind's payload, an unknown or
// repeated member, null, a finding it does not read), so DecodeReport
// then decodes the body with the reflective decoder — but for an
// envelope of a batch, which alone goes to the reflective decoder
// (reflectiveEnvelope). Like the finding
// decoder its contract is differential (FuzzDecodeReportFast): it gives
// up, or it gives exactly what the reflective path gives, Raw included.

// decodeReportFast decodes body into v (an *Envelope or a *ReportBatch,
// zero) or returns false, with v then unspecified.
func (d *findingDecoder) decodeReportFast(body []byte, v any) bool {
	s := findingScan{d: d, data: body}
	var ok bool
	switch v := v.(type) {
	case *ReportBatch:
		ok = s.batch(v)
	case *Envelope:
		ok = s.envelope(v)
	}
	if !ok {
		return false
	}
	s.ws()
	return s.pos == len(body)
}

func (s *findingScan) batch(b *ReportBatch) bool {
	return s.object(func(name []byte) (bit uint32, ok bool) {
		switch string(name) {
		case "dropped":
			bit = 1
			b.Dropped, ok = s.unsigned()
		case "envelopes":
			bit = 2
			b.Envelopes = []Envelope{}
			ok = s.array(func() bool {
				b.Envelopes = append(b.Envelopes, Envelope{})
				e := &b.Envelopes[len(b.Envelopes)-1]
				start, items, decoded := s.pos, s.d.items, s.d.decoded
				if s.envelope(e) || s.d.tooMany {
					return !s.d.tooMany
				}
				*e = Envelope{}
				s.pos, s.d.items, s.d.decoded = start, items, decoded
				return s.reflectiveEnvelope(e)
			})
		}
		return bit, ok
	})
}

// reflectiveEnvelope reads the envelope at the position with the
// reflective decoder: in a batch, an envelope the hand-written decoder
// does not read (an images report beside findings deltas, say) leaves
// only itself to the reflective decoder, not the whole batch. Its items
// are counted before it is decoded. Any error gives up (the whole body
// then goes to the reflective path, whose error is the answer), so the
// result is the reflective path's (FuzzDecodeReportFast).
func (s *findingScan) reflectiveEnvelope(e *Envelope) bool {
	dec := jsontext.NewDecoder(bytes.NewReader(s.data[s.pos:]))
	v, err := dec.ReadValue()
	if err != nil || v.Kind() != '{' {
		return false
	}
	value := s.data[s.pos : s.pos+len(v)]
	if d := s.d; d.maxItems > 0 {
		l := ItemLimitReader{Max: d.maxItems - d.items}
		if l.Count(value) != nil {
			d.tooMany = true
			return false
		}
		d.items += l.items
	}
	if decodeReportReflective(value, &findingDecoder{share: true, strs: s.d.strs}, e) != nil {
		return false
	}
	s.pos += len(v)
	return true
}

func (s *findingScan) envelope(e *Envelope) bool {
	return s.object(func(name []byte) (bit uint32, ok bool) {
		switch string(name) {
		case "seq":
			bit = 1
			e.Seq, ok = s.unsigned()
		case "time":
			// Times as the reflective decoder reads them (RFC 3339
			// in its own strictness): one small call per envelope.
			bit = 2
			start := s.pos
			if _, ok = s.str(false); ok {
				ok = json.Unmarshal(s.data[start:s.pos], &e.Time) == nil
			}
		case "kind":
			bit = 4
			e.Kind, ok = s.str(true)
		case "cluster":
			bit = 8
			e.Cluster, ok = s.str(true)
		case "dropped":
			bit = 16
			e.Dropped, ok = s.unsigned()
		case "findings":
			bit = 32
			e.Findings = &FindingsDelta{}
			ok = s.findingsDelta(e.Findings)
		}
		return bit, ok
	})
}

func (s *findingScan) findingsDelta(fd *FindingsDelta) bool {
	return s.object(func(name []byte) (bit uint32, ok bool) {
		switch string(name) {
		case "full":
			bit = 1
			fd.Full, ok = s.boolean()
		case "objects":
			bit = 2
			fd.Objects = []ObjectFindings{}
			s.full = fd.Full // as the agent writes a snapshot: "full" first
			ok = s.array(func() bool {
				fd.Objects = append(fd.Objects, ObjectFindings{})
				return s.objectFindings(&fd.Objects[len(fd.Objects)-1])
			})
			s.full = false
		case "deleted":
			bit = 4
			fd.Deleted = []finding.ObjectRef{}
			ok = s.array(func() bool {
				fd.Deleted = append(fd.Deleted, finding.ObjectRef{})
				return s.objectRef(&fd.Deleted[len(fd.Deleted)-1])
			})
		}
		return bit, ok
	})
}

func (s *findingScan) objectFindings(o *ObjectFindings) bool {
	return s.object(func(name []byte) (bit uint32, ok bool) {
		switch string(name) {
		case "object":
			bit = 1
			ok = s.objectRef(&o.Object)
		case "digest":
			bit = 4
			o.Digest, ok = s.str(false)
		case "findings":
			bit = 2
			// A snapshot's object whose digest came first, as the
			// agent writes it, is read partially when asked.
			s.partial = s.d.partial && s.full && IsObjectDigest(o.Digest)
			ok = s.findings(o)
			o.Partial = s.partial && ok && len(o.Findings) > 0
			s.partial = false
		}
		return bit, ok
	})
}

// findings reads an object's findings array into the decoder's slabs, as
// readFindings does (an empty array leaves them nil).
func (s *findingScan) findings(o *ObjectFindings) bool {
	d := s.d
	first := len(d.findings)
	ok := s.array(func() bool {
		start := s.pos
		if d.decoded++; d.bounded && d.decoded > denseFindingsFree && s.pos < minFindingBytes*d.decoded {
			return false
		}
		first = d.grow(first)
		d.findings = append(d.findings, finding.Finding{})
		f := &d.findings[len(d.findings)-1]
		if !s.finding(f) {
			return false
		}
		d.raw = append(d.raw, s.data[start:s.pos])
		return true
	})
	if !ok {
		return false
	}
	o.Findings, o.Raw = nil, nil
	if n := len(d.findings); n > first {
		o.Findings, o.Raw = d.findings[first:n:n], d.raw[first:n:n]
	}
	return true
}

// array reads a JSON array, calling elem at the start of each element
// (after white space), which reads it or returns false.
func (s *findingScan) array(elem func() bool) bool {
	s.ws()
	if !s.byte('[') {
		return false
	}
	s.ws()
	if s.byte(']') {
		return true
	}
	for {
		s.ws()
		if !s.d.item() || !elem() {
			return false
		}
		s.ws()
		if s.byte(']') {
			return true
		}
		if !s.byte(',') {
			return false
		}
	}
}

// unsigned reads a JSON integer that fits a uint64 (no sign).
func (s *findingScan) unsigned() (uint64, bool) {
	start := s.pos
	if !s.digits() {
		return 0, false
	}
	n, err := strconv.ParseUint(string(s.data[start:s.pos]), 10, 64)
	return n, err == nil
}
