package inflate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// ErrHeader is wrapped by errors for an invalid gzip header, and ErrChecksum
// by those for a member whose CRC-32 or length does not match its data.
var (
	ErrHeader   = errors.New("invalid gzip header")
	ErrChecksum = errors.New("gzip checksum mismatch")
)

const (
	flagText    = 1 << 0
	flagHdrCRC  = 1 << 1
	flagExtra   = 1 << 2
	flagName    = 1 << 3
	flagComment = 1 << 4
	// compress/gzip reads a name or comment into a 512-byte buffer and
	// rejects longer ones; the same bound here keeps the two in step.
	maxHeaderString = 512
)

// Gunzip decodes a gzip stream of one or more members (as compress/gzip
// does by default) from src, calling emit with the output in order; each
// slice is valid only during the call, and an error from emit stops
// decoding and is returned. Each member's CRC-32 and length are checked.
// At least one member is required; the stream must end after the last.
func Gunzip(src io.Reader, emit func([]byte) error) error {
	return gunzip(src, emit, nil)
}

// GunzipTrailers is Gunzip leaving the CRC-32 check to the caller, so that
// it can run on the goroutine that consumes the output instead of the
// decoder's (whose time is a cold image scan's critical path). After the
// last emit of each member it calls trailer with the CRC-32 the member's
// trailer declares; the caller must compare it with the CRC-32 of the bytes
// emitted since the previous call (or the start) and fail with ErrChecksum
// when they differ, as Gunzip would. Everything else, each member's length
// included, is checked here as Gunzip checks it; an error from trailer
// stops decoding and is returned.
func GunzipTrailers(src io.Reader, emit func([]byte) error, trailer func(crc uint32) error) error {
	return gunzip(src, emit, trailer)
}

// OutBufferLen is the length of the buffers GunzipBuffers decodes into.
const OutBufferLen = outLen

// GunzipBuffers is GunzipTrailers decoding straight into the caller's
// buffers, so that the output is handed over without being copied: next
// provides a buffer of OutBufferLen bytes to decode into, at the start
// and after every emit. Each emit's p is part of the current buffer,
// which then belongs to the caller, except that the decoder copies up to
// its last 32 KiB (the history) into the next buffer when next returns:
// the caller must not change an emitted buffer's bytes before that. next
// may return the buffer just emitted, or any other the caller is done
// with; an error from next stops decoding and is returned.
func GunzipBuffers(src io.Reader, next func() ([]byte, error), emit func(p []byte) error, trailer func(crc uint32) error) error {
	return gunzipWith(src, next, emit, trailer)
}

// gunzip checks each member's CRC-32 itself when trailer is nil.
func gunzip(src io.Reader, emit func([]byte) error, trailer func(crc uint32) error) error {
	return gunzipWith(src, nil, emit, trailer)
}

func gunzipWith(src io.Reader, next func() ([]byte, error), emit func([]byte) error, trailer func(crc uint32) error) error {
	var d *decoder
	if next == nil {
		d = newDecoder(src, emit)
	} else {
		buf, err := next()
		if err != nil {
			return err
		}
		if len(buf) != outLen {
			return fmt.Errorf("inflate: output buffer of %d bytes, want %d", len(buf), outLen)
		}
		d = &decoder{src: src, in: make([]byte, inLen), out: buf, emit: emit, next: next}
	}
	return d.gunzip(trailer)
}

// gunzip decodes the members of a gzip stream with d, whose source,
// buffers and emit are set; it checks each member's CRC-32 itself when
// trailer is nil.
func (d *decoder) gunzip(trailer func(crc uint32) error) error {
	emit := d.emit
	crc, size := uint32(0), uint32(0)
	d.emit = func(p []byte) error {
		if trailer == nil {
			crc = crc32.Update(crc, crc32.IEEETable, p)
		}
		size += uint32(len(p))
		return emit(p)
	}
	for member := 0; ; member++ {
		if member > 0 {
			// More members only if there are more bytes.
			if d.pos == d.end && !d.fill() {
				return d.srcErr
			}
		}
		if err := d.header(); err != nil {
			if member == 0 && err == io.ErrUnexpectedEOF && d.base+int64(d.pos) == 0 {
				return io.EOF // empty input, as compress/gzip reports it
			}
			return err
		}
		crc, size = 0, 0
		d.w, d.flushed = 0, 0
		if d.app != nil {
			d.app.begin(d)
		}
		if err := d.inflate(); err != nil {
			return err
		}
		if err := d.flush(); err != nil {
			return err
		}
		if err := d.align(); err != nil {
			return err
		}
		var t [8]byte
		if err := d.readBytes(t[:]); err != nil {
			return err
		}
		want := binary.LittleEndian.Uint32(t[:])
		if (trailer == nil && want != crc) || binary.LittleEndian.Uint32(t[4:]) != size {
			return fmt.Errorf("%w: member %d", ErrChecksum, member+1)
		}
		if trailer != nil {
			if err := trailer(want); err != nil {
				return err
			}
		}
	}
}

// header reads a gzip member header at a byte boundary.
func (d *decoder) header() error {
	var h [10]byte
	if err := d.readBytes(h[:]); err != nil {
		return err
	}
	if h[0] != 0x1f || h[1] != 0x8b || h[2] != 8 {
		return fmt.Errorf("%w: bad magic or method", ErrHeader)
	}
	flg := h[3]
	if flg&^(flagText|flagHdrCRC|flagExtra|flagName|flagComment) != 0 {
		return fmt.Errorf("%w: reserved flags", ErrHeader)
	}
	crc := crc32.Update(0, crc32.IEEETable, h[:])
	if flg&flagExtra != 0 {
		var x [2]byte
		if err := d.readBytes(x[:]); err != nil {
			return err
		}
		crc = crc32.Update(crc, crc32.IEEETable, x[:])
		extra := make([]byte, binary.LittleEndian.Uint16(x[:]))
		if err := d.readBytes(extra); err != nil {
			return err
		}
		crc = crc32.Update(crc, crc32.IEEETable, extra)
	}
	for _, f := range []byte{flagName, flagComment} {
		if flg&f == 0 {
			continue
		}
		var b [1]byte
		for i := 0; ; i++ {
			if i >= maxHeaderString {
				return fmt.Errorf("%w: name or comment longer than %d bytes", ErrHeader, maxHeaderString)
			}
			if err := d.readBytes(b[:]); err != nil {
				return err
			}
			crc = crc32.Update(crc, crc32.IEEETable, b[:])
			if b[0] == 0 {
				break
			}
		}
	}
	if flg&flagHdrCRC != 0 {
		var x [2]byte
		if err := d.readBytes(x[:]); err != nil {
			return err
		}
		if binary.LittleEndian.Uint16(x[:]) != uint16(crc) {
			return fmt.Errorf("%w: header checksum", ErrHeader)
		}
	}
	return nil
}
