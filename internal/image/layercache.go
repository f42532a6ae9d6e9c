package image

// Per-layer caching: a layer's content never changes for its digest, so
// what a walk took from it (every tar header in order, the content it
// kept, the results of its streams) can be kept and replayed into a later
// walk of any image that has the same layer, without reading the blob.
// Replaying the headers through the same code that applies a read layer
// keeps whiteouts, opaque directories, hardlinks and symlinked directories
// exactly as a read would: a package database written by a later layer
// still replaces the one of a cached base layer.
//
// A record is only valid for the selector that made it. The caller keys
// the cache by what the selector depends on (catalogers, secret options,
// size limits); the walk checks the rest: if a replayed file is wanted
// differently than when it was recorded (the same layer over another base,
// whose symlinks move a path under another name), the whole image is
// walked again without the cache.

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// LayerCache keeps LayerRecords by layer blob digest. Implementations
// must be safe for concurrent use; a Get that cannot read an entry is a
// miss, and a Put that cannot write one is ignored.
type LayerCache interface {
	GetLayer(digest string) (*LayerRecord, bool)
	PutLayer(digest string, rec *LayerRecord)
}

// LayerRecord is what a walk took from one layer.
type LayerRecord struct {
	Entries []LayerEntry
}

// LayerEntry is one tar entry of a recorded layer.
type LayerEntry struct {
	Name     string
	Linkname string `json:",omitempty"`
	Typeflag byte
	Mode     int64
	Size     int64
	UID, GID int   `json:",omitempty"`
	ModTime  int64 // Unix seconds, all the walk keeps
	// Data is the content kept (Kept): the selector asked for it.
	Data []byte `json:",omitempty"`
	Kept bool   `json:",omitempty"`
	// Results are the encoded results of the file's streams, by name.
	Results map[string]RecordedResult `json:",omitempty"`
}

// RecordedResult is one stream's result on one file, encoded by the
// stream's Encode.
type RecordedResult struct {
	Value []byte `json:",omitempty"`
	Err   string `json:",omitempty"`
}

// maxRecordEntries bounds the entries of one record (Limits.MaxRecordBytes
// its bytes): a layer beyond it is read every time.
const maxRecordEntries = 500_000

// errReplayMismatch: a record does not hold what the selector wants now.
var errReplayMismatch = errors.New("layer record does not match the selection")

func (e *LayerEntry) header() *tar.Header {
	return &tar.Header{Name: e.Name, Linkname: e.Linkname, Typeflag: e.Typeflag, Mode: e.Mode, Size: e.Size,
		Uid: e.UID, Gid: e.GID, ModTime: time.Unix(e.ModTime, 0)}
}

func entryOf(hdr *tar.Header) LayerEntry {
	return LayerEntry{Name: hdr.Name, Linkname: hdr.Linkname, Typeflag: hdr.Typeflag, Mode: hdr.Mode, Size: hdr.Size,
		UID: hdr.Uid, GID: hdr.Gid, ModTime: hdr.ModTime.Unix()}
}

// JSONCodec returns a Stream's Encode and Decode for results of type T,
// as JSON.
func JSONCodec[T any]() (encode func(any) ([]byte, error), decode func([]byte) (any, error)) {
	encode = func(v any) ([]byte, error) {
		t, ok := v.(T)
		if !ok && v != nil {
			return nil, fmt.Errorf("stream result is %T", v)
		}
		return json.Marshal(t)
	}
	decode = func(b []byte) (any, error) {
		var t T
		if err := json.Unmarshal(b, &t); err != nil {
			return nil, err
		}
		return t, nil
	}
	return encode, decode
}

// recorder collects one layer's record while it is read.
type recorder struct {
	rec   *LayerRecord
	bytes int64
	max   int64 // negative: unbounded
	ok    bool
}

func (r *recorder) add(hdr *tar.Header) {
	if !r.ok {
		return
	}
	if len(r.rec.Entries) >= maxRecordEntries {
		r.fail()
		return
	}
	r.rec.Entries = append(r.rec.Entries, entryOf(hdr))
	r.bytes += int64(len(hdr.Name) + len(hdr.Linkname) + 128)
	if r.max >= 0 && r.bytes > r.max {
		r.fail()
	}
}

func (r *recorder) fail() { r.ok, r.rec = false, nil }

// content records what content() did with the current entry.
func (r *recorder) content(data []byte, kept bool, streams []Stream, res map[string]StreamResult) {
	if !r.ok || len(r.rec.Entries) == 0 {
		return
	}
	e := &r.rec.Entries[len(r.rec.Entries)-1]
	if kept {
		e.Data, e.Kept = data, true
		r.bytes += int64(len(data))
	}
	for _, s := range streams {
		got, ok := res[s.Name]
		if !ok || s.Encode == nil {
			r.fail()
			return
		}
		b, err := s.Encode(got.Value)
		if err != nil {
			r.fail()
			return
		}
		rr := RecordedResult{Value: b}
		if got.Err != nil {
			rr.Err = got.Err.Error()
		}
		if e.Results == nil {
			e.Results = map[string]RecordedResult{}
		}
		e.Results[s.Name] = rr
		r.bytes += int64(len(b) + len(rr.Err))
	}
	if r.max >= 0 && r.bytes > r.max {
		r.fail()
	}
}

// replayContent gives content() the recorded data and stream results of
// the entry being replayed.
func replayContent(e *LayerEntry, canon string, keep bool, streams []Stream) ([]byte, map[string]StreamResult, error) {
	var data []byte
	if keep {
		if !e.Kept || int64(len(e.Data)) != e.Size {
			return nil, nil, errReplayMismatch
		}
		data = e.Data
	}
	if len(streams) == 0 {
		return data, nil, nil
	}
	out := make(map[string]StreamResult, len(streams))
	for _, s := range streams {
		rr, ok := e.Results[s.Name]
		if !ok || s.Decode == nil {
			return nil, nil, errReplayMismatch
		}
		v, err := s.Decode(rr.Value)
		if err != nil {
			return nil, nil, errReplayMismatch
		}
		var rerr error
		if rr.Err != "" {
			rerr = errors.New(rr.Err)
		}
		out[s.Name] = StreamResult{Path: canon, Value: v, Err: rerr, keepHidden: s.KeepHidden}
	}
	return data, out, nil
}
