package rpmdb

// SQLite, rpm ≥ 4.16's default backend (rpmdb.sqlite): table Packages
// (hnum INTEGER PRIMARY KEY, blob BLOB), one header blob per row.
//
// This is a read-only reader of just enough of the SQLite file format
// (https://www.sqlite.org/fileformat2.html) to list one rowid table, so
// that cataloguing images needs no SQLite engine (modernc.org/sqlite adds
// about 6 MB to a binary) and no temporary file. Format facts, all
// big-endian: a 100-byte file header (page size at 16, 1 meaning 65536;
// reserved bytes per page at 20; page count at 28, valid when the change
// counter at 24 equals the one at 92; text encoding at 56); pages are
// numbered from 1 and page 1 holds the B-tree of sqlite_schema (type,
// name, tbl_name, rootpage, sql) after the file header. A table B-tree
// page starts with its type (0x05 interior, 0x0D leaf), the cell count at
// 3 and, on interior pages, the right-most child at 8; a 2-byte cell
// pointer array follows the 8- or 12-byte header. An interior cell is a
// 4-byte left child and a varint key; a leaf cell is the varint payload
// length, the varint rowid and the payload, of which a payload longer
// than U-35 (U: page size less reserved bytes) keeps only a prefix on
// the page followed by the number of its first overflow page; each
// overflow page is the next page number and U-4 bytes of payload. A
// payload is a record: a varint header length, one varint serial type
// per column, then the column values.
//
// The write-ahead log (rpmdb.sqlite-wal) is not read, as before with the
// SQLite driver: the cataloger reads only the database file (rpm
// checkpoints and removes the WAL when it closes the database, so images
// built with dnf or rpm have none).
//
// Hostile files: every page number is checked against the page count,
// every page of the walk (B-tree and overflow) may be visited once, the
// B-tree may be at most 20 levels deep (as in SQLite), a payload is at
// most maxHeaderBlobLen (plus its record header), the cells of a page may
// neither repeat nor overlap (SQLite never shares a cell), the rows are
// at most maxSQLiteRows and one per sqliteRowCost bytes of the file, and
// all payloads together are at most the file's size. A row costs its
// caller some hundred bytes whatever its payload: without the cell and
// row checks, a file of a few MB whose cell pointers repeat one tiny
// cell made a million rows and hundreds of MB.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf16"
)

const (
	sqliteHeaderLen = 100
	sqliteMinPage   = 512
	sqliteMaxPage   = 65536
	// sqliteMaxDepth is SQLite's own limit (BTCURSOR_MAX_DEPTH).
	sqliteMaxDepth = 20
	// maxSQLitePayload allows a header blob of maxHeaderBlobLen with its
	// record header (a few bytes of serial types).
	maxSQLitePayload = maxHeaderBlobLen + 64
	// maxSQLiteRows is far above any real system (a few thousand
	// packages, each a header blob of kilobytes).
	maxSQLiteRows = 100_000
	// sqliteRowCost is the file bytes each row is charged: a file holds
	// at most size/sqliteRowCost rows, whatever their payloads.
	sqliteRowCost = 64
	// sqliteCtxEvery is how many pages are read between checks of ctx.
	sqliteCtxEvery = 256
)

var (
	sqliteMagic = []byte("SQLite format 3\x00")
	errSQLite   = errors.New("malformed SQLite database")
)

// ReadSQLite returns the header blobs of an rpmdb.sqlite database of size
// bytes read through r, in the order of their hnum (the rowid).
func ReadSQLite(ctx context.Context, r io.ReaderAt, size int64) ([][]byte, error) {
	rows, err := readSQLiteTable(ctx, r, size, "Packages", 1)
	if err != nil {
		return nil, err
	}
	blobs := make([][]byte, len(rows))
	for i, row := range rows {
		if len(row.value) > maxHeaderBlobLen {
			return nil, fmt.Errorf("%w: Packages row %d: header blob of %d bytes", errSQLite, row.rowid, len(row.value))
		}
		blobs[i] = row.value
	}
	return blobs, nil
}

// sqliteRow is one row of a rowid table: its rowid and one column, a
// blob or text (nil for NULL).
type sqliteRow struct {
	rowid int64
	value []byte
}

