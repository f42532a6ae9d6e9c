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
