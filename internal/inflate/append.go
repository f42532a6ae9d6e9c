package inflate

import (
	"bytes"
	"errors"
	"fmt"
	"math"
)

// ErrLimit is wrapped by GunzipAppend's error for a stream whose output
// goes past the caller's limit.
var ErrLimit = errors.New("inflated output past the limit")

// GunzipAppend inflates the gzip stream gz as Gunzip does (one or more
// members, each one's CRC-32 and length checked, the same errors) and
// appends the output to dst, returning the extended slice. More than
// limit bytes of output stop decoding with an error wrapping ErrLimit:
// dst never grows past its length plus limit, whatever gz says.
//
// The output is decoded where it ends up: while dst has room for a
// window (OutBufferLen bytes past its output) every byte is written once,
// into dst, and the history matches read is dst's own. Without that room
// the rest is decoded in z's buffer and appended (dst then grows by
// doubling). So a caller that knows the output's size (a gzip trailer's
// ISIZE) passes a dst of that capacity plus OutBufferLen, and nothing is
// copied. The bytes of dst past its length, up to its capacity, may be
// overwritten, even when an error is returned; the slice returned with an
// error holds part of the output.
func (z *Decoder) GunzipAppend(dst, gz []byte, limit int64) ([]byte, error) {
	d := &z.d
	in, own, lit, dist, cl := d.in, d.out, d.lit, d.dist, d.cl
	if in == nil {
		in = make([]byte, inLen)
	}
	a := &appender{dst: dst, start: len(dst), limit: limit, own: own}
	*d = decoder{src: bytes.NewReader(gz), in: in, emit: a.emit, app: a, lit: lit, dist: dist, cl: cl}
	err := d.gunzip(nil)
	// Hold nothing of the caller's: out may be a window into dst.
	d.src, d.emit, d.app, d.out = nil, nil, nil, a.own
	return a.dst, err
}

// appender is the output side of GunzipAppend. Each member's window
// (the decoder's out) is dst[win:win+outLen] when dst has room for it
// (inPlace: an emit only extends dst over bytes already there), else
// z's own buffer, whose emits are appended to dst.
type appender struct {
	dst          []byte
	start        int   // len(dst) when called
	limit, total int64 // output allowed, and emitted
	win          int
	inPlace      bool
	own          []byte // allocated when first needed, kept by the Decoder
}

func (a *appender) emit(p []byte) error {
	if int64(len(p)) > a.limit-a.total {
		return fmt.Errorf("%w of %d bytes", ErrLimit, a.limit)
	}
	a.total += int64(len(p))
	if a.inPlace {
		a.dst = a.dst[:len(a.dst)+len(p)]
		return nil
	}
	if need := len(a.dst) + len(p); need > cap(a.dst) {
		// Doubled (copies add up to the output once at most), never past
		// what the limit lets the output reach.
		grown := make([]byte, len(a.dst), max(need, int(min(int64(2*cap(a.dst)), int64(a.start)+min(a.limit, math.MaxInt64-int64(a.start))))))
		copy(grown, a.dst)
		a.dst = grown
	}
	a.dst = append(a.dst, p...)
	return nil
}

// buffer is z's own window.
func (a *appender) buffer() []byte {
	if a.own == nil {
		a.own = make([]byte, outLen)
	}
	return a.own
}

// begin places a member's window (its output starts with no history).
func (a *appender) begin(d *decoder) {
	a.win = len(a.dst)
	if cap(a.dst)-a.win >= outLen {
		d.out, a.inPlace = a.dst[a.win:a.win+outLen], true
		return
	}
	d.out, a.inPlace = a.buffer(), false
}

// slide moves the window on after a flush of a full one, keeping the
// last histSize bytes of output as its history: in dst when there is
// room for the next window, else copied to the start of z's buffer.
func (a *appender) slide(d *decoder) {
	if d.w <= histSize+outSize/2 {
		return
	}
	if a.inPlace {
		if win := a.win + d.w - histSize; cap(a.dst)-win >= outLen {
			d.out, a.win, d.w = a.dst[win:win+outLen], win, histSize
			return
		}
		own := a.buffer()
		copy(own, d.out[d.w-histSize:d.w])
		d.out, a.inPlace, d.w = own, false, histSize
		return
	}
	copy(d.out, d.out[d.w-histSize:d.w])
	d.w = histSize
}
