package agent

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// Outbox is the agent's durable, bounded queue of reports. Every report is
// written to disk (fsync'd by bbolt's commit) with its sequence number
// before it is sent, and removed only when the hub acknowledges it, so a
// hub outage or an agent restart loses nothing and a resend is recognised
// by the hub as a duplicate. When the queue exceeds its byte budget the
// oldest reports are dropped and counted: the counter is persisted, sent
// to the hub with every report and heartbeat, and makes the agent send a
// full snapshot, so a drop is never silent and the hub converges.
type Outbox struct {
	db       *bolt.DB
	maxBytes int64

	mu      sync.Mutex
	notify  chan struct{}
	nextSeq uint64
	dropped uint64
	bytes   int64
	count   int
}

var (
	bucketQueue = []byte("queue")
	bucketMeta  = []byte("meta")
	keyNextSeq  = []byte("nextSeq")
	keyDropped  = []byte("dropped")
)

// ErrTooLarge is a single report larger than the outbox's whole budget.
var ErrTooLarge = errors.New("report larger than the outbox")

// OpenOutbox opens (creating) the outbox file; maxBytes bounds the queued
// reports' total size.
func OpenOutbox(path string, maxBytes int64) (*Outbox, error) {
	if maxBytes <= 0 {
		return nil, errors.New("outbox: size limit must be positive")
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	o := &Outbox{db: db, maxBytes: maxBytes, notify: make(chan struct{}, 1), nextSeq: 1}
	err = db.Update(func(tx *bolt.Tx) error {
		q, err := tx.CreateBucketIfNotExists(bucketQueue)
		if err != nil {
			return err
		}
		m, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if v := m.Get(keyNextSeq); len(v) == 8 {
			o.nextSeq = binary.BigEndian.Uint64(v)
		}
		if v := m.Get(keyDropped); len(v) == 8 {
			o.dropped = binary.BigEndian.Uint64(v)
		}
		return q.ForEach(func(k, v []byte) error {
			o.bytes += int64(reportSize(v))
			o.count++
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	return o, nil
}

// Close closes the file.
func (o *Outbox) Close() error { return o.db.Close() }

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// Append assigns the next sequence number to env, stores it durably and
// returns the seq. It drops the oldest reports when over budget. Reports
// are stored gzip-compressed (findings snapshots shrink about tenfold, and
// so do the outbox file, its page cache and bbolt's write buffers); the
// budget counts their JSON size, as before compression.
func (o *Outbox) Append(env *fleetapi.Envelope) (uint64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	seq := o.nextSeq
	env.Seq = seq
	data, size, err := encodeReport(env)
	if err != nil {
		return 0, fmt.Errorf("outbox: encode report: %w", err)
	}
	if int64(size) > o.maxBytes {
		return 0, fmt.Errorf("outbox: %d bytes: %w", size, ErrTooLarge)
	}
	dropped, freed, removed := o.dropped, int64(0), 0
	err = o.db.Update(func(tx *bolt.Tx) error {
		q, m := tx.Bucket(bucketQueue), tx.Bucket(bucketMeta)
		if err := q.Put(u64(seq), data); err != nil {
			return err
		}
		c := q.Cursor()
		for k, v := c.First(); k != nil && o.bytes+int64(size)-freed > o.maxBytes; k, v = c.First() {
			if binary.BigEndian.Uint64(k) == seq {
				break
			}
			freed += int64(reportSize(v))
			removed++
			dropped++
			if err := c.Delete(); err != nil {
				return err
			}
		}
		if err := m.Put(keyDropped, u64(dropped)); err != nil {
			return err
		}
		return m.Put(keyNextSeq, u64(seq+1))
	})
	if err != nil {
		return 0, fmt.Errorf("outbox: append: %w", err)
	}
	o.nextSeq = seq + 1
	o.dropped = dropped
	o.bytes += int64(size) - freed
	o.count += 1 - removed
	select {
	case o.notify <- struct{}{}:
	default:
	}
	return seq, nil
}

// Stored reports are either plain JSON (outboxes written by earlier
// agents: the value starts with '{') or formatGzip, the uvarint length of
// the JSON, and one gzip member holding it.
const formatGzip = 0x01

// encodeReport returns the stored form of env and its JSON size. The
// JSON goes straight into the gzip stream, a findings report object by
// object (see writeEnvelopeJSON): a snapshot of 10,000 findings is
// megabytes of JSON, which json.Marshal would hold in memory at once (its
// growing buffer, then a copy) at the agent's memory peak.
func encodeReport(env *fleetapi.Envelope) ([]byte, int, error) {
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed) // a valid level never fails
	cw := &countingWriter{w: zw}
	if err := writeEnvelopeJSON(cw, env); err != nil {
		return nil, 0, err
	}
	if err := zw.Close(); err != nil {
		return nil, 0, err
	}
	out := make([]byte, 0, 1+binary.MaxVarintLen64+z.Len())
	out = append(out, formatGzip)
	out = binary.AppendUvarint(out, uint64(cw.n))
	return append(out, z.Bytes()...), cw.n, nil
}

// writeEnvelopeJSON writes env as JSON: what json.Marshal writes, but for
// a findings report the objects are encoded one at a time, last in their
// object ("findings":{...,"objects":[...]}).
func writeEnvelopeJSON(w io.Writer, env *fleetapi.Envelope) error {
	if env.Findings == nil || len(env.Findings.Objects) == 0 {
		b, err := json.Marshal(env)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	outer, inner := *env, *env.Findings
	outer.Findings, inner.Objects = nil, nil
	head, err := json.Marshal(&outer)
	if err != nil {
		return err
	}
	body, err := json.Marshal(&inner)
	if err != nil {
		return err
	}
	// head and body are JSON objects: drop their closing braces.
	buf := append(head[:len(head)-1:len(head)-1], `,"findings":`...)
	buf = append(buf, body[:len(body)-1]...)
	if len(body) > 2 {
		buf = append(buf, ',')
	}
	buf = append(buf, `"objects":[`...)
	if _, err := w.Write(buf); err != nil {
		return err
	}
	for i := range env.Findings.Objects {
		b, err := json.Marshal(&env.Findings.Objects[i])
		if err != nil {
			return err
		}
		if i > 0 {
			if _, err := w.Write([]byte{','}); err != nil {
				return err
			}
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	_, err = io.WriteString(w, "]}}")
	return err
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += n
	return n, err
}

// splitReport returns the gzip member of a stored report and its JSON
// size; ok is false for a plain JSON value.
func splitReport(v []byte) (member []byte, size int, ok bool) {
	if len(v) == 0 || v[0] != formatGzip {
		return nil, len(v), false
	}
	n, w := binary.Uvarint(v[1:])
	if w <= 0 {
		return nil, len(v), false
	}
	return v[1+w:], int(n), true
}

// reportSize is the JSON size of a stored report.
func reportSize(v []byte) int {
	_, size, _ := splitReport(v)
	return size
}

// reportJSON returns the JSON of a stored report.
func reportJSON(v []byte) ([]byte, error) {
	member, size, ok := splitReport(v)
	if !ok {
		return v, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(member))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	out := bytes.NewBuffer(make([]byte, 0, size))
	if _, err := io.Copy(out, zr); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Oldest returns up to n queued reports, oldest first.
func (o *Outbox) Oldest(n int) ([]fleetapi.Envelope, error) {
	var out []fleetapi.Envelope
	err := o.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketQueue).Cursor()
		for k, v := c.First(); k != nil && len(out) < n; k, v = c.Next() {
			js, err := reportJSON(v)
			if err != nil {
				return fmt.Errorf("report %d: %w", binary.BigEndian.Uint64(k), err)
			}
			var e fleetapi.Envelope
			if err := json.Unmarshal(js, &e); err != nil {
				return fmt.Errorf("report %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: read: %w", err)
	}
	return out, nil
}

// RawReport is a queued report as stored (see encodeReport).
type RawReport struct {
	Seq uint64
	// Size is the report's JSON size.
	Size int
	// Stored is the stored value, copied out of the file.
	Stored []byte
}

// JSON decodes the report's JSON.
func (r RawReport) JSON() ([]byte, error) { return reportJSON(r.Stored) }

// OldestRaw returns up to n queued reports, oldest first, without decoding
// them, stopping before maxBytes of JSON (but always returning at least
// one when the queue is not empty).
func (o *Outbox) OldestRaw(n int, maxBytes int) ([]RawReport, error) {
	var out []RawReport
	size := 0
	err := o.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketQueue).Cursor()
		for k, v := c.First(); k != nil && len(out) < n; k, v = c.Next() {
			rs := reportSize(v)
			if len(out) > 0 && size+rs > maxBytes {
				break
			}
			size += rs
			// bbolt's values are valid only inside the transaction.
			out = append(out, RawReport{Seq: binary.BigEndian.Uint64(k), Size: rs, Stored: bytes.Clone(v)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: read: %w", err)
	}
	return out, nil
}

// Ack removes every report with a seq at or below seq.
func (o *Outbox) Ack(seq uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	var freed int64
	removed := 0
	err := o.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketQueue).Cursor()
		for k, v := c.First(); k != nil && binary.BigEndian.Uint64(k) <= seq; k, v = c.First() {
			freed += int64(reportSize(v))
			removed++
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("outbox: ack %d: %w", seq, err)
	}
	o.bytes -= freed
	o.count -= removed
	return nil
}

// Resequence renumbers the queue after the hub's highest applied Seq
// (after): reports at or below it were applied (their acknowledgement was
// lost) and are removed; the rest keep their order as after+1, after+2…,
// and the next report follows them. The hub refuses (409) reports more
// than a bound ahead of what it applied, which a genuine agent meets when
// the hub's database was restored from an older backup: renumbered, its
// reports are accepted and none is lost. It returns how many reports it
// renumbered.
func (o *Outbox) Resequence(after uint64) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var freed int64
	removed, renumbered := 0, 0
	next := after + 1
	err := o.db.Update(func(tx *bolt.Tx) error {
		q, m := tx.Bucket(bucketQueue), tx.Bucket(bucketMeta)
		var keys []uint64
		if err := q.ForEach(func(k, _ []byte) error {
			keys = append(keys, binary.BigEndian.Uint64(k))
			return nil
		}); err != nil {
			return err
		}
		// Ascending, each report moves to a key at or below its own and
		// above every key already moved: none overwrites another.
		for _, old := range keys {
			v := q.Get(u64(old))
			if old <= after {
				freed += int64(reportSize(v))
				removed++
				if err := q.Delete(u64(old)); err != nil {
					return err
				}
				continue
			}
			if old == next {
				next++
				continue
			}
			js, err := reportJSON(v)
			if err != nil {
				return fmt.Errorf("report %d: %w", old, err)
			}
			var env fleetapi.Envelope
			if err := json.Unmarshal(js, &env); err != nil {
				return fmt.Errorf("report %d: %w", old, err)
			}
			env.Seq = next
			data, size, err := encodeReport(&env)
			if err != nil {
				return fmt.Errorf("report %d: %w", old, err)
			}
			freed += int64(reportSize(v) - size)
			if err := q.Delete(u64(old)); err != nil {
				return err
			}
			if err := q.Put(u64(next), data); err != nil {
				return err
			}
			next++
			renumbered++
		}
		return m.Put(keyNextSeq, u64(next))
	})
	if err != nil {
		return 0, fmt.Errorf("outbox: resequence after %d: %w", after, err)
	}
	o.nextSeq = next
	o.bytes -= freed
	o.count -= removed
	return renumbered, nil
}

// OutboxStats describe the queue.
type OutboxStats struct {
	Pending int
	Bytes   int64
	Dropped uint64
	// LastSeq is the highest seq assigned.
	LastSeq uint64
}

// Stats returns the queue's state.
func (o *Outbox) Stats() OutboxStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return OutboxStats{Pending: o.count, Bytes: o.bytes, Dropped: o.dropped, LastSeq: o.nextSeq - 1}
}

// Notify is signalled (coalesced) after each Append.
func (o *Outbox) Notify() <-chan struct{} { return o.notify }
