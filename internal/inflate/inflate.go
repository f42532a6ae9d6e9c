// Package inflate decodes DEFLATE (RFC 1951) and gzip (RFC 1952) streams,
// pushing the output to a callback instead of being pulled through
// io.Reader.
//
// It exists for speed: a cold image scan is mostly the inflation of one
// large gzip layer, and the standard library's and klauspost/compress's
// decoders refill their bit buffer a byte at a time and copy every byte
// out of a 32 KiB window. This decoder loads eight input bytes at a time
// into a 64-bit buffer, decodes through 10-bit (literal/length) and 8-bit
// (distance) primary tables, writes into a flat output buffer with
// word-sized match copies, and hands the caller large slices of it. Being
// push-style (one call decodes the whole stream, the callback may block),
// it needs no resumable state machine.
//
// Its contract is the standard library's: the same bytes for every valid
// stream, and an error for every stream compress/flate or compress/gzip
// rejects (FuzzInflateMatchesStdlib and FuzzGunzipMatchesStdlib check both).
// Memory is fixed: about 600 KiB of buffers and tables per call, whatever
// the input.
package inflate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// ErrCorrupt is wrapped by every error for input that is not a valid
// stream; the message gives the compressed byte offset.
var ErrCorrupt = errors.New("corrupt deflate stream")

const (
	histSize = 32 << 10  // the largest distance DEFLATE allows
	outSize  = 256 << 10 // output emitted per callback, at most
	// slack after the output limit: a match writes at most 258 bytes and
	// its word copy may run up to 15 past them.
	slack = 258 + 16
	// outMask and inMask bound the hot loop's positions for the compiler
	// (see huffman); the buffers are outLen and inLen long, 8 bytes past
	// the masks so that a word loaded or stored at a masked position is
	// in bounds too.
	outMask = 1<<19 - 1
	outLen  = outMask + 1 + 8
	inSize  = 64 << 10 // input read at a time
	inMask  = inSize - 1
	inLen   = inSize + 8
)

// The masks must never change a position: the output stays below the
// limit plus the slack (this constant does not compile otherwise).
const _ = uint(outMask - (histSize + outSize + slack))

const (
	// primaryBits indexes every primary table (literal/length, distance,
	// code length): one constant size lets the hot loop index them
	// through array pointers, without bounds checks.
	primaryBits = 10
	litBits     = primaryBits
	distBits    = primaryBits
	maxCode     = 15 // longest code DEFLATE allows
)

// A table entry packs one decoding step:
//
//	bits 0-7   code bits to consume
//	bits 8-11  extra bits that follow (length, distance) or, for a
//	           subtable link, the subtable's index bits
//	bits 12-14 kind
//	bits 16-31 value: literal byte, length or distance base, subtable start
type entry uint32

const (
	kindInvalid entry = iota << 12
	kindLiteral
	kindLength
	kindEnd
	kindLink
	kindDist
	kindMask entry = 7 << 12
)

func (e entry) n() uint     { return uint(e & 0xff) }
func (e entry) extra() uint { return uint(e>>8) & 0xf }
func (e entry) kind() entry { return e & kindMask }
func (e entry) value() int  { return int(e >> 16) }
func mkEntry(n, extra uint, kind entry, value int) entry {
	return entry(n) | entry(extra)<<8 | kind | entry(value)<<16
}

var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	clOrder     = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

// table is a canonical Huffman decoding table: a primary table indexed by
// the next `bits` input bits, then subtables for longer codes.
type table struct {
	e    []entry
	bits uint
}

