package catalog

// rust-binary: the crates a Rust binary was built from, as `cargo
// auditable` records them (https://github.com/rust-secure-code/cargo-auditable,
// its format described in the auditable-serde crate): a section named
// ".dep-v0" (ELF, PE; "__DATA,.dep-v0" in Mach-O) holding zlib-compressed
// JSON,
//
//	{"packages": [{"name": "adler", "version": "1.0.2", "source": "crates.io",
//	  "kind": "build", "dependencies": [0, 2], "root": true}, ...]}
//
// where source is "crates.io", "git", "local", "registry" or "other" and
// kind is "runtime" (the default) or "build". Only crates.io packages
// linked into the binary (kind runtime) are reported, as for Cargo.lock.
//
// The file streams by once and is never kept: every offset where a zlib
// header is followed by a deflate stream that starts with `{"packages":`
// is a candidate; the first candidate is decompressed in full, bounded
// (maxAuditableCompressed in, maxAuditableJSON out, maxCargoPackages
// packages, as cargo-auditable's own reader bounds it). In an ELF file
// the candidate must then be where a section of the section header table
// starts (the table comes after the sections, so it is kept when the
// stream passes it); PE and Mach-O files are taken on the content alone.
// Files that are not executables of these formats cost their first bytes.

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/palisade-sec/palisade/internal/sbom"
)

// Bounds of one binary's audit data: cargo-auditable's reader refuses
// more than 8 MiB of JSON by default.
const (
	maxAuditableCompressed = 4 << 20
	maxAuditableJSON       = 8 << 20
	maxRustBinary          = 1 << 30
	maxSectionTable        = 1 << 20
)

var auditablePrefix = []byte(`{"packages":`)

type rustBinary struct{}

// RustBinary returns the stream cataloger of binaries built with `cargo
// auditable`. It wants executables outside the OS package directories
// (whose binaries the OS catalogers report by their package).
func RustBinary() StreamCataloger { return rustBinary{} }

func (rustBinary) Name() string { return "rust-binary" }

func (rustBinary) Wants(p string, size int64, mode fs.FileMode) bool {
	return mode.IsRegular() && size >= 1024 && size <= maxRustBinary && (mode&0o111 != 0 || strings.HasSuffix(p, ".exe")) && !osOwned(p)
}

// execFormat is what a file's first bytes say it is.
type execFormat int

const (
	notExec execFormat = iota
	formatELF
	formatPE
	formatMachO
)

func execFormatOf(b []byte) execFormat {
	switch {
	case len(b) < 4:
		return notExec
	case bytes.HasPrefix(b, []byte("\x7fELF")):
		return formatELF
	case bytes.HasPrefix(b, []byte("MZ")):
		return formatPE
	}
	switch binary.LittleEndian.Uint32(b) {
	case 0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe, 0xcafebabe, 0xbebafeca:
		return formatMachO
	}
	return notExec
}

// elfSections is where an ELF file's section header table is and what of
// it was kept.
type elfSections struct {
	order     binary.ByteOrder
	is64      bool
	off, size int64
	entsize   int
	table     []byte
}

func parseELFHeader(b []byte) (*elfSections, bool) {
	if len(b) < 64 || b[5] < 1 || b[5] > 2 || b[4] < 1 || b[4] > 2 {
		return nil, false
	}
	s := &elfSections{order: binary.LittleEndian, is64: b[4] == 2}
	if b[5] == 2 {
		s.order = binary.BigEndian
	}
	var num int
	if s.is64 {
		s.off = int64(s.order.Uint64(b[0x28:]))
		s.entsize, num = int(s.order.Uint16(b[0x3a:])), int(s.order.Uint16(b[0x3c:]))
	} else {
		s.off = int64(s.order.Uint32(b[0x20:]))
		s.entsize, num = int(s.order.Uint16(b[0x2e:])), int(s.order.Uint16(b[0x30:]))
	}
	s.size = int64(s.entsize) * int64(num)
	if s.off <= 0 || s.size <= 0 || s.size > maxSectionTable || (s.is64 && s.entsize < 0x28) || (!s.is64 && s.entsize < 0x18) {
		return nil, false
	}
	return s, true
}

// keep copies the part of the section table in chunk (which starts at
// file offset at).
func (s *elfSections) keep(chunk []byte, at int64) {
	lo, hi := max(at, s.off), min(at+int64(len(chunk)), s.off+s.size)
	if lo < hi && int64(len(s.table)) == lo-s.off {
		s.table = append(s.table, chunk[lo-at:hi-at]...)
	}
}

// startsSection reports whether a section begins at file offset off.
func (s *elfSections) startsSection(off int64) bool {
	if int64(len(s.table)) != s.size {
		return false
	}
	for e := 0; e+s.entsize <= len(s.table); e += s.entsize {
		var o int64
		if s.is64 {
			o = int64(s.order.Uint64(s.table[e+0x18:]))
		} else {
			o = int64(s.order.Uint32(s.table[e+0x10:]))
		}
		if o == off {
			return true
		}
	}
	return false
}

