package catalog

// Mach-O (darwin) Go binaries: the Go linker writes the pclntab as the
// section __gopclntab of the __TEXT segment, and keeps it when stripping.
// The load commands, right after the Mach-O header, say where it starts.

import (
	"bytes"
	"debug/macho"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// maxMachOCommands bounds the load commands kept.
const maxMachOCommands = 4 << 20

// machoStream follows a thin Mach-O binary's load commands through a
// symbolStream.
type machoStream struct {
	order binary.ByteOrder
	is64  bool
	cmds  *span // the load commands
	// pcln is the __gopclntab section, once the load commands are read.
	pcln *peSection
}

// newMachOStream reads the Mach-O header (in the first 64 bytes).
func newMachOStream(head []byte) (*machoStream, error) {
	m := &machoStream{order: binary.LittleEndian}
	magic := binary.LittleEndian.Uint32(head)
	if magic == bits.ReverseBytes32(macho.Magic32) || magic == bits.ReverseBytes32(macho.Magic64) {
		m.order = binary.BigEndian
		magic = bits.ReverseBytes32(magic)
	}
	hdr := int64(28)
	if magic == macho.Magic64 {
		m.is64, hdr = true, 32
	}
	size := m.order.Uint32(head[20:])
	if size == 0 || size > maxMachOCommands {
		return nil, fmt.Errorf("Mach-O: %d bytes of load commands", size)
	}
	m.cmds = &span{off: hdr, data: make([]byte, size)}
	return m, nil
}

func (m *machoStream) feed(buf []byte, base int64) error {
	m.cmds.feed(buf, base)
	if m.pcln != nil || !m.cmds.full() {
		return nil
	}
	sec, err := m.gopclntab()
	if err != nil {
		return err
	}
	m.pcln = &sec
	return nil
}

// gopclntab finds the section __gopclntab in the load commands.
func (m *machoStream) gopclntab() (peSection, error) {
	// LC_SEGMENT (1) and LC_SEGMENT_64 (0x19): the command's header,
	// then nsects section headers.
	cmd, hdrSize, secSize, nsectsAt := uint32(macho.LoadCmdSegment), 56, 68, 48
	if m.is64 {
		cmd, hdrSize, secSize, nsectsAt = uint32(macho.LoadCmdSegment64), 72, 80, 64
	}
	d := m.cmds.data
	for len(d) >= 8 {
		c, size := m.order.Uint32(d), m.order.Uint32(d[4:])
		if size < 8 || uint64(size) > uint64(len(d)) {
			return peSection{}, fmt.Errorf("Mach-O: load command of %d bytes", size)
		}
		if c == cmd && int(size) >= hdrSize {
			lc := d[:size]
			n := int(m.order.Uint32(lc[nsectsAt:]))
			for i := 0; i < n && hdrSize+(i+1)*secSize <= len(lc); i++ {
				s := lc[hdrSize+i*secSize:][:secSize]
				if name, _, _ := bytes.Cut(s[:16], []byte{0}); string(name) != "__gopclntab" {
					continue
				}
				if m.is64 {
					return peSection{off: uint64(m.order.Uint32(s[48:])), size: m.order.Uint64(s[40:])}, nil
				}
				return peSection{off: uint64(m.order.Uint32(s[40:])), size: uint64(m.order.Uint32(s[36:]))}, nil
			}
		}
		d = d[size:]
	}
	return peSection{}, errors.New("Mach-O: no __gopclntab section")
}
