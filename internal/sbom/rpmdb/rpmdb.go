package rpmdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// Format is an on-disk database format.
type Format int

// Formats, told apart by their first bytes.
const (
	FormatUnknown Format = iota
	FormatBDB
	FormatNDB
	FormatSQLite
)

func (f Format) String() string {
	switch f {
	case FormatBDB:
		return "BerkeleyDB"
	case FormatNDB:
		return "NDB"
	case FormatSQLite:
		return "SQLite"
	}
	return "unknown"
}

// Detect tells the format from the first 16 bytes or more of a file.
func Detect(head []byte) Format {
	switch {
	case bytes.HasPrefix(head, []byte("SQLite format 3\x00")):
		return FormatSQLite
	case bytes.HasPrefix(head, ndbMagic[:]):
		return FormatNDB
	case len(head) >= 16 && (bytes.Equal(head[12:16], []byte{0x61, 0x15, 0x06, 0x00}) || bytes.Equal(head[12:16], []byte{0x00, 0x06, 0x15, 0x61})):
		return FormatBDB
	}
	return FormatUnknown
}

// ErrUnknownFormat is returned for a file in none of the three formats
// (rpm's Packages files in images are sometimes zero-length placeholders).
var ErrUnknownFormat = errors.New("not an rpm database")

// ReadFile reads all packages of the database file at path, whichever its
// format. Packages whose header does not decode are skipped and reported
// in the joined error returned with the others.
func ReadFile(ctx context.Context, path string) ([]Package, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	var blobs [][]byte
	switch Detect(head[:n]) {
	case FormatBDB:
		blobs, err = ReadBDB(f, st.Size())
	case FormatNDB:
		blobs, err = ReadNDB(f, st.Size())
	case FormatSQLite:
		blobs, err = ReadSQLite(ctx, path)
	default:
		return nil, ErrUnknownFormat
	}
	if err != nil {
		return nil, err
	}
	pkgs := make([]Package, 0, len(blobs))
	var errs []error
	for i, b := range blobs {
		p, err := ParseHeader(b)
		if err != nil {
			errs = append(errs, fmt.Errorf("package %d: %w", i, err))
			continue
		}
		pkgs = append(pkgs, *p)
	}
	return pkgs, errors.Join(errs...)
}
