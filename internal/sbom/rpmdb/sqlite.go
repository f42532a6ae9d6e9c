package rpmdb

// SQLite, rpm ≥ 4.16's default backend (rpmdb.sqlite): table Packages
// (hnum INTEGER PRIMARY KEY, blob BLOB), one header blob per row.

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	// The pure-Go SQLite driver, registered as "sqlite"; no cgo needed.
	_ "modernc.org/sqlite"
)

// ReadSQLite returns the header blobs of an rpmdb.sqlite file at path.
// The database is opened read-only and immutable, so SQLite writes no
// journal beside it and never changes it.
func ReadSQLite(ctx context.Context, path string) ([][]byte, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro&immutable=1"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT blob FROM Packages ORDER BY hnum")
	if err != nil {
		return nil, fmt.Errorf("query Packages: %w", err)
	}
	defer rows.Close()
	var blobs [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("read Packages row: %w", err)
		}
		if len(b) > maxHeaderBlobLen {
			return nil, fmt.Errorf("header blob of %d bytes", len(b))
		}
		blobs = append(blobs, b)
	}
	return blobs, rows.Err()
}
