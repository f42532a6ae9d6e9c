package vulndb

import (
	"archive/zip"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/palisade-sec/palisade/internal/inflate"
)

// Limits of one archive or directory of records.
const (
	maxArchiveEntries = 2_000_000
	// maxSkipErrors is how many record errors a read keeps for its report.
	maxSkipErrors = 20
)

// readStats counts what a read of a directory or archive did.
type readStats struct {
	records   int
	withdrawn int
	skipped   int
	errors    []string
}

func (s *readStats) skip(name string, err error) {
	s.skipped++
	if len(s.errors) < maxSkipErrors {
		s.errors = append(s.errors, fmt.Sprintf("%s: %v", name, err))
	}
}

// readRecords reads every *.json file of a zip archive or a directory tree
// (the layouts of OSV's all.zip exports and of the Go vulnerability
// database's data/osv) and calls fn with each valid record and its JSON
// without the whitespace between tokens (valid only during the call).
// The record holds only its ID, withdrawn time and affected packages
// (parseStripped); the JSON is what a database stores. An invalid
// record is skipped and counted; an unreadable or corrupt archive is an
// error, so that an update from it fails as a whole.
func readRecords(ctx context.Context, path string, fn func(*Record, []byte) error) (readStats, error) {
	info, err := os.Stat(path)
	if err != nil {
		return readStats{}, err
	}
	if info.IsDir() {
		return readDir(ctx, path, fn)
	}
	f, err := os.Open(path)
	if err != nil {
		return readStats{}, err
	}
	defer f.Close()
	return readZip(ctx, f, info.Size(), path, fn)
}

// A batch of a read holds at most this many entries or declared bytes,
// so that the batches decodeAhead keeps in flight stay small.
const (
	readBatchEntries = 256
	readBatchBytes   = 4 << 20
)

// recordEntry is one file of an archive or directory: name is what a
// skip reports, read appends its content to buf (at most
// MaxRecordSize+1 bytes; a zip entry inflated with dec).
type recordEntry struct {
	name string
	// size is the entry's declared size, at most MaxRecordSize; tooLarge
	// is set when it declares more.
	size     int
	tooLarge bool
	read     func(buf []byte, dec *inflate.Decoder) ([]byte, error)
}

// parsedEntry is a recordEntry read and parsed: fatal is an error that
// fails the whole read (a corrupt archive); err one that skips the record.
type parsedEntry struct {
	name  string
	data  []byte
	rec   Record
	err   error
	fatal error
}

// parsedBatch is a batch of parsed entries and the buffer their data is
// in. The whole of it (its lists too) is given back to the read's pool
// once the writer is done with it, and reused for a later batch.
type parsedBatch struct {
	entries []parsedEntry
	buf     []byte
	// affected holds the affected packages of every record of the
	// batch; ends the end of each entry's data in buf.
	affected []Affected
	ends     []int
}

// batchPool recycles one read's parsed batches (their buffers, entries
// and lists: a few hundred kilobytes each, for every 256 records).
type batchPool chan *parsedBatch

// get returns a batch to parse into, from the pool if one is free.
func (p batchPool) get() *parsedBatch {
	select {
	case b := <-p:
		return b
	default:
		return new(parsedBatch)
	}
}

// put gives a batch back; nothing of it may be referenced any more.
func (p batchPool) put(b *parsedBatch) {
	select {
	case p <- b:
	default:
	}
}

// entryParser is what a decoding worker reuses from batch to batch: the
// inflate decoder (about 600 KiB of buffers) and the record scanner (its
// interned strings, its lists). One read keeps a few in a channel, one
// per worker at most in use.
type entryParser struct {
	dec  inflate.Decoder
	scan recordScanner
}

// resized returns l with length n, reusing its array when it can; the
// elements are zero.
func resized[E any](l []E, n int) []E {
	if cap(l) < n {
		return make([]E, n)
	}
	l = l[:n]
	clear(l)
	return l
}

