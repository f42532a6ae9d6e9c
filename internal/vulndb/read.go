package vulndb

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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
// (valid only during the call). An invalid
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

func readZip(ctx context.Context, r io.ReaderAt, size int64, name string, fn func(*Record, []byte) error) (readStats, error) {
	var st readStats
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return st, fmt.Errorf("zip %s: %w", name, err)
	}
	if len(zr.File) > maxArchiveEntries {
		return st, fmt.Errorf("zip %s: %d entries, limit %d", name, len(zr.File), maxArchiveEntries)
	}
	for _, zf := range zr.File {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if zf.FileInfo().IsDir() || !strings.HasSuffix(zf.Name, ".json") {
			continue
		}
		if zf.UncompressedSize64 > MaxRecordSize {
			st.skip(zf.Name, ErrRecordTooLarge)
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return st, fmt.Errorf("zip %s: %s: %w", name, zf.Name, err)
		}
		// The header's size may lie; the reader is capped regardless, and
		// reading to the end checks the entry's CRC-32.
		data, err := io.ReadAll(io.LimitReader(rc, MaxRecordSize+1))
		rc.Close()
		if err != nil {
			return st, fmt.Errorf("zip %s: %s: %w", name, zf.Name, err)
		}
		if err := st.handle(zf.Name, data, fn); err != nil {
			return st, err
		}
	}
	return st, nil
}

func readDir(ctx context.Context, root string, fn func(*Record, []byte) error) (readStats, error) {
	var st readStats
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// Only regular files: a symlink could lead out of the tree or to a
		// device.
		if !d.Type().IsRegular() || !strings.HasSuffix(d.Name(), ".json") {
			return nil
		}
		if n++; n > maxArchiveEntries {
			return fmt.Errorf("more than %d files", maxArchiveEntries)
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		data, err := io.ReadAll(io.LimitReader(f, MaxRecordSize+1))
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		rel, _ := filepath.Rel(root, p)
		return st.handle(rel, data, fn)
	})
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

func (st *readStats) handle(name string, data []byte, fn func(*Record, []byte) error) error {
	rec, err := ParseRecord(data)
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
