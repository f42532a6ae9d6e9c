package catalog

// Reading a Go binary's function names from a stream, without keeping the
// binary: the walker passes each file once, front to back. The ELF header
// (first) says where the section headers are; the Go linker writes them
// right after the program headers, other linkers at the end of the file,
// with the section name table just before them. So the stream is searched
// for what starts a Go 1.16+ pclntab (its magic, two zero bytes, the
// instruction quantum, the pointer size); the header that follows gives
// the offsets of the function name table, and only those bytes are kept.
// The section headers and their names, captured as they pass (or from a
// small window kept before section headers at the end), then confirm
// which candidate is .gopclntab. Memory is the name table (a few MiB for
// a 100 MiB binary) instead of the whole binary. Pre-1.16 tables, which
// debug/gosym must decode whole, are not read from a stream: their
// binaries' reachability is unknown.
//
// PE and Mach-O binaries are streamed the same way, only the confirmation
// differs: PE's COFF symbol runtime.pclntab (gosympe.go), Mach-O's
// __gopclntab section in the load commands (gosymmacho.go).

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Bounds on what a binary may make the stream keep.
const (
	// maxPclnCandidates bounds the candidate tables followed; a binary
	// with more fake magics than this before its table keeps its
	// reachability unknown.
	maxPclnCandidates = 16
	// maxNameTable bounds one candidate's function name table, and
	// maxNameTables all of them together.
	maxNameTable  = 64 << 20
	maxNameTables = 128 << 20
	// maxSectionHeaders bounds the section header table kept, and
	// maxSectionNames its name table.
	maxSectionHeaders = 4 << 20
	maxSectionNames   = 1 << 20
	// shWindow is how much of the file before trailing section headers is
	// kept, for the section name table that linkers put there.
	shWindow = 64 << 10
)

// span captures the bytes of the file from off, len(data) of them, as the
// writes pass (writes may overlap: copies are positional).
type span struct {
	off  int64
	data []byte
	fill int64
}

func (s *span) feed(buf []byte, base int64) {
	if s == nil {
		return
	}
	lo, hi := max(s.off, base), min(s.off+int64(len(s.data)), base+int64(len(buf)))
	if lo < hi {
		copy(s.data[lo-s.off:], buf[lo-base:hi-base])
		s.fill = max(s.fill, hi-s.off)
	}
}

func (s *span) full() bool { return s != nil && s.fill == int64(len(s.data)) }

// symbolStream is an io.Writer fed every byte of a binary in order.
type symbolStream struct {
	off      int64
	head     []byte    // the ELF header, or PE's DOS header: first 64 bytes
	pe       *peStream // a PE binary's headers and COFF symbols
	macho    *machoStream
	order    binary.ByteOrder
	is64     bool
	shent    int
	shstrndx int
	shdrs    *span
	window   *span // the bytes just before trailing section headers
	names    *span // the section name table
	sections []elfSection
	tail     []byte // last bytes of the previous write, for magics across writes
	cands    []*pclnCandidate
	kept     int64
	err      error
}

type elfSection struct {
	name      uint32
	typ       uint32
	off, size uint64
}

// pclnCandidate is one place where a pclntab may start.
type pclnCandidate struct {
	off   int64
	hdr   *span
	names *span // the function name table, once the header is read
	dead  bool
}

func (s *symbolStream) Write(p []byte) (int, error) {
	n := len(p)
	if s.err != nil {
		return n, nil
	}
	if len(s.head) < 64 {
		k := min(64-len(s.head), len(p))
		s.head = append(s.head, p[:k]...)
		s.off += int64(k)
		p = p[k:]
		if len(s.head) < 64 {
			return n, nil
		}
		if s.err = s.readHeader(); s.err != nil {
			return n, nil
		}
		s.tail = append(s.tail[:0], s.head[57:]...)
	}
	// Magics that straddle two writes are found in the seam: the last
	// bytes of the previous write and the first of this one. Spans are fed
	// this write alone (the previous bytes were fed before).
	seam := append(s.tail, p[:min(7, len(p))]...)
	s.findMagics(seam, s.off-int64(len(s.tail)))
	s.findMagics(p, s.off)
	for _, c := range s.cands {
		s.feed(c, seam, s.off-int64(len(s.tail)))
		s.feed(c, p, s.off)
	}
	switch {
	case s.pe != nil:
		s.err = s.pe.feed(p, s.off)
	case s.macho != nil:
		s.err = s.macho.feed(p, s.off)
	default:
		s.window.feed(p, s.off)
		s.shdrs.feed(p, s.off)
		if s.sections == nil && s.shdrs.full() {
			s.err = s.readSectionHeaders()
		}
		s.names.feed(p, s.off)
	}
	if s.err != nil {
		return n, nil
	}
	s.off += int64(len(p))
	if len(p) >= 7 {
		s.tail = append(s.tail[:0], p[len(p)-7:]...)
	} else {
		s.tail = append(s.tail, p...)
		s.tail = append(s.tail[:0], s.tail[max(0, len(s.tail)-7):]...)
	}
	return n, nil
}

