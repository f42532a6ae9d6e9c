package inflate

import (
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
				for j := range b {
					b[j] = 0xaa
				}
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