// CatalogStream reads the binary's audit data, if any.
func (rustBinary) CatalogStream(_ context.Context, p string, r io.Reader) ([]sbom.Package, error) {
	// overlap keeps enough of a chunk's end for a candidate's probe.
	const chunk, overlap = 1 << 20, 64
	// The header decides before anything is allocated: most executables
	// of an image outside the OS directories are scripts.
	var head [64]byte
	n, err := io.ReadFull(r, head[:])
	eof := err == io.EOF || err == io.ErrUnexpectedEOF
	if err != nil && !eof {
		return nil, err
	}
	format := execFormatOf(head[:n])
	if format == notExec {
		return nil, nil
	}
	buf := make([]byte, 0, chunk+overlap)
	buf = append(buf, head[:n]...)
	if !eof {
		m, err := io.ReadFull(r, buf[n:cap(buf)])
		buf = buf[:n+m]
		eof = err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !eof {
			return nil, err
		}
	}
	var elf *elfSections
	if format == formatELF {
		var ok bool
		if elf, ok = parseELFHeader(buf); !ok {
			return nil, nil
		}
		elf.keep(buf, 0)
	}
	var found []byte // the decompressed JSON of the first candidate
	foundAt := int64(-1)
	fr := flate.NewReader(bytes.NewReader(nil))
	probe := make([]byte, len(auditablePrefix))
	var base int64 // file offset of buf[0]
	for {
		if found == nil {
			i := candidate(fr, buf, probe)
			if i >= 0 {
				// Decompress the whole candidate: what the buffer holds,
				// then the stream, whose bytes keepReader hands to the
				// section table as they pass.
				cr := &keepReader{r: r, elf: elf, at: base + int64(len(buf))}
				src := io.LimitReader(io.MultiReader(bytes.NewReader(buf[i+2:]), cr), maxAuditableCompressed)
				if err := fr.(flate.Resetter).Reset(src, nil); err != nil {
					return nil, err
				}
				data, err := io.ReadAll(io.LimitReader(fr, maxAuditableJSON+1))
				if len(data) > maxAuditableJSON {
					return nil, fmt.Errorf("cargo auditable data larger than %d bytes", maxAuditableJSON)
				}
				if err != nil {
					return nil, fmt.Errorf("cargo auditable data at offset %d: %w", base+int64(i), err)
				}
				found, foundAt = data, base+int64(i)
				buf, base, eof = buf[:0], cr.at, eof || cr.eof
			}
		}
		if eof || (found != nil && (elf == nil || base >= elf.off+elf.size)) {
			break
		}
		keep := min(overlap, len(buf))
		copy(buf, buf[len(buf)-keep:])
		base += int64(len(buf) - keep)
		buf = buf[:keep]
		n, err := io.ReadFull(r, buf[keep:cap(buf)])
		buf = buf[:keep+n]
		if elf != nil {
			elf.keep(buf[keep:], base+int64(keep))
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			eof = true
		} else if err != nil {
			return nil, err
		}
	}
	if found == nil || (elf != nil && !elf.startsSection(foundAt)) {
		return nil, nil
	}
	pkgs, err := parseAuditable(found)
	if err != nil {
		return nil, fmt.Errorf("cargo auditable data: %w", err)
	}
	for i := range pkgs {
		pkgs[i].Locations = []string{p}
		pkgs[i].Cataloger = "rust-binary"
	}
	return pkgs, nil
}

// candidate returns the first offset in buf of a zlib header whose
// deflate stream starts with auditablePrefix, or -1.
func candidate(fr io.ReadCloser, buf, probe []byte) int {
	for i := 0; i+2 < len(buf); i++ {
		j := bytes.IndexByte(buf[i:len(buf)-2], 0x78)
		if j < 0 {
			return -1
		}
		i += j
		// The four second bytes of a zlib header with a 32 KiB window
		// and no dictionary (the header's check value is a multiple of 31).
		if b := buf[i+1]; (b == 0x01 || b == 0x5e || b == 0x9c || b == 0xda) && inflatesToPrefix(fr, buf[i+2:], probe) {
			return i
		}
	}
	return -1
}

// inflatesToPrefix reports whether the deflate stream in b starts with
// auditablePrefix.
func inflatesToPrefix(fr io.ReadCloser, b []byte, probe []byte) bool {
	if err := fr.(flate.Resetter).Reset(bytes.NewReader(b), nil); err != nil {
		return false
	}
	n, _ := io.ReadFull(fr, probe)
	return n == len(probe) && bytes.Equal(probe, auditablePrefix)
}

// keepReader reads the stream for the decompressor, keeping the section
// table as it passes and counting the file offset.
type keepReader struct {
	r   io.Reader
	elf *elfSections
	at  int64
	eof bool
}

func (k *keepReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if k.elf != nil && n > 0 {
		k.elf.keep(p[:n], k.at)
	}
	k.at += int64(n)
	if err == io.EOF {
		k.eof = true
	}
	return n, err
}

var errNotAuditable = errors.New(`not cargo auditable data (no "packages" array)`)

// parseAuditable reads the JSON of a .dep-v0 section.
func parseAuditable(data []byte) ([]sbom.Package, error) {
	var doc struct {
		Packages *[]struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Source  string `json:"source"`
			Kind    string `json:"kind"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Packages == nil {
		return nil, errNotAuditable
	}
	if len(*doc.Packages) > maxCargoPackages {
		return nil, fmt.Errorf("%d packages, more than %d", len(*doc.Packages), maxCargoPackages)
	}
	var out []sbom.Package
	seen := map[string]bool{}
	for i, c := range *doc.Packages {
		if c.Name == "" || c.Version == "" || strings.ContainsAny(c.Name, "/\\ ") || strings.ContainsAny(c.Version, " /") {
			return nil, fmt.Errorf("package %d: no name or version", i)
		}
		if c.Kind == "build" || !isCratesIO(c.Source) || seen[c.Name+"@"+c.Version] {
			continue
		}
		seen[c.Name+"@"+c.Version] = true
		out = append(out, cratePackage(c.Name, c.Version))
	}
	return out, nil
}
