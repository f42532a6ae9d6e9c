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
// format (see Read); errors name the file.
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
	pkgs, err := Read(ctx, f, st.Size())
	if err != nil {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return pkgs, err
}

// maxPackageErrors is how many packages whose header does not decode Read
// names in its error; the others are counted. A hostile database may
// hold many thousands of such rows.
const maxPackageErrors = 20

// Read reads all packages of a database of size bytes read through r,
// whichever its format. Packages whose header does not decode are skipped
// and reported in the joined error returned with the others: the first
// maxPackageErrors by index and error, then how many more.
func Read(ctx context.Context, r io.ReaderAt, size int64) ([]Package, error) {
	if size < 0 {
		return nil, fmt.Errorf("size %d", size)
	}
	head := make([]byte, min(size, 512))
	n, err := r.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	var blobs [][]byte
	switch Detect(head[:n]) {
	case FormatBDB:
		blobs, err = ReadBDB(r, size)
	case FormatNDB:
		blobs, err = ReadNDB(r, size)
	case FormatSQLite:
		blobs, err = ReadSQLite(ctx, r, size)
	default:
		return nil, ErrUnknownFormat
	}
	if err != nil {
		return nil, err
	}
	// Not len(blobs): most of a hostile database's rows may not decode.
	pkgs := make([]Package, 0, min(len(blobs), 256))
	var errs []error
	more := 0
	for i, b := range blobs {
		p, err := ParseHeader(b)
		if err != nil {
			if len(errs) < maxPackageErrors {
				errs = append(errs, fmt.Errorf("package %d: %w", i, err))
			} else {
				more++
			}
			continue
		}
		pkgs = append(pkgs, *p)
	}
	if more > 0 {
		errs = append(errs, fmt.Errorf("and %d more packages whose header does not decode", more))
	}
	return pkgs, errors.Join(errs...)
}
