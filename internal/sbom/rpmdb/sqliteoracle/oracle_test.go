package sqliteoracle_test

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/sbom/rpmdb"

	// The real SQLite builds the databases the reader is compared with;
	// only these tests link it.
	_ "modernc.org/sqlite"
)

var update = flag.Bool("update", false, "rewrite rpmdb's SQLite fixtures in ../testdata/sqlite")

// sqliteCase describes a database built by the real SQLite.
type sqliteCase struct {
	name     string
	pageSize int
	rows     int
	// blobLen gives the length of row i's blob.
	blobLen func(r *rand.Rand, i int) int
	// hnum, if set, gives explicit (sparse, negative, huge) row ids.
	hnum   func(i int) int64
	delete string // a WHERE clause of rows deleted after the inserts
	vacuum bool
	wal    bool
	tables int // extra tables, so that sqlite_schema spans pages
	// fixture, if set, is the file name under ../testdata/sqlite that
	// -update writes the database to.
	fixture string
}

func small(r *rand.Rand, _ int) int { return 16 + r.IntN(200) }

var sqliteCases = []sqliteCase{
	{name: "empty", pageSize: 4096},
	{name: "one row", pageSize: 4096, rows: 1, blobLen: small},
	{name: "512 many rows", pageSize: 512, rows: 15000, blobLen: func(r *rand.Rand, _ int) int { return 8 + r.IntN(100) }},
	{name: "512 overflow", pageSize: 512, rows: 800, blobLen: func(r *rand.Rand, _ int) int { return r.IntN(5000) }},
	{name: "512 schema on several pages", pageSize: 512, rows: 50, blobLen: small, tables: 60},
	{name: "4096 rpm-like", pageSize: 4096, rows: 1500, blobLen: func(r *rand.Rand, _ int) int { return 1000 + r.IntN(20000) }, wal: true},
	{name: "4096 local/overflow boundary", pageSize: 4096, rows: 400, blobLen: func(_ *rand.Rand, i int) int { return 4000 + i }},
	{name: "65536", pageSize: 65536, rows: 400, blobLen: func(r *rand.Rand, i int) int {
		if i%10 == 0 {
			return 65000 + r.IntN(300000)
		}
		return r.IntN(2000)
	}},
	{name: "sparse row ids", pageSize: 1024, rows: 2000, blobLen: small, hnum: func(i int) int64 { return int64(i)*int64(i)*977 - 1<<40 }},
	{name: "deleted rows", pageSize: 1024, rows: 4000, blobLen: func(r *rand.Rand, _ int) int { return r.IntN(3000) },
		delete: "hnum % 3 = 0 OR hnum BETWEEN 1000 AND 2500"},
	{name: "deleted rows vacuumed", pageSize: 1024, rows: 4000, blobLen: func(r *rand.Rand, _ int) int { return r.IntN(3000) },
		delete: "hnum % 3 = 0 OR hnum BETWEEN 1000 AND 2500", vacuum: true},
	{name: "all rows deleted", pageSize: 4096, rows: 500, blobLen: func(r *rand.Rand, _ int) int { return r.IntN(9000) }, delete: "1"},
	// The fixtures of rpmdb's hostile-input tests and fuzz seeds: an
	// interior root page, and one row with an overflow chain.
	{name: "fixture multi", pageSize: 512, rows: 40, blobLen: func(_ *rand.Rand, i int) int { return 30 + i }, fixture: "multi-512.sqlite"},
	{name: "fixture overflow", pageSize: 512, rows: 1, blobLen: func(*rand.Rand, int) int { return 3000 }, fixture: "overflow-512.sqlite"},
	{name: "fixture wal", pageSize: 1024, rows: 4, blobLen: func(_ *rand.Rand, i int) int { return 100 + 700*i }, wal: true, delete: "hnum = 2", fixture: "wal-1024.sqlite"},
}