// readSQLiteTable returns column col of every row of the rowid table
// named table (as SQLite, case-insensitively), in rowid order.
func readSQLiteTable(ctx context.Context, r io.ReaderAt, size int64, table string, col int) ([]sqliteRow, error) {
	db, err := openSQLite(ctx, r, size)
	if err != nil {
		return nil, err
	}
	root, err := db.findTable(table)
	if err != nil {
		return nil, err
	}
	var rows []sqliteRow
	err = db.walk(root, 0, func(pg uint32, rowid int64, payload []byte) error {
		st, v, err := recordColumn(payload, col)
		if err != nil {
			return fmt.Errorf("%w: page %d: %s row %d: %v", errSQLite, pg, table, rowid, err)
		}
		if st != 0 && st < 12 {
			return fmt.Errorf("%w: page %d: %s row %d: column %d is a number, not a blob", errSQLite, pg, table, rowid, col)
		}
		if st == 0 {
			v = nil
		}
		rows = append(rows, sqliteRow{rowid: rowid, value: v})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

type sqliteFile struct {
	ctx      context.Context
	r        io.ReaderAt
	size     int64
	pageSize int64
	usable   int64 // U: page size less the reserved bytes
	pages    uint32
	enc      uint32 // text encoding: 1 UTF-8, 2 UTF-16le, 3 UTF-16be
	visited  []uint64
	nvisited uint32
	payload  int64 // bytes of all payloads read so far
	rows     int64 // leaf cells (rows) read so far, of all tables
	maxRows  int64
	spans    []uint64 // the cells of the page being checked, see checkCells
	bufs     [sqliteMaxDepth + 1][]byte
}

func openSQLite(ctx context.Context, r io.ReaderAt, size int64) (*sqliteFile, error) {
	if size < sqliteHeaderLen {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the file header", errSQLite, size)
	}
	h := make([]byte, sqliteHeaderLen)
	if _, err := r.ReadAt(h, 0); err != nil {
		return nil, fmt.Errorf("%w: file header: %v", errSQLite, err)
	}
	if !bytes.HasPrefix(h, sqliteMagic) {
		return nil, fmt.Errorf("%w: no SQLite magic", errSQLite)
	}
	ps := int64(binary.BigEndian.Uint16(h[16:18]))
	if ps == 1 {
		ps = sqliteMaxPage
	}
	if ps < sqliteMinPage || ps > sqliteMaxPage || ps&(ps-1) != 0 {
		return nil, fmt.Errorf("%w: page size %d", errSQLite, ps)
	}
	// Read version 1 is a rollback journal, 2 WAL; SQLite refuses
	// higher ones, and so do we.
	if h[18] < 1 || h[18] > 2 || h[19] < 1 || h[19] > 2 {
		return nil, fmt.Errorf("%w: file format versions %d/%d", errSQLite, h[18], h[19])
	}
	usable := ps - int64(h[20])
	if usable < 480 {
		return nil, fmt.Errorf("%w: %d reserved bytes in pages of %d", errSQLite, h[20], ps)
	}
	if h[21] != 64 || h[22] != 32 || h[23] != 32 {
		return nil, fmt.Errorf("%w: payload fractions %d/%d/%d", errSQLite, h[21], h[22], h[23])
	}
	n := size / ps
	if hn := int64(binary.BigEndian.Uint32(h[28:32])); hn != 0 && hn < n &&
		binary.BigEndian.Uint32(h[24:28]) == binary.BigEndian.Uint32(h[92:96]) {
		n = hn
	}
	if n > math.MaxUint32 {
		n = math.MaxUint32
	}
	enc := binary.BigEndian.Uint32(h[56:60])
	switch enc {
	case 0:
		enc = 1 // not yet set: an empty database
	case 1, 2, 3:
	default:
		return nil, fmt.Errorf("%w: text encoding %d", errSQLite, enc)
	}
	return &sqliteFile{
		ctx: ctx, r: r, size: size, pageSize: ps, usable: usable, pages: uint32(n), enc: enc,
		visited: make([]uint64, n/64+1),
		maxRows: min(maxSQLiteRows, size/sqliteRowCost),
	}, nil
}

// visit marks page pg as read, refusing a page out of range or read
// before: B-trees and overflow chains never share pages, so a second
// visit is a cycle or a hostile file.
func (db *sqliteFile) visit(pg uint32) error {
	if pg == 0 || pg > db.pages {
		return fmt.Errorf("%w: page %d outside the file (%d pages)", errSQLite, pg, db.pages)
	}
	w, b := pg/64, uint64(1)<<(pg%64)
	if db.visited[w]&b != 0 {
		return fmt.Errorf("%w: page %d is referenced twice (a cycle)", errSQLite, pg)
	}
	db.visited[w] |= b
	db.nvisited++
	if db.nvisited%sqliteCtxEvery == 0 {
		if err := db.ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (db *sqliteFile) offset(pg uint32) int64 { return int64(pg-1) * db.pageSize }

// readPage visits page pg and reads it into the buffer of depth.
func (db *sqliteFile) readPage(pg uint32, depth int) ([]byte, error) {
	if err := db.visit(pg); err != nil {
		return nil, err
	}
	if db.bufs[depth] == nil {
		db.bufs[depth] = make([]byte, db.pageSize)
	}
	buf := db.bufs[depth]
	if _, err := db.r.ReadAt(buf, db.offset(pg)); err != nil {
		return nil, fmt.Errorf("%w: page %d: %v", errSQLite, pg, err)
	}
	return buf, nil
}

// findTable returns the root page of the rowid table name, from
// sqlite_schema on page 1.
func (db *sqliteFile) findTable(name string) (uint32, error) {
	var root uint32
	found := false
	err := db.walk(1, 0, func(pg uint32, rowid int64, rec []byte) error {
		if found {
			return nil
		}
		st, typ, err := recordColumn(rec, 0)
		if err != nil || !isText(st) || db.text(typ) != "table" {
			return nil // an index, view or trigger, or not ours to judge
		}
		if st, n, err := recordColumn(rec, 1); err != nil || !isText(st) || !strings.EqualFold(db.text(n), name) {
			return nil
		}
		st, v, err := recordColumn(rec, 3)
		if err != nil {
			return fmt.Errorf("%w: page %d: sqlite_schema row %d: %v", errSQLite, pg, rowid, err)
		}
		rp, ok := recordInt(st, v)
		if !ok || rp < 1 || rp > int64(db.pages) {
			return fmt.Errorf("%w: page %d: table %s has root page %d (serial type %d), outside the file", errSQLite, pg, name, rp, st)
		}
		root, found = uint32(rp), true
		return nil
	})
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("%w: no table %s", errSQLite, name)
	}
	return root, nil
}

func isText(st uint64) bool { return st >= 13 && st%2 == 1 }

// text decodes a text value in the database's encoding.
func (db *sqliteFile) text(b []byte) string {
	if db.enc == 1 {
		return string(b)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if db.enc == 3 {
		bo = binary.BigEndian
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = bo.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// walk calls fn with the page, rowid and payload of every row of the
// table B-tree rooted at pg, in rowid order. payload is fn's to keep.
func (db *sqliteFile) walk(pg uint32, depth int, fn func(pg uint32, rowid int64, payload []byte) error) error {
	if depth > sqliteMaxDepth {
		return fmt.Errorf("%w: page %d: B-tree deeper than %d levels", errSQLite, pg, sqliteMaxDepth)
	}
	page, err := db.readPage(pg, depth)
	if err != nil {
		return err
	}
	page = page[:db.usable]
	h := 0
	if pg == 1 {
		h = sqliteHeaderLen
	}
	var hlen int
	switch page[h] {
	case 0x0D:
		hlen = 8
	case 0x05:
		hlen = 12
	default:
		return fmt.Errorf("%w: page %d: type 0x%02x, not a table B-tree page", errSQLite, pg, page[h])
	}
	leaf := hlen == 8
	cells := int(binary.BigEndian.Uint16(page[h+3:]))
	ptrs := h + hlen
	end := ptrs + 2*cells
	if end > len(page) {
		return fmt.Errorf("%w: page %d: %d cells do not fit", errSQLite, pg, cells)
	}
	if err := db.checkCells(pg, page, ptrs, cells, leaf); err != nil {
		return err
	}
	for i := range cells {
		cell := page[binary.BigEndian.Uint16(page[ptrs+2*i:]):]
		if !leaf {
			if len(cell) < 4 {
				return fmt.Errorf("%w: page %d: cell %d truncated", errSQLite, pg, i)
			}
			if err := db.walk(binary.BigEndian.Uint32(cell), depth+1, fn); err != nil {
				return err
			}
			continue
		}
		if db.rows++; db.rows > db.maxRows {
			return fmt.Errorf("%w: page %d: more than %d rows in a file of %d bytes (at most %d, and one per %d bytes)", errSQLite, pg, db.maxRows, db.size, maxSQLiteRows, sqliteRowCost)
		}
		plen, n1 := sqliteVarint(cell)
		rowid, n2 := sqliteVarint(cell[n1:])
		if n1 <= 0 || n2 <= 0 {
			return fmt.Errorf("%w: page %d: cell %d truncated", errSQLite, pg, i)
		}
		payload, err := db.readPayload(pg, cell[n1+n2:], plen)
		if err != nil {
			return fmt.Errorf("%w (cell %d, rowid %d)", err, i, int64(rowid))
		}
		if err := fn(pg, int64(rowid), payload); err != nil {
			return err
		}
	}
	if leaf {
		return nil
	}
	return db.walk(binary.BigEndian.Uint32(page[h+8:]), depth+1, fn)
}

// checkCells checks the cell pointer array of page pg (cells pointers
// from ptrs): every cell starts after the array and inside the page, and
// no cell starts inside another (the same offset twice included), as in
// every page SQLite writes. A cell's extent is as far as it can be
// decoded; a truncated cell is left to the caller to report.
func (db *sqliteFile) checkCells(pg uint32, page []byte, ptrs, cells int, leaf bool) error {
	end := ptrs + 2*cells
	// A span packs a cell's offset (16 bits), the end of its extent
	// (17 bits) and its index (15 bits), sorting by offset.
	spans := db.spans[:0]
	for i := range cells {
		off := int(binary.BigEndian.Uint16(page[ptrs+2*i:]))
		if off < end || off >= len(page) {
			return fmt.Errorf("%w: page %d: cell %d at offset %d", errSQLite, pg, i, off)
		}
		spans = append(spans, uint64(off)<<32|uint64(off+db.cellLen(page[off:], leaf))<<15|uint64(i))
	}
	db.spans = spans
	slices.Sort(spans)
	for k := 1; k < len(spans); k++ {
		a, b := spans[k-1], spans[k]
		aOff, aEnd, aIdx := a>>32, a>>15&(1<<17-1), a&(1<<15-1)
		bOff, bIdx := b>>32, b&(1<<15-1)
		if aOff == bOff {
			return fmt.Errorf("%w: page %d: cells %d and %d both at offset %d (cell pointers repeat a cell)", errSQLite, pg, min(aIdx, bIdx), max(aIdx, bIdx), aOff)
		}
		if bOff < aEnd {
			return fmt.Errorf("%w: page %d: cell %d at offset %d starts inside cell %d (offsets %d to %d)", errSQLite, pg, bIdx, bOff, aIdx, aOff, aEnd)
		}
	}
	return nil
}

// cellLen returns the length of the cell at the start of cell (the rest
// of its page) as far as it decodes, at least 1 and at most len(cell):
// an interior cell's child page and key, a leaf cell's payload length,
// rowid, local payload and first overflow page.
func (db *sqliteFile) cellLen(cell []byte, leaf bool) int {
	n := 1
	if !leaf {
		if _, k := sqliteVarint(cell[min(4, len(cell)):]); len(cell) >= 4 && k > 0 {
			n = 4 + k
		}
	} else {
		plen, n1 := sqliteVarint(cell)
		_, n2 := sqliteVarint(cell[n1:])
		if n1 > 0 && n2 > 0 && plen <= maxSQLitePayload {
			onPage, ovfl := db.localLen(int64(plen))
			n = n1 + n2 + int(onPage)
			if ovfl {
				n += 4
			}
		}
	}
	return max(1, min(n, len(cell)))
}

// localLen returns how many bytes of a payload of p bytes its leaf cell
// holds, and whether the rest is on overflow pages (whose first page
// number follows those bytes).
func (db *sqliteFile) localLen(p int64) (onPage int64, overflow bool) {
	u := db.usable
	x := u - 35
	if p <= x {
		return p, false
	}
	m := (u-12)*32/255 - 23
	k := m + (p-m)%(u-4)
	if k <= x {
		return k, true
	}
	return m, true
}

// readPayload assembles a leaf cell's payload of plen bytes from the rest
// of its cell (local) and its overflow chain.
func (db *sqliteFile) readPayload(pg uint32, local []byte, plen uint64) ([]byte, error) {
	if plen > maxSQLitePayload {
		return nil, fmt.Errorf("%w: page %d: payload of %d bytes", errSQLite, pg, plen)
	}
	p := int64(plen)
	if db.payload+p > db.size {
		return nil, fmt.Errorf("%w: page %d: payloads add up to more than the file's %d bytes", errSQLite, pg, db.size)
	}
	db.payload += p
	u := db.usable
	onPage, overflow := db.localLen(p)
	if !overflow {
		if p > int64(len(local)) {
			return nil, fmt.Errorf("%w: page %d: payload of %d bytes overruns the page", errSQLite, pg, p)
		}
		return bytes.Clone(local[:p]), nil
	}
	if onPage+4 > int64(len(local)) {
		return nil, fmt.Errorf("%w: page %d: payload of %d bytes overruns the page", errSQLite, pg, p)
	}
	// Refuse before allocating a chain longer than the unread pages.
	if need := (p - onPage + u - 5) / (u - 4); need > int64(db.pages-db.nvisited) {
		return nil, fmt.Errorf("%w: page %d: payload of %d bytes needs %d overflow pages, more than the file has", errSQLite, pg, p, need)
	}
	out := make([]byte, p)
	copy(out, local[:onPage])
	next := binary.BigEndian.Uint32(local[onPage:])
	var link [4]byte
	for got := onPage; got < p; {
		if next == 0 {
			return nil, fmt.Errorf("%w: page %d: overflow chain ends after %d of %d bytes", errSQLite, pg, got, p)
		}
		if err := db.visit(next); err != nil {
			return nil, fmt.Errorf("overflow chain of page %d: %w", pg, err)
		}
		n := min(u-4, p-got)
		off := db.offset(next)
		if _, err := db.r.ReadAt(link[:], off); err != nil {
			return nil, fmt.Errorf("%w: overflow page %d: %v", errSQLite, next, err)
		}
		if _, err := db.r.ReadAt(out[got:got+n], off+4); err != nil {
			return nil, fmt.Errorf("%w: overflow page %d: %v", errSQLite, next, err)
		}
		got += n
		next = binary.BigEndian.Uint32(link[:])
	}
	return out, nil
}

// sqliteVarint decodes a SQLite varint (1 to 9 bytes, big-endian, 7 bits
// a byte with the high bit set on all but the last, whose 9th byte gives
// 8 bits); n is 0 if b ends first.
func sqliteVarint(b []byte) (v uint64, n int) {
	for i := range min(len(b), 9) {
		if i == 8 {
			return v<<8 | uint64(b[i]), 9
		}
		v = v<<7 | uint64(b[i]&0x7f)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// serialLen is the length of a value of serial type st; ok is false for
// the reserved types 10 and 11.
func serialLen(st uint64) (n uint64, ok bool) {
	switch {
	case st == 0, st == 8, st == 9:
		return 0, true
	case st <= 4:
		return st, true
	case st == 5:
		return 6, true
	case st == 6, st == 7:
		return 8, true
	case st >= 12:
		return (st - 12) / 2, true
	}
	return 0, false
}

// recordColumn returns the serial type and bytes of column col of a
// record; a column past the record's end is NULL (serial type 0), as
// after ALTER TABLE ADD COLUMN.
func recordColumn(rec []byte, col int) (uint64, []byte, error) {
	hl, n := sqliteVarint(rec)
	if n == 0 || hl < uint64(n) || hl > uint64(len(rec)) {
		return 0, nil, fmt.Errorf("record header of %d bytes in a record of %d", hl, len(rec))
	}
	types, body := rec[n:hl], rec[hl:]
	var off uint64
	for i := 0; len(types) > 0; i++ {
		st, k := sqliteVarint(types)
		if k == 0 {
			return 0, nil, errors.New("record header truncated")
		}
		types = types[k:]
		l, ok := serialLen(st)
		if !ok {
			return 0, nil, fmt.Errorf("column %d: reserved serial type %d", i, st)
		}
		if l > uint64(len(body))-off {
			return 0, nil, fmt.Errorf("column %d: %d bytes past the record's end", i, l)
		}
		if i == col {
			return st, body[off : off+l], nil
		}
		off += l
	}
	return 0, nil, nil
}

// recordInt decodes an integer value (serial types 1-6, 8, 9).
func recordInt(st uint64, v []byte) (int64, bool) {
	switch {
	case st == 8:
		return 0, true
	case st == 9:
		return 1, true
	case st >= 1 && st <= 6:
		x := int64(int8(v[0]))
		for _, b := range v[1:] {
			x = x<<8 | int64(b)
		}
		return x, true
	}
	return 0, false
}