// readHeader reads the first 64 bytes: an ELF header, or a PE binary's
// DOS header.
func (s *symbolStream) readHeader() error {
	if bytes.HasPrefix(s.head, []byte("MZ")) {
		pe, err := newPEStream(s.head)
		if err != nil {
			return err
		}
		s.pe, s.order = pe, binary.LittleEndian
		return pe.feed(s.head, 0)
	}
	if isMachO(s.head) {
		m, err := newMachOStream(s.head)
		if err != nil {
			return err
		}
		s.macho, s.order = m, m.order
		return m.feed(s.head, 0)
	}
	return s.readELFHeader()
}

func (s *symbolStream) readELFHeader() error {
	h := s.head
	if !bytes.HasPrefix(h, []byte("\x7fELF")) {
		return errors.New("not an ELF, PE or Mach-O binary")
	}
	switch h[5] {
	case 1:
		s.order = binary.LittleEndian
	case 2:
		s.order = binary.BigEndian
	default:
		return fmt.Errorf("ELF data encoding %d", h[5])
	}
	var shoff uint64
	var shnum int
	switch h[4] {
	case 1:
		shoff = uint64(s.order.Uint32(h[32:]))
		s.shent, shnum, s.shstrndx = int(s.order.Uint16(h[46:])), int(s.order.Uint16(h[48:])), int(s.order.Uint16(h[50:]))
		if s.shent != 40 {
			return fmt.Errorf("ELF section header size %d", s.shent)
		}
	case 2:
		s.is64 = true
		shoff = s.order.Uint64(h[40:])
		s.shent, shnum, s.shstrndx = int(s.order.Uint16(h[58:])), int(s.order.Uint16(h[60:])), int(s.order.Uint16(h[62:]))
		if s.shent != 64 {
			return fmt.Errorf("ELF section header size %d", s.shent)
		}
	default:
		return fmt.Errorf("ELF class %d", h[4])
	}
	size := shnum * s.shent
	if shnum == 0 || shoff < 64 || shoff > 1<<40 || size > maxSectionHeaders || s.shstrndx >= shnum {
		return errors.New("no usable ELF section headers")
	}
	s.shdrs = &span{off: int64(shoff), data: make([]byte, size)}
	w := min(int64(shoff)-64, shWindow)
	s.window = &span{off: int64(shoff) - w, data: make([]byte, w)}
	return nil
}

// readSectionHeaders decodes the captured section headers and sets up the
// capture of the section name table.
func (s *symbolStream) readSectionHeaders() error {
	d := s.shdrs.data
	for i := 0; i+s.shent <= len(d); i += s.shent {
		sh := d[i : i+s.shent]
		e := elfSection{name: s.order.Uint32(sh), typ: s.order.Uint32(sh[4:])}
		if s.is64 {
			e.off, e.size = s.order.Uint64(sh[24:]), s.order.Uint64(sh[32:])
		} else {
			e.off, e.size = uint64(s.order.Uint32(sh[16:])), uint64(s.order.Uint32(sh[20:]))
		}
		s.sections = append(s.sections, e)
	}
	str := s.sections[s.shstrndx]
	if str.size > maxSectionNames || str.off > 1<<40 {
		return errors.New("unusable ELF section name table")
	}
	s.names = &span{off: int64(str.off), data: make([]byte, str.size)}
	if s.names.off < s.off {
		// Already passed: only the window before trailing section headers
		// can still hold it.
		s.names.feed(s.window.data, s.window.off)
	}
	s.window = nil
	return nil
}

// findMagics adds a candidate for each pclntab start in buf (whose first
// byte is at file offset base) that needs bytes of this write.
func (s *symbolStream) findMagics(buf []byte, base int64) {
	// Every magic is 0xff 0xff 0xff and one byte, after it
	// (little-endian) or before it (big-endian).
	back := 1
	if s.order == binary.ByteOrder(binary.BigEndian) {
		back = 0
	}
	for i := 0; i < len(buf); {
		j := bytes.Index(buf[i:], []byte{0xff, 0xff, 0xff})
		if j < 0 {
			return
		}
		start := i + j - back
		i += j + 1
		if start < 0 || start+8 > len(buf) || base+int64(start)+8 <= s.off {
			continue // outside buf, or seen whole in an earlier write
		}
		w := buf[start : start+8]
		magic := s.order.Uint32(w)
		if (magic != 0xfffffff1 && magic != 0xfffffff0 && magic != 0xfffffffa) ||
			w[4] != 0 || w[5] != 0 || (w[6] != 1 && w[6] != 2 && w[6] != 4) || (w[7] != 4 && w[7] != 8) {
			continue
		}
		s.addCandidate(base+int64(start), magic, int(w[7]))
	}
}

