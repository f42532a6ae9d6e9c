package rpmdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// sqliteAmplifier builds the memory-amplification reproducer of the
// security review: pages of 65536 bytes; page 1 is sqlite_schema with
// table Packages rooted at page 2, an interior page over leaves 3 to
// leaves+2; on every leaf, cells cell pointers all point at one 4-byte
// cell {02 01 02 00} (payload of 2 bytes, rowid 1, a record of no
// columns). It is mostly zeros: 2.2 MB that compress to a few KB.
func sqliteAmplifier(leaves, cells int) []byte {
	const ps = 65536
	data := make([]byte, (leaves+2)*ps)
	copy(data, sqliteMagic)
	binary.BigEndian.PutUint16(data[16:], 1) // 65536
	data[18], data[19] = 1, 1
	data[21], data[22], data[23] = 64, 32, 32
	binary.BigEndian.PutUint32(data[24:], 1)
	binary.BigEndian.PutUint32(data[28:], uint32(leaves+2))
	binary.BigEndian.PutUint32(data[56:], 1)
	binary.BigEndian.PutUint32(data[92:], 1)

	// sqlite_schema: one row (type, name, tbl_name, rootpage, sql NULL).
	rec := []byte{6, 13 + 2*5, 13 + 2*8, 13 + 2*8, 1, 0}
	rec = append(rec, "tablePackagesPackages\x02"...)
	cell := append([]byte{byte(len(rec)), 1}, rec...)
	p1 := data[100:ps]
	p1[0] = 0x0D
	binary.BigEndian.PutUint16(p1[3:], 1)
	off := ps - len(cell)
	binary.BigEndian.PutUint16(p1[8:], uint16(off))
	copy(data[off:], cell)

	// Page 2: the interior root, a cell per leaf but the last, which is
	// its right-most child.
	p2 := data[ps : 2*ps]
	p2[0] = 0x05
	binary.BigEndian.PutUint16(p2[3:], uint16(leaves-1))
	binary.BigEndian.PutUint32(p2[8:], uint32(leaves+2))
	off = 12 + 2*(leaves-1)
	for i := range leaves - 1 {
		binary.BigEndian.PutUint16(p2[12+2*i:], uint16(off))
		binary.BigEndian.PutUint32(p2[off:], uint32(3+i))
		p2[off+4] = 1 // key: rowid 1
		off += 5
	}

	for l := range leaves {
		pg := data[(2+l)*ps : (3+l)*ps]
		pg[0] = 0x0D
		binary.BigEndian.PutUint16(pg[3:], uint16(cells))
		c := 8 + 2*cells
		for i := range cells {
			binary.BigEndian.PutUint16(pg[8+2*i:], uint16(c))
		}
		copy(pg[c:], []byte{0x02, 0x01, 0x02, 0x00})
	}
	return data
}

// allocDuring returns the bytes allocated while f runs.
func allocDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestSQLiteRepeatedCells: the review's reproducer (32 leaves of 32,000
// cell pointers to one cell, 2.2 MB) is refused for its repeated cell,
// and reading it allocates a bounded amount, not hundreds of MB.
func TestSQLiteRepeatedCells(t *testing.T) {
	data := sqliteAmplifier(32, 32000)
	var pkgs []Package
	var err error
	alloc := allocDuring(func() {
		pkgs, err = Read(t.Context(), bytes.NewReader(data), int64(len(data)))
	})
	t.Logf("%d bytes: %d packages, %d bytes allocated, error of %d bytes", len(data), len(pkgs), alloc, len(fmt.Sprint(err)))
	if err == nil || !errors.Is(err, errSQLite) || !strings.Contains(err.Error(), "both at offset") {
		t.Errorf("error %.300v, want one about cells both at one offset", err)
	}
	if len(pkgs) != 0 {
		t.Errorf("%d packages", len(pkgs))
	}
	if alloc > 32<<20 {
		t.Errorf("%d bytes allocated reading a file of %d", alloc, len(data))
	}
}