// build fills t for the code lengths of symbols 0..len(lengths)-1;
// sym maps a symbol to its entry (code bits filled in here). It accepts
// what compress/flate accepts: a complete code, a single code of length
// one, or no code at all (using a missing code is an error when met).
func (t *table) build(lengths []uint8, primary uint, sym func(int) entry) bool {
	var count [maxCode + 1]int
	maxLen := uint(0)
	for _, l := range lengths {
		if l != 0 {
			count[l]++
			maxLen = max(maxLen, uint(l))
		}
	}
	t.bits = primary
	size := 1 << primary
	// Codes no longer than fill bits are written into the first 1<<fill
	// entries only, which are then copied up to the primary table's
	// size: an entry ~1 KB long has short distance and code-length
	// codes, and writing every one of the 1<<primary entries of its
	// three tables was most of the cost of a block header.
	fill := 1 << min(primary, maxLen)
	t.e = t.e[:0]
	if cap(t.e) < size {
		t.e = make([]entry, size, size+64<<5)
	} else {
		t.e = t.e[:size]
		clear(t.e[:fill]) // stale links would be followed; the rest is copied over
	}
	if maxLen == 0 {
		clear(t.e)
		return true
	}
	code := 0
	var next [maxCode + 2]int
	for l := 1; l <= int(maxLen); l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	if total := next[maxLen] + count[maxLen]; total != 1<<maxLen && !(total == 1 && maxLen == 1) {
		return false
	}
	// Codes are assigned in symbol order within each length (canonical);
	// the table is indexed by the code's bits reversed (DEFLATE sends
	// codes most significant bit first into an LSB-first stream).
	for s, l8 := range lengths {
		l := uint(l8)
		if l == 0 {
			continue
		}
		c := next[l]
		next[l]++
		rev := int(bits.Reverse16(uint16(c)) >> (16 - l))
		e := sym(s)
		if l <= primary {
			e |= entry(l)
			for i := rev; i < fill; i += 1 << l {
				t.e[i] = e
			}
			continue
		}
		// Long code: a subtable of (maxLen - primary) bits under the
		// primary slot of its low bits.
		sub := maxLen - primary
		slot := rev & (size - 1)
		link := t.e[slot]
		if link.kind() != kindLink {
			start := len(t.e)
			t.e = append(t.e, make([]entry, 1<<sub)...)
			link = mkEntry(primary, sub, kindLink, start)
			t.e[slot] = link
		}
		e |= entry(l)
		hi := rev >> primary
		for i := hi; i < 1<<sub; i += 1 << (l - primary) {
			t.e[link.value()+i] = e
		}
	}
	// The low fill bits select the entry of every code no longer than
	// fill (all of them here, when fill < size), whatever the higher bits.
	for n := fill; n < size; n *= 2 {
		copy(t.e[n:2*n], t.e[:n])
	}
	return true
}

func litSym(s int) entry {
	switch {
	case s < 256:
		return mkEntry(0, 0, kindLiteral, s)
	case s == 256:
		return mkEntry(0, 0, kindEnd, 0)
	case s < 286:
		return mkEntry(0, uint(lengthExtra[s-257]), kindLength, int(lengthBase[s-257]))
	}
	return kindInvalid // 286, 287: in the fixed code, never valid
}

func distSym(s int) entry {
	if s < 30 {
		return mkEntry(0, uint(distExtra[s]), kindDist, int(distBase[s]))
	}
	return kindInvalid
}

func clSym(s int) entry { return mkEntry(0, 0, kindLiteral, s) }

var fixedLit, fixedDist table

func init() {
	var l [288]uint8
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	fixedLit.build(l[:], litBits, litSym)
	var d [32]uint8
	for i := range d {
		d[i] = 5
	}
	fixedDist.build(d[:], distBits, distSym)
}

// decoder is the state of one Inflate or Gunzip call.
type decoder struct {
	src    io.Reader
	srcErr error // first error of src other than io.EOF
	eof    bool
	in     []byte
	pos    int
	end    int
	base   int64 // input offset of in[0]
	// bits holds nb valid input bits, least significant first. Past the
	// end of the input it is padded with zero bytes, counted in pad: a
	// stream that uses them is truncated.
	bits uint64
	nb   uint
	pad  uint

	out     []byte
	w       int // next output byte
	flushed int // out[flushed:w] is not yet emitted
	emit    func([]byte) error
	// next, when set, provides the buffer to go on in after each emit
	// (GunzipBuffers): the emitted one is the caller's.
	next func() ([]byte, error)
	// app, when set, appends the output to a caller's slice
	// (Decoder.GunzipAppend).
	app *appender

	lit, dist, cl table
	lens          [288 + 32]uint8
}