// parseEntries reads and parses a batch of entries (a worker of
// decodeAhead) with p, into a batch of pool. The batch's files are read
// into one buffer; a valid record's data is its JSON stripped of
// whitespace.
func parseEntries(p *entryParser, pool batchPool, batch []recordEntry) *parsedBatch {
	pb := pool.get()
	out := resized(pb.entries, len(batch))
	ends := resized(pb.ends, len(batch))
	pb.entries, pb.ends = out, ends
	total := 0
	for _, e := range batch {
		total += e.size + 1 // +1: room to read the end of the file
	}
	buf := pb.buf[:0]
	if cap(buf) < total {
		buf = make([]byte, 0, total)
	}
	for i, e := range batch {
		out[i].name = e.name
		ends[i] = len(buf)
		if e.tooLarge {
			out[i].err = ErrRecordTooLarge
			continue
		}
		var err error
		if buf, err = e.read(buf, &p.dec); err != nil {
			out[i].fatal = err
			pb.entries, pb.buf = out[:i+1], buf
			return pb
		}
		ends[i] = len(buf)
	}
	pb.buf = buf
	start := 0
	// The batch's records share one list of affected packages; a record
	// of a distribution names one package per release.
	affected := pb.affected[:0]
	for i := range out {
		if out[i].err != nil {
			continue
		}
		data := buf[start:ends[i]:ends[i]]
		start = ends[i]
		// Stripped in place by the scan (the result is never longer), so
		// that the single writer only copies it.
		out[i].data, affected, out[i].err = p.scan.parseStripped(data, &out[i].rec, affected)
	}
	pb.affected = affected // grown, if it had to: kept for the next batch
	return pb
}

// appendAll appends everything r yields to buf.
func appendAll(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// readEntries reads the entries that produce emits, parsing them ahead
// of fn in parallel, and calls fn in order with each valid record.
func readEntries(ctx context.Context, produce func(ctx context.Context, emit func([]recordEntry) error) error,
	fn func(*Record, []byte) error) (readStats, error) {
	var st readStats
	pool := make(batchPool, 8)
	parsers := make(chan *entryParser, maxDecodeWorkers)
	parse := func(batch []recordEntry) *parsedBatch {
		var p *entryParser
		select {
		case p = <-parsers:
		default:
			p = new(entryParser)
		}
		defer func() { parsers <- p }() // never blocks: at most one per worker
		return parseEntries(p, pool, batch)
	}
	err := decodeAhead(ctx, produce, parse, func(batch *parsedBatch) error {
		for i := range batch.entries {
			e := &batch.entries[i]
			if e.fatal != nil {
				return fmt.Errorf("%s: %w", e.name, e.fatal)
			}
			if err := st.account(e.name, &e.rec, e.data, e.err, fn); err != nil {
				return err
			}
		}
		// fn has had every record and its data: the batch can be read
		// into again.
		pool.put(batch)
		return nil
	})
	return st, err
}

// batcher groups entries into batches of bounded count and declared size.
type batcher struct {
	emit  func([]recordEntry) error
	batch []recordEntry
	bytes uint64
}

func (b *batcher) add(e recordEntry, size uint64) error {
	b.batch = append(b.batch, e)
	b.bytes += size
	if len(b.batch) >= readBatchEntries || b.bytes >= readBatchBytes {
		return b.flush()
	}
	return nil
}

func (b *batcher) flush() error {
	if len(b.batch) == 0 {
		return nil
	}
	err := b.emit(b.batch)
	b.batch, b.bytes = nil, 0
	return err
}

func readZip(ctx context.Context, r io.ReaderAt, size int64, name string, fn func(*Record, []byte) error) (readStats, error) {
	ra := newChunkReaderAt(r, size)
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return readStats{}, fmt.Errorf("zip %s: %w", name, err)
	}
	if len(zr.File) > maxArchiveEntries {
		return readStats{}, fmt.Errorf("zip %s: %d entries, limit %d", name, len(zr.File), maxArchiveEntries)
	}
	st, err := readEntries(ctx, func(ctx context.Context, emit func([]recordEntry) error) error {
		b := batcher{emit: emit}
		for _, zf := range zr.File {
			if err := ctx.Err(); err != nil {
				return err
			}
			if zf.FileInfo().IsDir() || !strings.HasSuffix(zf.Name, ".json") {
				continue
			}
			// A zip.File opens independently of the others (the archive
			// is an io.ReaderAt), so workers can inflate in parallel; the
			// reader stops at the declared size, which bounds a batch.
			size := min(zf.UncompressedSize64, MaxRecordSize)
			e := recordEntry{name: zf.Name, size: int(size), tooLarge: zf.UncompressedSize64 > MaxRecordSize,
				read: func(buf []byte, dec *inflate.Decoder) ([]byte, error) { return readZipEntry(ra, zf, dec, buf) }}
			if err := b.add(e, size); err != nil {
				return err
			}
		}
		return b.flush()
	}, fn)
	if err != nil {
		return st, fmt.Errorf("zip %s: %w", name, err)
	}
	return st, nil
}

