package main

import (
	"compress/gzip"
	"io"
	"sync"
)

// gzipWriters are the load client's compressors (gzipMember), reused: a
// new BestSpeed writer allocates and clears about 1 MB of state, which
// for a delta's few KB costs more CPU than compressing it, and that CPU
// is taken from the hub on the same cores. A writer Reset writes the same
// bytes as a new one (TestGzipMemberReused).
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return zw
}}
