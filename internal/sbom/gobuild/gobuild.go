// Package gobuild reads the build information that the Go linker embeds
// in every Go binary (module path, dependencies, Go version) from a
// stream, without holding the binary in memory, so that an image walker
// can catalog Go binaries as their bytes pass by.
//
// Go 1.18 and later write the build information inline: a 32-byte header
// starting with the magic "\xff Go buildinf:", a pointer-size byte and a
// flags byte whose bit 0x2 says "inline", then the Go version and the
// module information as two uvarint-length-prefixed strings. The module
// string is wrapped in 16-byte sentinels and has the text form that
// runtime/debug.ParseBuildInfo reads. Older binaries store two pointers
// instead, which cannot be followed in a stream; they are reported with
// ErrPointerFormat, and ReadFile (debug/buildinfo) handles them.
package gobuild

import (
	"bytes"
	"debug/buildinfo"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

var (
	// ErrNotExecutable: the stream does not start like an ELF, PE or
	// Mach-O file.
	ErrNotExecutable = errors.New("not an executable")
	// ErrNotGoBinary: an executable without Go build information.
	ErrNotGoBinary = errors.New("no Go build information")
	// ErrPointerFormat: build information of Go 1.17 or older, stored as
	// pointers into the binary, which a stream cannot follow.
	ErrPointerFormat = errors.New("pre-1.18 pointer-format build information cannot be read from a stream")
)

const (
	magic      = "\xff Go buildinf:"
	headerSize = 32
	flagInline = 0x2
	// Limits on what a hostile binary can make the reader hold: no real
	// Go version string is longer than a few dozen bytes, and module
	// information is about a hundred bytes per dependency.
	maxVersionLen = 1 << 10
	maxModLen     = 8 << 20
	chunkSize     = 256 << 10
)

// Sentinels that the linker puts around the module information.
const modSentinelLen = 16

// IsExecutableHeader reports whether b (the first bytes of a file, at
// least 4) starts an ELF, PE or Mach-O (thin or fat) file.
func IsExecutableHeader(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	switch {
	case bytes.HasPrefix(b, []byte("\x7fELF")), bytes.HasPrefix(b, []byte("MZ")):
		return true
	}
	switch binary.BigEndian.Uint32(b) {
	case 0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe, 0xcafebabe:
		return true
	}
	return false
}

// ReadStream reads r until it finds the Go build information and returns
// it, parsed. It reads at most up to the end of the build information, so
// the caller may stop reading there; memory stays below a few hundred
// kilobytes plus the module information itself (capped at 8 MiB).
func ReadStream(r io.Reader) (*debug.BuildInfo, error) {
	head := make([]byte, 4)
	if _, err := io.ReadFull(r, head); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, ErrNotExecutable
		}
		return nil, err
	}
	if !IsExecutableHeader(head) {
		return nil, ErrNotExecutable
	}
	s := &stream{r: r, buf: append(make([]byte, 0, chunkSize+len(magic)), head...)}
	pos := 0
	for {
		i := bytes.Index(s.buf[pos:], []byte(magic))
		if i < 0 {
			// Keep a tail that may hold the start of the magic.
			keep := len(magic) - 1
			if len(s.buf) < keep {
				keep = len(s.buf)
			}
			s.buf = append(s.buf[:0], s.buf[len(s.buf)-keep:]...)
			pos = 0
			if s.eof {
				return nil, ErrNotGoBinary
			}
			if err := s.fill(chunkSize); err != nil {
				return nil, err
			}
			continue
		}
		start := pos + i
		bi, err := s.parseAt(start)
		if err == nil || errors.Is(err, ErrPointerFormat) {
			return bi, err
		}
		// Not a real header (the magic also appears as a string constant
		// in binaries that link debug/buildinfo): look further. Drop what
		// lies before the candidate so the buffer stays bounded.
		s.buf = append(s.buf[:0], s.buf[start+1:]...)
		pos = 0
	}
}

type stream struct {
	r   io.Reader
	buf []byte
	eof bool
}

// fill appends up to n more bytes from the stream.
func (s *stream) fill(n int) error {
	if s.eof {
		return nil
	}
	old := len(s.buf)
	s.buf = append(s.buf, make([]byte, n)...)
	m, err := io.ReadFull(s.r, s.buf[old:])
	s.buf = s.buf[:old+m]
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		s.eof = true
		return nil
	}
	return err
}

// need makes sure that buf holds at least n bytes, if the stream has them.
func (s *stream) need(n int) error {
	for len(s.buf) < n && !s.eof {
		if err := s.fill(n - len(s.buf)); err != nil {
			return err
		}
	}
	return nil
}

var errNoHeader = errors.New("not a build information header")

// parseAt parses the header that starts at buf[start].
func (s *stream) parseAt(start int) (*debug.BuildInfo, error) {
	if err := s.need(start + headerSize); err != nil {
		return nil, err
	}
	if len(s.buf) < start+headerSize {
		return nil, errNoHeader
	}
	h := s.buf[start : start+headerSize]
	ptrSize, flags := h[len(magic)], h[len(magic)+1]
	if ptrSize != 4 && ptrSize != 8 {
		return nil, errNoHeader
	}
	if flags&flagInline == 0 {
		return nil, ErrPointerFormat
	}
	off := start + headerSize
	vers, off, err := s.varString(off, maxVersionLen)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(vers, "go") && !strings.HasPrefix(vers, "devel") {
		return nil, errNoHeader
	}
	mod, _, err := s.varString(off, maxModLen)
	if err != nil {
		return nil, err
	}
	// Strip the sentinels, as the linker's reader does: the module text
	// always ends in a newline before the closing sentinel.
	if len(mod) >= 2*modSentinelLen+1 && mod[len(mod)-modSentinelLen-1] == '\n' {
		mod = mod[modSentinelLen : len(mod)-modSentinelLen]
	} else {
		mod = ""
	}
	bi, err := debug.ParseBuildInfo(mod)
	if err != nil {
		return nil, fmt.Errorf("parsing build information: %w", err)
	}
	bi.GoVersion = vers
	return bi, nil
}

// varString reads a uvarint length and that many bytes at off.
func (s *stream) varString(off, limit int) (string, int, error) {
	if err := s.need(off + binary.MaxVarintLen64); err != nil {
		return "", 0, err
	}
	if off >= len(s.buf) {
		return "", 0, errNoHeader
	}
	n, w := binary.Uvarint(s.buf[off:])
	if w <= 0 || n > uint64(limit) {
		return "", 0, errNoHeader
	}
	off += w
	end := off + int(n)
	if err := s.need(end); err != nil {
		return "", 0, err
	}
	if len(s.buf) < end {
		return "", 0, errNoHeader
	}
	return string(s.buf[off:end]), end, nil
}

// ReadFile reads the build information of a whole binary with
// debug/buildinfo, which follows sections and also reads the pointer
// format of Go 1.17 and older. It is the reference that ReadStream is
// tested against, and the way to read binaries that are already on disk.
func ReadFile(r io.ReaderAt) (*debug.BuildInfo, error) {
	bi, err := buildinfo.Read(r)
	if err != nil {
		return nil, err
	}
	return bi, nil
}