// readZipEntry appends a zip entry's content to buf, with the checks of
// archive/zip's File.Open (the declared size, the CRC-32 of the central
// directory and of the data descriptor), inflating a deflated entry with
// dec: inflate's decoder, reused across a batch's entries, is faster
// than compress/flate's and reads the entry's compressed bytes whole.
// Other methods go through File.Open. archive is the archive's reader. The entry's declared size is at
// most MaxRecordSize (larger ones are skipped unread) and output beyond
// it is an error, which bounds what one entry appends.
func readZipEntry(archive io.ReaderAt, zf *zip.File, dec *inflate.Decoder, buf []byte) ([]byte, error) {
	if zf.Method != zip.Deflate {
		rc, err := zf.Open()
		if err != nil {
			return buf, err
		}
		defer rc.Close()
		// The header's size may lie; the reader is capped regardless, and
		// reading to the end checks the CRC-32.
		return appendAll(buf, io.LimitReader(rc, MaxRecordSize+1))
	}
	raw, err := zf.OpenRaw()
	if err != nil {
		return buf, err
	}
	start := len(buf)
	want := zf.UncompressedSize64
	err = dec.Inflate(raw, func(p []byte) error {
		if uint64(len(buf)-start+len(p)) > want {
			return zip.ErrFormat // more than the header declares
		}
		buf = append(buf, p...)
		return nil
	})
	if err != nil {
		return buf, err
	}
	if uint64(len(buf)-start) != want {
		return buf, io.ErrUnexpectedEOF
	}
	sum := crc32.ChecksumIEEE(buf[start:])
	if zf.Flags&zipDataDescriptor != 0 {
		if err := checkDataDescriptor(archive, zf); err != nil {
			return buf, err
		}
		if sum != zf.CRC32 {
			return buf, zip.ErrChecksum
		}
	} else if zf.CRC32 != 0 && sum != zf.CRC32 {
		// As archive/zip: a CRC-32 of zero may mean none was written.
		return buf, zip.ErrChecksum
	}
	return buf, nil
}

// zipDataDescriptor is the general-purpose flag of an entry whose sizes
// and CRC-32 follow its data.
const zipDataDescriptor = 0x8

// checkDataDescriptor checks, as archive/zip does, that the data
// descriptor after an entry's data (with or without its signature)
// carries the central directory's CRC-32; its sizes are ignored. archive
// is the archive's reader.
func checkDataDescriptor(archive io.ReaderAt, zf *zip.File) error {
	off, err := zf.DataOffset()
	if err != nil {
		return err
	}
	var d [16]byte
	n, err := archive.ReadAt(d[:], off+int64(zf.CompressedSize64))
	if n < 12 {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	b := d[:12]
	if binary.LittleEndian.Uint32(b) == 0x08074b50 {
		b = d[4:16]
		if n < 16 {
			return io.ErrUnexpectedEOF
		}
	}
	if binary.LittleEndian.Uint32(b) != zf.CRC32 {
		return zip.ErrChecksum
	}
	return nil
}

func readDir(ctx context.Context, root string, fn func(*Record, []byte) error) (readStats, error) {
	st, err := readEntries(ctx, func(ctx context.Context, emit func([]recordEntry) error) error {
		b := batcher{emit: emit}
		n := 0
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			// Only regular files: a symlink could lead out of the tree or
			// to a device.
			if !d.Type().IsRegular() || !strings.HasSuffix(d.Name(), ".json") {
				return nil
			}
			if n++; n > maxArchiveEntries {
				return fmt.Errorf("more than %d files", maxArchiveEntries)
			}
			rel, _ := filepath.Rel(root, p)
			var size uint64
			if fi, err := d.Info(); err == nil {
				size = uint64(min(max(fi.Size(), 0), MaxRecordSize))
			}
			return b.add(recordEntry{name: rel, size: int(size), read: func(buf []byte, _ *inflate.Decoder) ([]byte, error) {
				f, err := os.Open(p)
				if err != nil {
					return buf, err
				}
				defer f.Close()
				return appendAll(buf, io.LimitReader(f, MaxRecordSize+1))
			}}, size)
		})
		if err != nil {
			return err
		}
		return b.flush()
	}, fn)
	if err != nil {
		return st, fmt.Errorf("directory %s: %w", root, err)
	}
	return st, nil
}

// emit validates a converted record and passes it on, or skips and
// counts it: the last step of every vendor format's reader.
func (st *readStats) emit(rec *Record, add func(*Record) error) error {
	if err := rec.validate(); err != nil {
		st.skip(rec.ID, err)
		return nil
	}
	st.records++
	return add(rec)
}

// account counts a parsed record and passes it on, in the source's order.
func (st *readStats) account(name string, rec *Record, data []byte, err error, fn func(*Record, []byte) error) error {
	if err != nil {
		st.skip(name, err)
		return nil
	}
	if rec.Withdrawn != nil {
		st.withdrawn++
		return nil
	}
	st.records++
	return fn(rec, data)
}
