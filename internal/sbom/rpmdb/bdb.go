package rpmdb

// BerkeleyDB hash database, as rpm ≤ 4.15 writes var/lib/rpm/Packages.
// Format facts (Berkeley DB's db_page.h): page 0 is the hash metadata
// page (magic 0x061561 at offset 12, page size at 20, last page number
// at 32, in the byte order of the writer, told by the magic); every page
// has a 26-byte header (page number at 8, next page at 16, entry count at
// 20, high free offset at 22, type at 25) followed by the entry offsets.
// Hash pages hold key/data pairs; rpm's header blobs are large, so each
// data item is an off-page reference (type 3: page number at 4, total
// length at 8) to a chain of overflow pages, each carrying hf_offset
// bytes after its header.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	bdbHashMagic     = 0x061561
	bdbPageHeader    = 26
	bdbPageHashUns   = 2
	bdbPageOverflow  = 7
	bdbPageHash      = 13
	bdbItemOffPage   = 3
	bdbOffPageSize   = 12
	bdbMinPageSize   = 512
	bdbMaxPageSize   = 65536
	maxHeaderBlobLen = 64 << 20
)

var errBDB = errors.New("malformed BerkeleyDB hash file")

// ReadBDB returns the header blobs of a BerkeleyDB hash database of size
// bytes read through r.
func ReadBDB(r io.ReaderAt, size int64) ([][]byte, error) {
	meta := make([]byte, 512)
	if _, err := r.ReadAt(meta, 0); err != nil {
		return nil, fmt.Errorf("%w: metadata page: %v", errBDB, err)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	switch {
	case binary.LittleEndian.Uint32(meta[12:16]) == bdbHashMagic:
	case binary.BigEndian.Uint32(meta[12:16]) == bdbHashMagic:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("%w: no hash magic", errBDB)
	}
	pageSize := int64(bo.Uint32(meta[20:24]))
	if pageSize < bdbMinPageSize || pageSize > bdbMaxPageSize || pageSize&(pageSize-1) != 0 {
		return nil, fmt.Errorf("%w: page size %d", errBDB, pageSize)
	}
	lastPage := int64(bo.Uint32(meta[32:36]))
	if (lastPage+1)*pageSize > size {
		return nil, fmt.Errorf("%w: last page %d beyond the file (%d bytes)", errBDB, lastPage, size)
	}
	db := &bdb{r: r, bo: bo, pageSize: pageSize, pages: lastPage + 1}
	page := make([]byte, pageSize)
	var blobs [][]byte
	for pg := int64(1); pg <= lastPage; pg++ {
		if err := db.readPage(pg, page); err != nil {
			return nil, err
		}
		if t := page[25]; t != bdbPageHash && t != bdbPageHashUns {
			continue
		}
		entries := int64(bo.Uint16(page[20:22]))
		if bdbPageHeader+entries*2 > pageSize {
			return nil, fmt.Errorf("%w: page %d: %d entries", errBDB, pg, entries)
		}
		// Entries alternate key, data; the data items are the odd ones.
		for i := int64(1); i < entries; i += 2 {
			off := int64(bo.Uint16(page[bdbPageHeader+i*2:]))
			if off < bdbPageHeader || off >= pageSize {
				return nil, fmt.Errorf("%w: page %d: item offset %d", errBDB, pg, off)
			}
			item := page[off:]
			if item[0] != bdbItemOffPage {
				// Inline data is too small to be a package header (rpm
				// also keeps small bookkeeping records here).
				continue
			}
			if off+bdbOffPageSize > pageSize {
				return nil, fmt.Errorf("%w: page %d: off-page item at %d", errBDB, pg, off)
			}
			blob, err := db.overflow(int64(bo.Uint32(item[4:8])), int64(bo.Uint32(item[8:12])))
			if err != nil {
				return nil, fmt.Errorf("page %d item %d: %w", pg, i, err)
			}
			blobs = append(blobs, blob)
		}
	}
	return blobs, nil
}

type bdb struct {
	r        io.ReaderAt
	bo       binary.ByteOrder
	pageSize int64
	pages    int64
}

func (db *bdb) readPage(pg int64, buf []byte) error {
	if pg < 0 || pg >= db.pages {
		return fmt.Errorf("%w: page %d out of range", errBDB, pg)
	}
	if _, err := db.r.ReadAt(buf, pg*db.pageSize); err != nil {
		return fmt.Errorf("%w: page %d: %v", errBDB, pg, err)
	}
	return nil
}

// overflow reads a chain of overflow pages holding total bytes.
func (db *bdb) overflow(first, total int64) ([]byte, error) {
	if total <= 0 || total > maxHeaderBlobLen || total > db.pages*db.pageSize {
		return nil, fmt.Errorf("%w: overflow length %d", errBDB, total)
	}
	out := make([]byte, 0, total)
	page := make([]byte, db.pageSize)
	// A chain visits each page at most once; more steps mean a cycle.
	for pg, steps := first, int64(0); pg != 0; steps++ {
		if steps >= db.pages {
			return nil, fmt.Errorf("%w: overflow chain loops", errBDB)
		}
		if err := db.readPage(pg, page); err != nil {
			return nil, err
		}
		if page[25] != bdbPageOverflow {
			return nil, fmt.Errorf("%w: page %d in an overflow chain has type %d", errBDB, pg, page[25])
		}
		n := int64(db.bo.Uint16(page[22:24]))
		if bdbPageHeader+n > db.pageSize || int64(len(out))+n > total {
			return nil, fmt.Errorf("%w: overflow page %d holds %d bytes", errBDB, pg, n)
		}
		out = append(out, page[bdbPageHeader:bdbPageHeader+n]...)
		pg = int64(db.bo.Uint32(page[16:20]))
	}
	if int64(len(out)) != total {
		return nil, fmt.Errorf("%w: overflow chain holds %d of %d bytes", errBDB, len(out), total)
	}
	return out, nil
}