func newDecoder(src io.Reader, emit func([]byte) error) *decoder {
	return &decoder{
		src:  src,
		in:   make([]byte, inLen),
		out:  make([]byte, outLen),
		emit: emit,
	}
}

// Inflate decodes one raw DEFLATE stream from src, calling emit with its
// output in order (each slice valid only during the call; an error from
// emit stops decoding and is returned). It reads src in large chunks, so
// it may read past the end of the stream.
func Inflate(src io.Reader, emit func([]byte) error) error {
	d := newDecoder(src, emit)
	if err := d.inflate(); err != nil {
		return err
	}
	return d.flush()
}

// A Decoder inflates raw DEFLATE streams one after another with the
// same buffers and tables, for many small streams (the entries of a zip
// archive) where Inflate's allocation of about 600 KiB per call would
// cost more than the decoding. The zero value is ready for use; a
// Decoder is not safe for concurrent use.
type Decoder struct{ d decoder }

// Inflate is the package's Inflate with z's buffers: the same output and
// errors for every stream.
func (z *Decoder) Inflate(src io.Reader, emit func([]byte) error) error {
	d := &z.d
	in, out, lit, dist, cl := d.in, d.out, d.lit, d.dist, d.cl
	if in == nil {
		in = make([]byte, inLen)
	}
	if out == nil {
		out = make([]byte, outLen) // none yet, or GunzipAppend needed none
	}
	// Every field but the buffers and the tables' storage starts over;
	// build clears a table before filling it.
	*d = decoder{src: src, in: in, out: out, emit: emit, lit: lit, dist: dist, cl: cl}
	err := d.inflate()
	if err == nil {
		err = d.flush()
	}
	d.src, d.emit = nil, nil // hold nothing of the caller's
	return err
}

func (d *decoder) offset() int64 { return d.base + int64(d.pos) - int64(d.nb/8) + int64(d.pad) }

