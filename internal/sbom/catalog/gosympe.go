package catalog

// Windows (PE) Go binaries. The Go linker puts the pclntab inside .rdata,
// not in a section of its own: only the COFF symbol table says where it
// starts (the symbol runtime.pclntab: a section number and an offset in
// it), as govulncheck reads it. `-ldflags=-s` drops the COFF symbols, so
// a stripped PE binary's reachability stays unknown, as govulncheck finds
// no symbols in it either: the table is not guessed from magics alone.

import (
	"bytes"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// Bounds on a PE binary's headers and COFF symbols.
const (
	// maxPESections bounds the section table (the format allows 96).
	maxPESections = 1024
	// maxPEHeaderOffset bounds where the PE header may start.
	maxPEHeaderOffset = 1 << 20
	// maxPESymbols bounds the COFF symbol table and maxPEStrings its
	// string table (a 7 MB Go binary has 126 KB and 240 KB).
	maxPESymbols = 32 << 20
	maxPEStrings = 32 << 20
	// coffSymbolSize is the size of one COFF symbol table entry.
	coffSymbolSize = 18
)

// errNoCOFFSymbols reports a PE binary without COFF symbols (stripped).
var errNoCOFFSymbols = errors.New("PE binary without COFF symbols (stripped): no runtime.pclntab")

// peSection is where a PE section's raw data lies in the file.
type peSection struct {
	off, size uint64
}

// peCOFF is what the stream needs of a PE file header.
type peCOFF struct {
	nsec, optSize   int
	symOff, symSize uint64
}

// readPECOFF checks the PE signature and COFF file header in b (24
// bytes) against the bounds.
func readPECOFF(b []byte) (peCOFF, error) {
	if !bytes.HasPrefix(b, []byte("PE\x00\x00")) {
		return peCOFF{}, errors.New("no PE signature")
	}
	le := binary.LittleEndian
	h := peCOFF{
		nsec:    int(le.Uint16(b[6:])),
		symOff:  uint64(le.Uint32(b[12:])),
		symSize: uint64(le.Uint32(b[16:])) * coffSymbolSize,
		optSize: int(le.Uint16(b[20:])),
	}
	switch {
	case h.nsec == 0 || h.nsec > maxPESections:
		return peCOFF{}, fmt.Errorf("PE: %d sections", h.nsec)
	case h.symSize == 0 || h.symOff == 0:
		return peCOFF{}, errNoCOFFSymbols
	case h.symSize > maxPESymbols:
		return peCOFF{}, fmt.Errorf("PE: %d bytes of COFF symbols, over the limit of %d", h.symSize, maxPESymbols)
	}
	return h, nil
}

// peStream follows a PE binary's headers and COFF symbols through a
// symbolStream.
type peStream struct {
	coff     *span // "PE\0\0" and the COFF file header
	sects    *span // the section table
	sections []peSection
	symtab   *span // the COFF symbol table
	strsize  *span // the string table's size, its first four bytes
	strtab   *span // the string table, size included
}

// newPEStream reads the DOS header (the first 64 bytes) for where the PE
// header starts.
func newPEStream(head []byte) (*peStream, error) {
	lfanew := int64(binary.LittleEndian.Uint32(head[0x3c:]))
	if lfanew < 0x40-24 || lfanew > maxPEHeaderOffset {
		return nil, fmt.Errorf("PE header at %d", lfanew)
	}
	return &peStream{coff: &span{off: lfanew, data: make([]byte, 24)}}, nil
}

// feed captures what buf (at file offset base) holds of the headers and
// symbols, and sets up the next captures as the earlier ones complete.
func (p *peStream) feed(buf []byte, base int64) error {
	p.coff.feed(buf, base)
	if p.sects == nil && p.coff.full() {
		h, err := readPECOFF(p.coff.data)
		if err != nil {
			return err
		}
		p.sects = &span{off: p.coff.off + 24 + int64(h.optSize), data: make([]byte, 40*h.nsec)}
		p.symtab = &span{off: int64(h.symOff), data: make([]byte, h.symSize)}
		p.strsize = &span{off: int64(h.symOff + h.symSize), data: make([]byte, 4)}
	}
	p.sects.feed(buf, base)
	if p.sections == nil && p.sects.full() {
		le := binary.LittleEndian
		d := p.sects.data
		p.sections = make([]peSection, 0, len(d)/40)
		for i := 0; i+40 <= len(d); i += 40 {
			p.sections = append(p.sections, peSection{size: uint64(le.Uint32(d[i+16:])), off: uint64(le.Uint32(d[i+20:]))})
		}
	}
	p.symtab.feed(buf, base)
	p.strsize.feed(buf, base)
	if p.strtab == nil && p.strsize.full() {
		n := binary.LittleEndian.Uint32(p.strsize.data)
		if n < 4 || n > maxPEStrings {
			return fmt.Errorf("PE: COFF string table of %d bytes", n)
		}
		p.strtab = &span{off: p.strsize.off, data: make([]byte, n)}
	}
	p.strtab.feed(buf, base)
	return nil
}

// inSection says whether off lies in some section's raw data, once the
// section table is known (any offset may before).
func (p *peStream) inSection(off int64) bool {
	if p.sections == nil {
		return true
	}
	for _, s := range p.sections {
		if uint64(off) >= s.off && uint64(off)-s.off < s.size {
			return true
		}
	}
	return false
}

// pclntab returns the file offset of runtime.pclntab and the end of the
// section holding it, from the captured COFF symbols.
func (p *peStream) pclntab() (off, end uint64, err error) {
	switch {
	case p.sections == nil:
		return 0, 0, errors.New("truncated PE binary: no section table")
	case !p.symtab.full() || !p.strtab.full():
		return 0, 0, errors.New("truncated PE binary: COFF symbols incomplete")
	}
	sec, value, ok := coffSymbol(p.symtab.data, p.strtab.data, "runtime.pclntab")
	if !ok {
		return 0, 0, errors.New("PE: no runtime.pclntab symbol")
	}
	if sec < 1 || sec > len(p.sections) {
		return 0, 0, fmt.Errorf("PE: runtime.pclntab in section %d of %d", sec, len(p.sections))
	}
	s := p.sections[sec-1]
	if uint64(value) >= s.size {
		return 0, 0, fmt.Errorf("PE: runtime.pclntab at %d past its section's %d bytes", value, s.size)
	}
	return s.off + uint64(value), s.off + s.size, nil
}

// coffSymbol finds the symbol name in a COFF symbol table and returns its
// section number (1-based) and value (its offset in that section). Names
// of over eight bytes are in strtab, at the offset the entry gives.
func coffSymbol(symtab, strtab []byte, name string) (sec int, value uint32, ok bool) {
	le := binary.LittleEndian
	for i := 0; i+coffSymbolSize <= len(symtab); {
		e := symtab[i : i+coffSymbolSize]
		var n []byte
		if le.Uint32(e) == 0 {
			if o := uint64(le.Uint32(e[4:])); o < uint64(len(strtab)) {
				n = strtab[o:]
			}
		} else {
			n = e[:8]
		}
		if j := bytes.IndexByte(n, 0); j >= 0 {
			n = n[:j]
		}
		if string(n) == name {
			return int(int16(le.Uint16(e[12:]))), le.Uint32(e[8:]), true
		}
		i += coffSymbolSize * (1 + int(e[17])) // the entry and its auxiliary ones
	}
	return 0, 0, false
}

// peGoSymbols reads a PE Go binary's functions with debug/pe, for
// GoSymbols.
func peGoSymbols(r io.ReaderAt) (map[string]struct{}, error) {
	// debug/pe reads every COFF symbol and the string table: check their
	// sizes first.
	var dos [0x40]byte
	if _, err := r.ReadAt(dos[:], 0); err != nil {
		return nil, fmt.Errorf("read PE: %w", err)
	}
	ps, err := newPEStream(dos[:])
	if err != nil {
		return nil, err
	}
	if _, err := r.ReadAt(ps.coff.data, ps.coff.off); err != nil {
		return nil, fmt.Errorf("read PE header: %w", err)
	}
	h, err := readPECOFF(ps.coff.data)
	if err != nil {
		return nil, err
	}
	var n [4]byte
	if _, err := r.ReadAt(n[:], int64(h.symOff+h.symSize)); err != nil {
		return nil, fmt.Errorf("read COFF string table: %w", err)
	}
	if s := binary.LittleEndian.Uint32(n[:]); s > maxPEStrings {
		return nil, fmt.Errorf("PE: COFF string table of %d bytes", s)
	}
	f, err := pe.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("read PE: %w", err)
	}
	var start, end *pe.Symbol
	for _, s := range f.Symbols {
		switch s.Name {
		case "runtime.pclntab":
			start = s
		case "runtime.epclntab":
			end = s
		}
	}
	if start == nil || end == nil || start.SectionNumber != end.SectionNumber || start.Value > end.Value {
		return nil, errors.New("PE: no runtime.pclntab and runtime.epclntab symbols in one section")
	}
	i := int(start.SectionNumber) - 1
	if i < 0 || i >= len(f.Sections) {
		return nil, fmt.Errorf("PE: runtime.pclntab in section %d", start.SectionNumber)
	}
	sec := f.Sections[i]
	if uint64(end.Value) > uint64(sec.Size) {
		return nil, fmt.Errorf("PE: runtime.epclntab at %d past section %s's %d bytes", end.Value, sec.Name, sec.Size)
	}
	if end.Value-start.Value > maxSymbolBinary {
		return nil, errSymbolsTooLarge
	}
	data := make([]byte, end.Value-start.Value)
	if _, err := sec.ReadAt(data, int64(start.Value)); err != nil {
		return nil, fmt.Errorf("read runtime.pclntab: %w", err)
	}
	return goSymbolsOf(data, 0)
}

// isMachO says whether magic starts a thin 32- or 64-bit Mach-O file,
// either byte order.
func isMachO(magic []byte) bool {
	m := binary.LittleEndian.Uint32(magic)
	return m == macho.Magic32 || m == macho.Magic64 || m == bits.ReverseBytes32(macho.Magic32) || m == bits.ReverseBytes32(macho.Magic64)
}

// machoGoSymbols reads a Mach-O Go binary's functions from its
// __gopclntab section, which the Go linker keeps when stripping, for
// GoSymbols.
func machoGoSymbols(r io.ReaderAt) (map[string]struct{}, error) {
	f, err := macho.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("read Mach-O: %w", err)
	}
	pcln := f.Section("__gopclntab")
	if pcln == nil {
		return nil, errors.New("Mach-O: no __gopclntab section")
	}
	if pcln.Size > maxSymbolBinary {
		return nil, errSymbolsTooLarge
	}
	data := make([]byte, pcln.Size)
	if _, err := pcln.ReadAt(data, 0); err != nil {
		return nil, fmt.Errorf("read __gopclntab: %w", err)
	}
	return goSymbolsOf(data, 0)
}
