package vulndb

// Vendors publish their advisories as many small documents in one
// archive (Red Hat's CSAF VEX files in a .tar.zst, the Ubuntu CVE
// tracker's tree, Photon's per-release JSON, OVAL in .xml.bz2). The
// readers of those formats see one stream per document, whatever the
// packaging.

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
)

// Limits of a document archive.
const (
	maxDocuments = 2_000_000
	// maxDocument bounds one document (a CSAF VEX file of the kernel is a
	// few megabytes, an OVAL file of a release a few hundred).
	maxDocument = 1 << 30
)

// errDocumentTooLarge is returned when a document exceeds its reader's
// bound.
var errDocumentTooLarge = errors.New("document too large")

// forEachDocument calls fn with the name and content of each document of
// path: a directory tree's regular files (in lexical order), the entries
// of a zip or tar archive, or the file itself, each possibly gzip-, bzip2-
// or zstd-compressed (a .tar.gz or .tar.zst is a compressed tar). keep
// selects documents by name; nil keeps all.
func forEachDocument(ctx context.Context, path string, keep func(name string) bool, fn func(name string, r io.Reader) error) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	n := 0
	count := func() error {
		if n++; n > maxDocuments {
			return fmt.Errorf("more than %d documents", maxDocuments)
		}
		return ctx.Err()
	}
	if info.IsDir() {
		return filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() || (keep != nil && !keep(d.Name())) {
				return nil
			}
			if err := count(); err != nil {
				return err
			}
			rel, _ := filepath.Rel(path, p)
			return openDocument(p, func(r io.Reader) error { return documentStream(rel, r, keep, count, fn) })
		})
	}
	return openDocument(path, func(r io.Reader) error {
		return documentStream(filepath.Base(path), r, keep, count, fn)
	}, func(f *os.File, size int64) error {
		zr, err := zip.NewReader(f, size)
		if err != nil {
			return fmt.Errorf("zip: %w", err)
		}
		for _, zf := range zr.File {
			if zf.FileInfo().IsDir() || (keep != nil && !keep(filepath.Base(zf.Name))) {
				continue
			}
			if err := count(); err != nil {
				return err
			}
			rc, err := zf.Open()
			if err != nil {
				return fmt.Errorf("%s: %w", zf.Name, err)
			}
			err = decompressed(rc, func(r io.Reader) error { return fn(zf.Name, r) })
			rc.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", zf.Name, err)
			}
		}
		return nil
	})
}

// openDocument opens a file and calls fn with its decompressed content,
// or onZip with the file when it is a zip archive (which needs random
// access).
func openDocument(path string, fn func(io.Reader) error, onZip ...func(*os.File, int64) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if len(onZip) > 0 {
		var magic [4]byte
		if n, _ := io.ReadFull(f, magic[:]); n == 4 && bytes.Equal(magic[:], []byte("PK\x03\x04")) {
			fi, err := f.Stat()
			if err != nil {
				return err
			}
			return onZip[0](f, fi.Size())
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
	return decompressed(f, fn)
}

// decompressed calls fn with r's content, decompressing gzip, bzip2 and
// zstd by their magic numbers.
func decompressed(r io.Reader, fn func(io.Reader) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(4)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		return fn(zr)
	case len(magic) >= 3 && string(magic[:3]) == "BZh":
		return fn(bzip2.NewReader(br))
	case len(magic) == 4 && bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(128<<20))
		if err != nil {
			return fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		return fn(zr)
	}
	return fn(br)
}

// documentStream calls fn with the stream, or with each regular entry
// when the stream is a tar archive.
func documentStream(name string, r io.Reader, keep func(string) bool, count func() error, fn func(string, io.Reader) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w", name, err)
	}
	if len(head) < 512 || string(head[257:262]) != "ustar" {
		return fn(name, io.LimitReader(br, maxDocument))
	}
	tr := tar.NewReader(br)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: tar: %w", name, err)
		}
		if hdr.Typeflag != tar.TypeReg || (keep != nil && !keep(filepath.Base(hdr.Name))) {
			continue
		}
		if err := count(); err != nil {
			return err
		}
		if err := decompressed(io.LimitReader(tr, maxDocument), func(r io.Reader) error { return fn(hdr.Name, r) }); err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
	}
}
