package rpmdb

// The comparison with SQLite itself, on databases it builds, is in
// ./sqliteoracle, which also writes the fixtures in testdata/sqlite.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSQLiteRealRPMDB(t *testing.T) {
	data, err := os.ReadFile("../catalog/testdata/oracle/rpm/go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite")
	if err != nil {
		t.Skip(err)
	}
	pkgs, err := Read(t.Context(), bytes.NewReader(data), int64(len(data)))
	if err != nil || len(pkgs) != 129 {
		t.Fatalf("%d packages, %v", len(pkgs), err)
	}
}

// corrupt returns a copy of data with b written at off.
func corrupt(data []byte, off int64, b ...byte) []byte {
	out := bytes.Clone(data)
	copy(out[off:], b)
	return out
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// TestSQLiteHostile: malformed files are errors naming the page, never a
// panic or a loop.
func TestSQLiteHostile(t *testing.T) {
	multi := readFileT(t, "testdata/sqlite/multi-512.sqlite")
	single := readFileT(t, "testdata/sqlite/overflow-512.sqlite")
	layout := func(data []byte) (db *sqliteFile, root uint32) {
		db, err := openSQLite(t.Context(), bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		if root, err = db.findTable("Packages"); err != nil {
			t.Fatal(err)
		}
		return db, root
	}
	mdb, mroot := layout(multi)
	mrootOff := mdb.offset(mroot)
	if multi[mrootOff] != 0x05 {
		t.Fatal("Packages root of multi-512.sqlite is not an interior page")
	}
	firstChild := mrootOff + int64(binary.BigEndian.Uint16(multi[mrootOff+12:]))
	sdb, sroot := layout(single)
	// The only cell of the single row: payload length, rowid, then the
	// local part of the payload and the first overflow page.
	cell := single[sdb.offset(sroot)+int64(binary.BigEndian.Uint16(single[sdb.offset(sroot)+8:])):]
	plen, n1 := sqliteVarint(cell)
	_, n2 := sqliteVarint(cell[n1:])
	u := sdb.usable
	m := (u-12)*32/255 - 23
	local := m + (int64(plen)-m)%(u-4)
	if local > u-35 {
		local = m
	}
	ovflPtr := int64(len(single)-len(cell)) + int64(n1+n2) + local
	ovfl := binary.BigEndian.Uint32(single[ovflPtr:])

	tests := []struct {
		name, want string
		data       []byte
	}{
		{"short", "shorter than the file header", multi[:50]},
		{"magic", "no SQLite magic", corrupt(multi, 0, 'X')},
		{"page size 1000", "page size 1000", corrupt(multi, 16, 0x03, 0xe8)},
		{"page size 256", "page size 256", corrupt(multi, 16, 0x01, 0x00)},
		{"read version 3", "file format versions", corrupt(multi, 19, 3)},
		{"reserved", "reserved bytes", corrupt(multi, 20, 100)},
		{"truncated", "outside the file", multi[:len(multi)/2]},
		{"root beyond the file", "outside the file", corrupt(multi, mrootOff+8, be32(1<<30)...)},
		{"child is its parent", fmt.Sprintf("page %d is referenced twice", mroot), corrupt(multi, firstChild, be32(mroot)...)},
		{"child is page 1", "page 1 is referenced twice", corrupt(multi, firstChild, be32(1)...)},
		{"page type", "not a table B-tree page", corrupt(multi, mrootOff, 0x0A)},
		{"cell count", "cells do not fit", corrupt(multi, mrootOff+3, 0xff, 0xff)},
		{"cell offset", "cell 0 at offset", corrupt(multi, mrootOff+12, 0x00, 0x01)},
		{"overflow loop", fmt.Sprintf("page %d is referenced twice", ovfl), corrupt(single, sdb.offset(ovfl), be32(ovfl)...)},
		{"overflow to page 0", "overflow chain ends", corrupt(single, ovflPtr, be32(0)...)},
		{"overflow beyond the file", "outside the file", corrupt(single, ovflPtr, be32(1<<31)...)},
		{"payload longer than the file", "more than the file", corrupt(single, int64(len(single)-len(cell)), 0x87, 0xff, 0xff, 0x7f)},
		{"huge payload", "payload of", corrupt(single, int64(len(single)-len(cell)), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadSQLite(t.Context(), bytes.NewReader(tt.data), int64(len(tt.data)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func readFileT(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzReadSQLite: a hostile rpmdb.sqlite is an error, never a panic, a
// loop, more bytes out than the file holds or more than one row per
// sqliteRowCost bytes of it.
func FuzzReadSQLite(f *testing.F) {
	for _, name := range sqliteFixtures {
		f.Add(readFileT(f, filepath.Join("testdata/sqlite", name)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		blobs, err := ReadSQLite(t.Context(), bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		total := 0
		for _, b := range blobs {
			total += len(b)
			_, _ = ParseHeader(b)
		}
		if total > len(data) {
			t.Fatalf("%d bytes of blobs from a file of %d", total, len(data))
		}
		if len(blobs)*sqliteRowCost > len(data) {
			t.Fatalf("%d rows from a file of %d bytes", len(blobs), len(data))
		}
	})
}

// The databases SQLite wrote for these tests (./sqliteoracle -update).
var sqliteFixtures = []string{"multi-512.sqlite", "overflow-512.sqlite", "wal-1024.sqlite"}

// TestSQLiteFixtures: the rows of the fixtures, hnums included, as SQLite
// wrote them.
func TestSQLiteFixtures(t *testing.T) {
	want := map[string]string{
		"multi-512.sqlite":    "1:30 2:31 3:32 4:33 5:34 6:35 7:36 8:37 9:38 10:39 11:40 12:41 13:42 14:43 15:44 16:45 17:46 18:47 19:48 20:49 21:50 22:51 23:52 24:53 25:54 26:55 27:56 28:57 29:58 30:59 31:60 32:61 33:62 34:63 35:64 36:65 37:66 38:67 39:68 40:69",
		"overflow-512.sqlite": "1:3000",
		"wal-1024.sqlite":     "1:100 3:1500 4:2200",
	}
	for _, name := range sqliteFixtures {
		data := readFileT(t, filepath.Join("testdata/sqlite", name))
		rows, err := readSQLiteTable(t.Context(), bytes.NewReader(data), int64(len(data)), "Packages", 1)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, fmt.Sprintf("%d:%d", r.rowid, len(r.value)))
		}
		if g := strings.Join(got, " "); g != want[name] {
			t.Errorf("%s: rows (hnum:length) %s, want %s", name, g, want[name])
		}
	}
}
