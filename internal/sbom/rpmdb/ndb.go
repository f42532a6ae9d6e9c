package rpmdb

// NDB, rpm's own package database (Packages.db, SUSE since 15 SP3).
// Format facts (rpm's lib/backend/ndb/rpmpkg.c), all little-endian: the
// file starts with slot pages of 4096 bytes; the first 32 bytes are the
// header (magic "RpmP", version 0, generation, number of slot pages), and
// the rest of the slot pages are 16-byte slots (magic "Slot", package
// index, block offset, block count; index 0 means free). A package's
// blob starts at block offset × 16 with a 16-byte blob header (magic
// "BlbS", package index, generation, blob length) followed by the header
// blob itself.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	ndbPageSize   = 4096
	ndbSlotSize   = 16
	ndbBlockSize  = 16
	ndbHeaderLen  = 32
	ndbBlobHeader = 16
	maxNDBSlotPgs = 4096
)

var (
	ndbMagic     = [4]byte{'R', 'p', 'm', 'P'}
	ndbSlotMagic = [4]byte{'S', 'l', 'o', 't'}
	ndbBlobMagic = [4]byte{'B', 'l', 'b', 'S'}
	errNDB       = errors.New("malformed NDB package database")
)

// ReadNDB returns the header blobs of an NDB database of size bytes.
func ReadNDB(r io.ReaderAt, size int64) ([][]byte, error) {
	hdr := make([]byte, ndbHeaderLen)
	if _, err := r.ReadAt(hdr, 0); err != nil {
		return nil, fmt.Errorf("%w: header: %v", errNDB, err)
	}
	if [4]byte(hdr[0:4]) != ndbMagic {
		return nil, fmt.Errorf("%w: no RpmP magic", errNDB)
	}
	if v := binary.LittleEndian.Uint32(hdr[4:8]); v != 0 {
		return nil, fmt.Errorf("%w: version %d", errNDB, v)
	}
	slotPages := int64(binary.LittleEndian.Uint32(hdr[12:16]))
	if slotPages == 0 || slotPages > maxNDBSlotPgs || slotPages*ndbPageSize > size {
		return nil, fmt.Errorf("%w: %d slot pages", errNDB, slotPages)
	}
	slots := make([]byte, slotPages*ndbPageSize)
	if _, err := r.ReadAt(slots, 0); err != nil {
		return nil, fmt.Errorf("%w: slot pages: %v", errNDB, err)
	}
	var blobs [][]byte
	for off := int64(ndbHeaderLen); off+ndbSlotSize <= int64(len(slots)); off += ndbSlotSize {
		s := slots[off : off+ndbSlotSize]
		if [4]byte(s[0:4]) != ndbSlotMagic {
			return nil, fmt.Errorf("%w: slot at %d has no Slot magic", errNDB, off)
		}
		pkgIdx := binary.LittleEndian.Uint32(s[4:8])
		if pkgIdx == 0 {
			continue
		}
		blkOff := int64(binary.LittleEndian.Uint32(s[8:12]))
		blkCnt := int64(binary.LittleEndian.Uint32(s[12:16]))
		start, length := blkOff*ndbBlockSize, blkCnt*ndbBlockSize
		if start < int64(len(slots)) || length < ndbBlobHeader || start+length > size || length > maxHeaderBlobLen {
			return nil, fmt.Errorf("%w: package %d: blob at %d+%d outside the file", errNDB, pkgIdx, start, length)
		}
		bh := make([]byte, ndbBlobHeader)
		if _, err := r.ReadAt(bh, start); err != nil {
			return nil, fmt.Errorf("%w: package %d: %v", errNDB, pkgIdx, err)
		}
		if [4]byte(bh[0:4]) != ndbBlobMagic || binary.LittleEndian.Uint32(bh[4:8]) != pkgIdx {
			return nil, fmt.Errorf("%w: package %d: bad blob header", errNDB, pkgIdx)
		}
		n := int64(binary.LittleEndian.Uint32(bh[12:16]))
		if n > length-ndbBlobHeader {
			return nil, fmt.Errorf("%w: package %d: blob length %d exceeds its %d blocks", errNDB, pkgIdx, n, blkCnt)
		}
		blob := make([]byte, n)
		if _, err := r.ReadAt(blob, start+ndbBlobHeader); err != nil {
			return nil, fmt.Errorf("%w: package %d: %v", errNDB, pkgIdx, err)
		}
		blobs = append(blobs, blob)
	}
	return blobs, nil
}