func openSQLite(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// buildSQLite writes the database of c, as rpm lays it out (Packages with
// an AUTOINCREMENT hnum, and index tables), and returns its path.
func buildSQLite(t testing.TB, c sqliteCase) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rpmdb.sqlite")
	db := openSQLite(t, path)
	stmts := []string{
		fmt.Sprintf("PRAGMA page_size = %d", c.pageSize),
		"PRAGMA auto_vacuum = NONE",
		"PRAGMA secure_delete = OFF",
		"CREATE TABLE IF NOT EXISTS 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)",
		"CREATE TABLE IF NOT EXISTS 'Name' (key TEXT NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL, FOREIGN KEY (hnum) REFERENCES 'Packages'(hnum))",
		"CREATE INDEX IF NOT EXISTS 'Name_key_idx' ON 'Name'(key ASC, hnum ASC, idx ASC)",
	}
	if c.wal {
		stmts = append(stmts, "PRAGMA journal_mode = WAL")
	}
	for i := range c.tables {
		stmts = append(stmts, fmt.Sprintf("CREATE TABLE t%d (a INTEGER PRIMARY KEY, b TEXT, c BLOB, %s)", i, strings.Repeat("x", 50+i)+" TEXT"))
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	r := rand.New(rand.NewPCG(uint64(len(c.name)), uint64(c.rows)))
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := range c.rows {
		blob := make([]byte, c.blobLen(r, i))
		for j := range blob {
			blob[j] = byte(r.Uint32())
		}
		var res sql.Result
		if c.hnum != nil {
			res, err = tx.Exec("INSERT INTO Packages (hnum, blob) VALUES (?, ?)", c.hnum(i), blob)
		} else {
			res, err = tx.Exec("INSERT INTO Packages (blob) VALUES (?)", blob)
		}
		if err != nil {
			t.Fatal(err)
		}
		id, _ := res.LastInsertId()
		if _, err := tx.Exec("INSERT INTO Name VALUES (?, ?, 0)", fmt.Sprintf("package-%d", i), id); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if c.delete != "" {
		if _, err := db.Exec("DELETE FROM Packages WHERE " + c.delete); err != nil {
			t.Fatal(err)
		}
	}
	if c.vacuum {
		if _, err := db.Exec("VACUUM"); err != nil {
			t.Fatal(err)
		}
	}
	if c.wal {
		// What rpm leaves behind: a WAL-mode file, checkpointed.
		if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

type row struct {
	hnum int64
	blob []byte
}

// want is what SQLite itself returns, and the root page of Packages.
func want(t testing.TB, path string) ([]row, uint32) {
	t.Helper()
	db := openSQLite(t, path)
	rows, err := db.Query("SELECT hnum, blob FROM Packages ORDER BY hnum")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.hnum, &r.blob); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var root uint32
	if err := db.QueryRow("SELECT rootpage FROM sqlite_schema WHERE type = 'table' AND name = 'Packages'").Scan(&root); err != nil {
		t.Fatal(err)
	}
	return out, root
}

// TestSQLiteDifferential compares rpmdb.ReadSQLite with SQLite on
// databases of every shape the reader must handle: the blobs, in hnum
// order. The blobs are random, so equal sequences mean the same rows in
// the same order.
func TestSQLiteDifferential(t *testing.T) {
	for _, c := range sqliteCases {
		t.Run(c.name, func(t *testing.T) {
			path := buildSQLite(t, c)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := rpmdb.ReadSQLite(t.Context(), bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			want, root := want(t, path)
			if len(got) != len(want) {
				t.Fatalf("%d rows, SQLite returns %d", len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i].blob) {
					t.Fatalf("row %d: %d bytes; SQLite: hnum %d, %d bytes", i, len(got[i]), want[i].hnum, len(want[i].blob))
				}
			}
			t.Logf("%d bytes, %d rows, %s", len(data), len(got), shape(data, root))
			if c.fixture != "" && *update {
				if err := os.WriteFile(filepath.Join("../testdata/sqlite", c.fixture), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// shape reports the layout the case was meant to produce, so that a
// change in SQLite that makes a case trivial shows in the log.
func shape(data []byte, root uint32) string {
	ps := int64(binary.BigEndian.Uint16(data[16:18]))
	if ps == 1 {
		ps = 65536
	}
	depth := 0
	for pg := root; data[int64(pg-1)*ps] == 0x05; depth++ {
		pg = binary.BigEndian.Uint32(data[int64(pg-1)*ps+8:])
	}
	return fmt.Sprintf("page size %d, Packages B-tree depth %d, sqlite_schema on several pages %t, %d free pages, format versions %d/%d",
		ps, depth, data[100] == 0x05, binary.BigEndian.Uint32(data[36:40]), data[18], data[19])
}