// sqliteTinyRows builds a file like sqliteAmplifier but whose leaves hold
// distinct, non-overlapping minimal cells {01 01 01} (a record of no
// columns): a valid file of as many rows as fit.
func sqliteTinyRows(leaves int) (data []byte, rows int) {
	const ps = 65536
	cells := (ps - 8) / 5
	data = sqliteAmplifier(leaves, cells)
	for l := range leaves {
		pg := data[(2+l)*ps : (3+l)*ps]
		c := 8 + 2*cells
		for i := range cells {
			binary.BigEndian.PutUint16(pg[8+2*i:], uint16(c+3*i))
			copy(pg[c+3*i:], []byte{0x01, byte(1 + i%100), 0x01})
		}
	}
	return data, leaves * cells
}

// TestSQLiteRowsPerByte: rows without repeated cells but of a few bytes
// each are refused beyond one row per sqliteRowCost bytes of the file.
func TestSQLiteRowsPerByte(t *testing.T) {
	data, rows := sqliteTinyRows(4)
	if rows*sqliteRowCost <= len(data) {
		t.Fatalf("%d rows in %d bytes: not over the bound", rows, len(data))
	}
	var err error
	alloc := allocDuring(func() {
		_, err = ReadSQLite(t.Context(), bytes.NewReader(data), int64(len(data)))
	})
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "rows in a file of") {
		t.Errorf("error %v, want one about the number of rows", err)
	}
	if alloc > 32<<20 {
		t.Errorf("%d bytes allocated reading a file of %d", alloc, len(data))
	}
}

// TestReadErrorsCapped: a database of many rows whose headers do not
// decode gives an error naming the first maxPackageErrors and counting
// the others, not one message per row.
func TestReadErrorsCapped(t *testing.T) {
	data, _ := sqliteTinyRows(1)
	// Keep the first leaf rows under the bound: 1 row per sqliteRowCost
	// bytes of the file.
	const ps = 65536
	n := len(data)/sqliteRowCost - 10
	binary.BigEndian.PutUint16(data[2*ps+3:], uint16(n))
	pkgs, err := Read(t.Context(), bytes.NewReader(data), int64(len(data)))
	if len(pkgs) != 0 || err == nil {
		t.Fatalf("%d packages, error %v", len(pkgs), err)
	}
	msg := err.Error()
	if got := strings.Count(msg, "\n") + 1; got != maxPackageErrors+1 {
		t.Errorf("%d lines of error, want %d:\n%s", got, maxPackageErrors+1, msg)
	}
	if want := fmt.Sprintf("and %d more packages", n-maxPackageErrors); !strings.Contains(msg, want) {
		t.Errorf("error %s\nwants %q", msg, want)
	}
	if len(msg) > 4096 {
		t.Errorf("error of %d bytes", len(msg))
	}
}

// TestSQLiteOverlappingCells: a cell starting inside another is refused,
// whichever comes first in the cell pointer array.
func TestSQLiteOverlappingCells(t *testing.T) {
	const ps = 65536
	for _, tt := range []struct {
		name string
		ptr  int // cell pointer rewritten
		to   int // to the offset of the cell of this index, plus one
	}{
		{"inside the previous", 1, 0},
		{"inside the next", 0, 1},
		{"inside a far one", 10, 500},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data, _ := sqliteTinyRows(1)
			pg := data[2*ps : 3*ps]
			binary.BigEndian.PutUint16(pg[3:], 1000)
			at := func(i int) int { return int(binary.BigEndian.Uint16(pg[8+2*i:])) }
			binary.BigEndian.PutUint16(pg[8+2*tt.ptr:], uint16(at(tt.to)+1))
			_, err := ReadSQLite(t.Context(), bytes.NewReader(data), int64(len(data)))
			want := fmt.Sprintf("cell %d at offset %d starts inside cell %d", tt.ptr, at(tt.ptr), tt.to)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v, want one containing %q", err, want)
			}
		})
	}
}