func (s *symbolStream) addCandidate(off int64, magic uint32, ptr int) {
	if s.sections != nil && s.sectionAt(off) == nil {
		return // the section headers are known, and no section starts here
	}
	if s.pe != nil && !s.pe.inSection(off) {
		return // in no PE section
	}
	if m := s.macho; m != nil && m.pcln != nil && m.pcln.off != uint64(off) {
		return // not where __gopclntab starts
	}
	for _, c := range s.cands {
		if c.off == off {
			return
		}
	}
	if len(s.cands) >= maxPclnCandidates {
		return
	}
	words := 5 // nfunc, nfiles, textStart, funcnameOffset, cuOffset
	if magic == 0xfffffffa {
		words = 4 // Go 1.16: no textStart
	}
	s.cands = append(s.cands, &pclnCandidate{off: off, hdr: &span{off: off, data: make([]byte, 8+words*ptr)}})
}

// feed copies the bytes of buf that c needs.
func (s *symbolStream) feed(c *pclnCandidate, buf []byte, base int64) {
	if c.dead {
		return
	}
	if c.names == nil {
		c.hdr.feed(buf, base)
		if !c.hdr.full() {
			return
		}
		if !s.namesRange(c) {
			c.dead = true
			return
		}
	}
	c.names.feed(buf, base)
}

// namesRange reads the candidate's header for its name table's offsets
// and makes room for it, within the bounds.
func (s *symbolStream) namesRange(c *pclnCandidate) bool {
	h := c.hdr.data
	ptr := int(h[7])
	first := 3
	if s.order.Uint32(h) == 0xfffffffa {
		first = 2
	}
	word := func(i int) uint64 {
		if ptr == 4 {
			return uint64(s.order.Uint32(h[8+i*4:]))
		}
		return s.order.Uint64(h[8+i*8:])
	}
	start, end := word(first), word(first+1)
	if start < uint64(len(h)) || end <= start || end-start > maxNameTable || s.kept+int64(end-start) > maxNameTables {
		return false
	}
	c.names = &span{off: c.off + int64(start), data: make([]byte, end-start)}
	s.kept += int64(end - start)
	return true
}

// sectionAt returns the PROGBITS section that starts at off.
func (s *symbolStream) sectionAt(off int64) *elfSection {
	for i := range s.sections {
		if e := &s.sections[i]; e.typ == 1 && e.off == uint64(off) {
			return e
		}
	}
	return nil
}

// symbols returns the function names of the candidate that starts the
// section named .gopclntab, once the whole binary was written.
func (s *symbolStream) symbols() (map[string]struct{}, error) {
	if s.err != nil {
		return nil, s.err
	}
	switch {
	case s.pe != nil:
		off, end, err := s.pe.pclntab()
		if err != nil {
			return nil, err
		}
		return s.symbolsAt(off, end)
	case s.macho != nil:
		if s.macho.pcln == nil {
			return nil, errors.New("truncated Mach-O binary: load commands incomplete")
		}
		return s.symbolsAt(s.macho.pcln.off, s.macho.pcln.off+s.macho.pcln.size)
	}
	if s.sections == nil || !s.names.full() {
		return nil, errors.New("truncated ELF binary, or its section names are out of reach")
	}
	for _, c := range s.cands {
		if c.dead || !c.names.full() {
			continue
		}
		sec := s.sectionAt(c.off)
		if sec == nil || sec.off+sec.size < uint64(c.names.off)+uint64(len(c.names.data)) {
			continue
		}
		if name := s.sectionName(sec.name); name == ".gopclntab" || strings.HasSuffix(name, ".gopclntab") {
			return symbolsFromNames(c.names.data)
		}
	}
	return nil, errors.New("no Go 1.16 or later .gopclntab")
}

func (s *symbolStream) sectionName(off uint32) string {
	d := s.names.data
	if int64(off) >= int64(len(d)) {
		return ""
	}
	d = d[off:]
	if i := bytes.IndexByte(d, 0); i >= 0 {
		d = d[:i]
	}
	return string(d)
}

// symbolsAt returns the function names of the candidate that starts at
// file offset off (PE: where the COFF symbol runtime.pclntab points;
// Mach-O: the section __gopclntab), its names before end (its section's).
func (s *symbolStream) symbolsAt(off, end uint64) (map[string]struct{}, error) {
	for _, c := range s.cands {
		if c.dead || c.off != int64(off) || !c.names.full() {
			continue
		}
		if uint64(c.names.off)+uint64(len(c.names.data)) > end {
			return nil, errors.New("pclntab's function names run past its section")
		}
		return symbolsFromNames(c.names.data)
	}
	return nil, fmt.Errorf("no Go 1.16 or later pclntab at file offset %d", off)
}
