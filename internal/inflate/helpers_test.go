package inflate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
)

func crc32ieee(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

// gunzipCheckingTrailers is GunzipTrailers with the caller's side of the
// contract: the CRC-32 of each member's output compared with its trailer.
func gunzipCheckingTrailers(src io.Reader, emit func([]byte) error) error {
	var crc uint32
	return GunzipTrailers(src, func(p []byte) error {
		crc = crc32.Update(crc, crc32.IEEETable, p)
		return emit(p)
	}, func(want uint32) error {
		if want != crc {
			return ErrChecksum
		}
		crc = 0
		return nil
	})
}

// gunzipBuffersCheckingTrailers is GunzipBuffers with the caller's side of
// its contracts: each member's CRC-32 checked, and next giving back the
// buffer just emitted every other time and another one otherwise. Every
// buffer but the current one is overwritten at each emit, as a caller may
// once it is done with them: a decoder still writing or reading there
// gives wrong output.
func gunzipBuffersCheckingTrailers(src io.Reader, emit func([]byte) error) error {
	pool := [][]byte{make([]byte, OutBufferLen), make([]byte, OutBufferLen)}
	cur, calls := -1, 0
	var crc uint32
	return GunzipBuffers(src, func() ([]byte, error) {
		calls++
		if cur < 0 || calls%2 == 0 {
			cur = (cur + 1) % len(pool)
		}
		return pool[cur], nil
	}, func(p []byte) error {
		for i, b := range pool {
			if i != cur {
				fill(b, 0xaa)
			}
		}
		crc = crc32.Update(crc, crc32.IEEETable, p)
		return emit(p)
	}, func(want uint32) error {
		if want != crc {
			return ErrChecksum
		}
		crc = 0
		return nil
	})
}

// appendPrefix is what gunzipAppendRoom's dst holds before the output:
// GunzipAppend must keep it and append after it.
var appendPrefix = []byte("prefix:")

// gunzipAppendRoom returns GunzipAppend adapted to collect: the stream
// read whole, inflated with z (kept across calls, as the hub keeps its
// decoders) after appendPrefix into a dst whose spare capacity is the
// size the stream's last trailer states plus extra (negative: less
// than a window, so the output leaves dst's room part way), filled with
// garbage that must not show through; a limit of 64 MiB (the fuzz
// tests' bound on the standard library's output).
func gunzipAppendRoom(z *Decoder, extra int) func(io.Reader, func([]byte) error) error {
	return func(src io.Reader, emit func([]byte) error) error {
		gz, err := io.ReadAll(src)
		if err != nil {
			return err
		}
		room := extra
		if len(gz) >= 4 {
			room += int(min(binary.LittleEndian.Uint32(gz[len(gz)-4:]), 4<<20)) // the corpus's largest output; a fuzzed trailer may say anything
		}
		dst := make([]byte, len(appendPrefix), len(appendPrefix)+max(0, room))
		copy(dst, appendPrefix)
		fill(dst[len(dst):cap(dst)], 0xaa)
		out, err := z.GunzipAppend(dst, gz, 64<<20)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(out, appendPrefix) {
			return errors.New("GunzipAppend lost dst's bytes")
		}
		return emit(out[len(appendPrefix):])
	}
}

// appendRooms are the dst shapes gunzipAppendRoom is tried with: none,
// 300 KiB less than the output or half a window more (the output leaves
// dst part way, or for its last window), exactly a window past it
// (decoded in place throughout), more.
var appendRooms = map[string]int{"no room": -1 << 30, "short of the output": -300 << 10, "half a window": OutBufferLen / 2,
	"a window": OutBufferLen, "more": OutBufferLen + 12345}

// fill sets every byte of b to v, by doubling copies: a byte loop over
// megabytes, instrumented for coverage, held the fuzz tests to a few
// inputs a second.
func fill(b []byte, v byte) {
	if len(b) == 0 {
		return
	}
	b[0] = v
	for n := 1; n < len(b); n *= 2 {
		copy(b[n:], b[:n])
	}
}
