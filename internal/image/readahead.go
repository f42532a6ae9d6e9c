package image

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/palisade-sec/palisade/internal/inflate"
)

// readAhead decompresses on its own goroutine, a few chunks ahead of the
// reader, so that decompression (most of a scan's CPU on one big gzip
// layer) overlaps with parsing the tar stream and feeding the catalogers on
// a second core. At most chunks×chunkSize bytes are buffered.
type readAhead struct {
	ch   chan chunk
	free chan []byte
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	// buf is the chunk being read, cur its unread part.
	buf, cur []byte
	err      error
	errc     chan error
	// crc is the CRC-32 of the bytes read or skipped since the last
	// checksum mark (see check); sum says whether to compute it.
	crc uint32
	sum bool
}

// chunk is a run of the stream's bytes, or, with mark, the CRC-32 that the
// bytes since the previous mark must have (a gzip member's trailer):
// checking it on the reading goroutine keeps it off the decompressor's.
type chunk struct {
	b    []byte
	crc  uint32
	mark bool
}

const (
	readAheadChunks    = 4
	readAheadChunkSize = 256 << 10
)

// newReadAhead reads r on its own goroutine, straight into the chunks
// (one Read per chunk, so a slow source hands on what it has), at most
// chunks+1 chunks ahead of the reader: a layer's compressed bytes are read
// this way, so that the read system calls and the copies out of the page
// cache are off the decompressor's goroutine, whose time is a cold scan's
// critical path.
func newReadAhead(r io.Reader, chunks int) *readAhead {
	ra := newReadAheadBuffers(false, chunks)
	ra.wg.Add(1)
	go ra.prefetch(r)
	return ra
}

func newReadAheadBuffers(sum bool, chunks int) *readAhead {
	ra := &readAhead{
		ch:   make(chan chunk, chunks),
		free: make(chan []byte, chunks+1),
		done: make(chan struct{}),
		errc: make(chan error, 1),
		sum:  sum,
	}
	for range chunks + 1 {
		ra.free <- make([]byte, readAheadChunkSize)
	}
	return ra
}

func (ra *readAhead) prefetch(r io.Reader) {
	defer ra.wg.Done()
	defer close(ra.ch)
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.done:
			return
		}
		n, err := r.Read(buf[:cap(buf)])
		if n > 0 {
			select {
			case ra.ch <- chunk{b: buf[:n]}:
			case <-ra.done:
				return
			}
		} else {
			ra.free <- buf
		}
		if err != nil {
			ra.errc <- err
			return
		}
	}
}

// newReadAheadFunc runs produce on its own goroutine; produce pushes the
// stream's bytes through emit (which may block, and returns errStopped
// once Close was called) and returns io.EOF or nil at a clean end, or the
// stream's error. With sum, produce calls check with the CRC-32 the bytes
// since its previous call must have (gzip.GunzipTrailers' trailer), and
// Read fails with inflate.ErrChecksum where they do not.
func newReadAheadFunc(sum bool, produce func(emit func([]byte) error, check func(crc uint32) error) error) *readAhead {
	ra := newReadAheadBuffers(sum, readAheadChunks)
	ra.wg.Add(1)
	go ra.fill(produce)
	return ra
}

// errStopped ends a producer after Close.
var errStopped = errors.New("read-ahead closed")

func (ra *readAhead) fill(produce func(emit func([]byte) error, check func(crc uint32) error) error) {
	defer ra.wg.Done()
	defer close(ra.ch)
	var cur []byte // the chunk being filled
	sendChunk := func(c chunk) error {
		select {
		case ra.ch <- c:
			return nil
		case <-ra.done:
			return errStopped
		}
	}
	send := func() error {
		err := sendChunk(chunk{b: cur})
		if err == nil {
			cur = nil
		}
		return err
	}
	check := func(crc uint32) error {
		if len(cur) > 0 {
			if err := send(); err != nil {
				return err
			}
		}
		return sendChunk(chunk{crc: crc, mark: true})
	}
	emit := func(p []byte) error {
		for len(p) > 0 {
			if cur == nil {
				select {
				case cur = <-ra.free:
					cur = cur[:0]
				case <-ra.done:
					return errStopped
				}
			}
			n := copy(cur[len(cur):cap(cur)], p)
			cur, p = cur[:len(cur)+n], p[n:]
			if len(cur) == cap(cur) {
				if err := send(); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err := produce(emit, check)
	if err == errStopped {
		return
	}
	if len(cur) > 0 && send() != nil {
		return
	}
	if err == nil {
		err = io.EOF
	}
	ra.errc <- err
}

// Read returns decompressed bytes in order, then the decompressor's error
// (io.EOF at a clean end).
func (ra *readAhead) Read(p []byte) (int, error) {
	for len(ra.cur) == 0 {
		if !ra.next() {
			return 0, ra.err
		}
	}
	n := copy(p, ra.cur)
	if ra.sum {
		ra.crc = crc32.Update(ra.crc, crc32.IEEETable, ra.cur[:n])
	}
	ra.cur = ra.cur[n:]
	return n, nil
}

// skip drops up to n bytes without copying them and returns how many it
// dropped: fewer only at the end of the stream or at its error, which the
// next Read returns.
func (ra *readAhead) skip(n int64) int64 {
	var done int64
	for done < n {
		if len(ra.cur) == 0 && !ra.next() {
			break
		}
		k := int(min(int64(len(ra.cur)), n-done))
		if ra.sum {
			ra.crc = crc32.Update(ra.crc, crc32.IEEETable, ra.cur[:k])
		}
		ra.cur = ra.cur[k:]
		done += int64(k)
	}
	return done
}

// next gives the current chunk back and makes the next one current,
// checking the checksum marks on the way; it returns false at the end of
// the stream or at a checksum mismatch (ra.err is then set).
func (ra *readAhead) next() bool {
	if ra.err != nil {
		return false
	}
	if ra.buf != nil {
		ra.free <- ra.buf[:cap(ra.buf)]
		ra.buf = nil
	}
	for {
		c, ok := <-ra.ch
		if !ok {
			ra.err = <-ra.errc
			return false
		}
		if !c.mark {
			ra.buf, ra.cur = c.b, c.b
			return true
		}
		if c.crc != ra.crc {
			ra.err = fmt.Errorf("gzip: %w", inflate.ErrChecksum)
			return false
		}
		ra.crc = 0
	}
}

// Close stops the goroutine and waits for it, so the decompressor under
// it can be closed safely afterwards; reading after Close is not allowed.
func (ra *readAhead) Close() error {
	ra.once.Do(func() { close(ra.done) })
	ra.wg.Wait()
	return nil
}