func (d *decoder) corrupt(msg string) error {
	if d.srcErr != nil {
		return d.srcErr
	}
	if d.pad > 8 || (d.eof && d.pad > 0 && d.nb < 8*d.pad) {
		return io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w at byte %d: %s", ErrCorrupt, d.offset(), msg)
}

// fill reads more input, keeping the 8 bytes before pos (the bit buffer
// may have to give them back, see align). It returns false at the end of
// input.
func (d *decoder) fill() bool {
	if d.eof {
		return false
	}
	keep := min(d.pos, 8)
	n := copy(d.in, d.in[d.pos-keep:d.end])
	d.base += int64(d.pos - keep)
	d.pos, d.end = keep, n
	for d.end-d.pos < 8 && !d.eof {
		m, err := d.src.Read(d.in[d.end:inSize])
		d.end += m
		if err != nil {
			d.eof = true
			if err != io.EOF {
				d.srcErr = err
			}
		}
	}
	return d.end > d.pos
}

// refill makes nb ≥ 56, padding with zeros past the end of input.
func (d *decoder) refill() {
	if d.end-d.pos < 8 {
		d.fill()
	}
	if d.end-d.pos >= 8 {
		d.bits |= binary.LittleEndian.Uint64(d.in[d.pos:]) << d.nb
		k := (63 - d.nb) >> 3
		d.pos += int(k)
		d.nb += k * 8
		return
	}
	for d.nb <= 56 {
		if d.pos < d.end {
			d.bits |= uint64(d.in[d.pos]) << d.nb
			d.pos++
		} else {
			d.pad++
		}
		d.nb += 8
	}
}

// truncated reports whether decoding has used padding bits.
func (d *decoder) truncated() bool { return d.nb < 8*d.pad }

func (d *decoder) getBits(n uint) uint32 {
	if d.nb < n {
		d.refill()
	}
	v := uint32(d.bits & (1<<n - 1))
	d.bits >>= n
	d.nb -= n
	return v
}

// align drops the bits up to the next byte boundary and gives the whole
// bytes left in the bit buffer back to the input.
func (d *decoder) align() error {
	d.nb -= d.nb % 8
	real := int(d.nb/8) - int(d.pad)
	if real < 0 {
		return io.ErrUnexpectedEOF
	}
	d.pos -= real
	d.bits, d.nb, d.pad = 0, 0, 0
	return nil
}

// readBytes reads len(p) bytes at a byte boundary (after align).
func (d *decoder) readBytes(p []byte) error {
	for len(p) > 0 {
		if d.pos == d.end && !d.fill() {
			if d.srcErr != nil {
				return d.srcErr
			}
			return io.ErrUnexpectedEOF
		}
		n := copy(p, d.in[d.pos:d.end])
		d.pos += n
		p = p[n:]
	}
	return nil
}

// flush emits the pending output and, when the buffer is full, slides the
// last 32 KiB down as the history of what follows.
func (d *decoder) flush() error {
	if d.w > d.flushed {
		if err := d.emit(d.out[d.flushed:d.w]); err != nil {
			return err
		}
		if d.next != nil {
			// The emitted buffer is the caller's now: go on in the next
			// one, its history (the last 32 KiB at most) copied to its
			// start. The next buffer may be the one just emitted.
			buf, err := d.next()
			if err != nil {
				return err
			}
			if len(buf) != outLen {
				return fmt.Errorf("inflate: output buffer of %d bytes, want %d", len(buf), outLen)
			}
			h := min(d.w, histSize)
			copy(buf, d.out[d.w-h:d.w])
			d.out, d.w, d.flushed = buf, h, h
			return nil
		}
	}
	if d.app != nil {
		d.app.slide(d)
		d.flushed = d.w
		return nil
	}
	if d.w > histSize+outSize/2 {
		copy(d.out, d.out[d.w-histSize:d.w])
		d.w = histSize
	}
	d.flushed = d.w
	return nil
}

// inflate decodes blocks until the final one.
func (d *decoder) inflate() error {
	for {
		final := d.getBits(1)
		typ := d.getBits(2)
		if d.truncated() {
			return d.corrupt("truncated block header")
		}
		var err error
		switch typ {
		case 0:
			err = d.stored()
		case 1:
			err = d.huffman(&fixedLit, &fixedDist)
		case 2:
			if err = d.dynamic(); err == nil {
				err = d.huffman(&d.lit, &d.dist)
			}
		default:
			err = d.corrupt("invalid block type")
		}
		if err != nil {
			return err
		}
		if final == 1 {
			return nil
		}
	}
}

func (d *decoder) stored() error {
	if err := d.align(); err != nil {
		return err
	}
	var h [4]byte
	if err := d.readBytes(h[:]); err != nil {
		return err
	}
	n := int(binary.LittleEndian.Uint16(h[:]))
	if uint16(n) != ^binary.LittleEndian.Uint16(h[2:]) {
		return d.corrupt("stored block length check")
	}
	for n > 0 {
		if d.w >= histSize+outSize {
			if err := d.flush(); err != nil {
				return err
			}
		}
		k := min(n, histSize+outSize-d.w)
		if err := d.readBytes(d.out[d.w : d.w+k]); err != nil {
			return err
		}
		d.w += k
		n -= k
	}
	return nil
}

// dynamic reads a dynamic block's code lengths into d.lit and d.dist.
func (d *decoder) dynamic() error {
	nlit := int(d.getBits(5)) + 257
	ndist := int(d.getBits(5)) + 1
	ncl := int(d.getBits(4)) + 4
	if nlit > 286 || ndist > 30 {
		return d.corrupt("too many length or distance codes")
	}
	var cl [19]uint8
	for i := 0; i < ncl; i++ {
		cl[clOrder[i]] = uint8(d.getBits(3))
	}
	if d.truncated() {
		return d.corrupt("truncated block header")
	}
	if !d.cl.build(cl[:], primaryBits, clSym) {
		return d.corrupt("invalid code length code")
	}
	lens := d.lens[:nlit+ndist]
	for i := 0; i < len(lens); {
		if d.nb < 16 {
			d.refill()
		}
		e := d.cl.e[d.bits&(1<<primaryBits-1)]
		if e.kind() == kindInvalid {
			return d.corrupt("invalid code length")
		}
		d.bits >>= e.n()
		d.nb -= e.n()
		s := e.value()
		if s < 16 {
			lens[i] = uint8(s)
			i++
			continue
		}
		var rep int
		var v uint8
		switch s {
		case 16:
			if i == 0 {
				return d.corrupt("repeat with no previous length")
			}
			rep, v = 3+int(d.getBits(2)), lens[i-1]
		case 17:
			rep = 3 + int(d.getBits(3))
		default:
			rep = 11 + int(d.getBits(7))
		}
		if i+rep > len(lens) {
			return d.corrupt("code lengths past the end")
		}
		for ; rep > 0; rep-- {
			lens[i] = v
			i++
		}
	}
	if d.truncated() {
		return d.corrupt("truncated code lengths")
	}
	if !d.lit.build(lens[:nlit], litBits, litSym) || !d.dist.build(lens[nlit:], distBits, distSym) {
		return d.corrupt("invalid Huffman code")
	}
	return nil
}

// huffman decodes one block's symbols. The hot loop keeps the bit buffer,
// the input position and the output position in locals, and refills only
// when fewer than 48 bits remain: enough for a literal/length code, its
// extra bits, a distance code and its extra bits. Near the end of the
// input or of the output buffer it goes through the decoder's slow paths.
//
// The output and input buffers are indexed through array pointers with
// masked positions, which the compiler proves in bounds: w stays below
// histSize+outSize+slack and pos below inSize, so the masks
// never change a position, they only spare a bounds check per byte.
func (d *decoder) huffman(lt, dt *table) error {
	lit, dist := lt.e, dt.e
	litP, distP := (*[1 << primaryBits]entry)(lit), (*[1 << primaryBits]entry)(dist)
	const mask, shift = 1<<primaryBits - 1, primaryBits
	out := (*[outLen]byte)(d.out)
	in := (*[inLen]byte)(d.in)
	limit := histSize + outSize
	bits, nb, w, pos, end := d.bits, d.nb, d.w, d.pos, d.end
	// Around a slow path the locals go to the decoder ("sync") and back
	// ("load"); written out, as closures would keep them in memory.
	for {
		if w >= limit {
			d.bits, d.nb, d.w, d.pos = bits, nb, w, pos // sync
			if err := d.flush(); err != nil {
				return err
			}
			bits, nb, w, pos, end = d.bits, d.nb, d.w, d.pos, d.end // load
			out = (*[outLen]byte)(d.out)
		}
		if nb < 48 {
			if pos+8 <= end {
				bits |= binary.LittleEndian.Uint64(in[pos&inMask:]) << nb
				k := (63 - nb) >> 3
				pos += int(k)
				nb += k * 8
			} else {
				d.bits, d.nb, d.w, d.pos = bits, nb, w, pos // sync
				d.refill()
				if d.pad > 8 {
					return d.corrupt("truncated")
				}
				bits, nb, w, pos, end = d.bits, d.nb, d.w, d.pos, d.end // load
			}
		}
		e := litP[bits&mask]
	decode:
		if e.kind() == kindLiteral {
			// Literals come in runs: up to three per refill (3 × 15 ≤ 48).
			n := e.n()
			bits >>= n
			nb -= n
			out[w&outMask] = byte(e.value())
			w++
			e = litP[bits&mask]
			if e.kind() != kindLiteral {
				continue
			}
			n = e.n()
			bits >>= n
			nb -= n
			out[w&outMask] = byte(e.value())
			w++
			e = litP[bits&mask]
			if e.kind() != kindLiteral {
				continue
			}
			n = e.n()
			bits >>= n
			nb -= n
			out[w&outMask] = byte(e.value())
			w++
			continue
		}
		if e.kind() == kindLink {
			e = lit[e.value()+int((bits>>shift)&(1<<e.extra()-1))]
			if e.kind() == kindLiteral {
				n := e.n()
				bits >>= n
				nb -= n
				out[w&outMask] = byte(e.value())
				w++
				continue
			}
		}
		if e.kind() != kindLength {
			d.bits, d.nb, d.w, d.pos = bits, nb, w, pos // sync
			if e.kind() == kindEnd {
				n := e.n()
				d.bits, d.nb = bits>>n, nb-n
				if d.truncated() {
					return d.corrupt("truncated")
				}
				return nil
			}
			return d.corrupt("invalid literal/length code")
		}
		// A code and its extra bits are dropped with one shift, the extra
		// bits read beside it (off the bit buffer's dependency chain).
		n, x := e.n(), e.extra()
		length := e.value() + int((bits>>n)&(1<<x-1))
		bits >>= n + x
		nb -= n + x
		de := distP[bits&mask]
		if de.kind() == kindLink {
			de = dist[de.value()+int((bits>>shift)&(1<<de.extra()-1))]
		}
		if de.kind() != kindDist {
			d.bits, d.nb, d.w, d.pos = bits, nb, w, pos // sync
			return d.corrupt("invalid distance code")
		}
		n, x = de.n(), de.extra()
		dst := de.value() + int((bits>>n)&(1<<x-1))
		bits >>= n + x
		nb -= n + x
		if dst > w {
			d.bits, d.nb, d.w, d.pos = bits, nb, w, pos // sync
			return d.corrupt("distance too far back")
		}
		src := w - dst
		// The next code is looked up before the copy, whose loop ends in
		// a mispredicted branch that the lookup need not wait for. The
		// bits left cover a whole length and distance (48 bits) unless
		// the input is nearly used up; then the loop's top refills and
		// looks up again, as it does when the output must be flushed.
		if nb < 48 && pos+8 <= end {
			bits |= binary.LittleEndian.Uint64(in[pos&inMask:]) << nb
			k := (63 - nb) >> 3
			pos += int(k)
			nb += k * 8
		}
		next := litP[bits&mask]
		switch {
		case dst >= 8:
			// Two words first (most matches are short), then the rest;
			// a copy may run up to 15 bytes past the match (slack).
			binary.LittleEndian.PutUint64(out[w&outMask:], binary.LittleEndian.Uint64(out[src&outMask:]))
			binary.LittleEndian.PutUint64(out[(w+8)&outMask:], binary.LittleEndian.Uint64(out[(src+8)&outMask:]))
			for i := 16; i < length; i += 8 {
				binary.LittleEndian.PutUint64(out[(w+i)&outMask:], binary.LittleEndian.Uint64(out[(src+i)&outMask:]))
			}
		case dst == 1:
			// A run of one byte, a word at a time.
			b := uint64(out[src&outMask]) * 0x0101010101010101
			for i := 0; i < length; i += 8 {
				binary.LittleEndian.PutUint64(out[(w+i)&outMask:], b)
			}
		default:
			for i := range length {
				out[(w+i)&outMask] = out[(src+i)&outMask]
			}
		}
		w += length
		if nb < 48 || w >= limit {
			continue
		}
		e = next
		goto decode
	}
}
