package inflate

import "hash/crc32"

func crc32ieee(b []byte) uint32 { return crc32.ChecksumIEEE(b) }
