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
	// full is the buffer of the chunk being read (given back to the
	// producer after it), cur the chunk's unread part.
	full, cur []byte
	err       error
	errc      chan error
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
	full []byte // the buffer b is part of
	crc  uint32
	mark bool
}

const (
	readAheadChunks    = 4
	readAheadChunkSize = 256 << 10
)

// newReadAhead reads r on its own goroutine, straight into the buffers
// (one Read per buffer, so a slow source hands on what it has), at most
// chunks+1 buffers of readAheadChunkSize ahead of the reader: a layer's
// compressed bytes are read this way, so that the read system calls and
// the copies out of the page cache are off the decompressor's goroutine,
// whose time is a cold scan's critical path.
func newReadAhead(r io.Reader, chunks int) *readAhead {
	return newReadAheadFunc(false, chunks, readAheadChunkSize, func(next func() ([]byte, error), emit func([]byte) error, _ func(uint32) error) error {
		for {
			buf, err := next()
			if err != nil {
				return err
			}
			n, err := r.Read(buf)
			if n > 0 {
				if err := emit(buf[:n]); err != nil {
					return err
				}
			}
			if err != nil {
				return err
			}
		}
	})
}

// newInflateAhead inflates a gzip stream on its own goroutine, straight
// into the read-ahead's buffers (inflate.GunzipBuffers: the output is
// handed over without a copy), checking each member's CRC-32 on the
// reader's goroutine.
func newInflateAhead(src io.Reader) *readAhead {
	return newReadAheadFunc(true, readAheadChunks, inflate.OutBufferLen, func(next func() ([]byte, error), emit func([]byte) error, check func(uint32) error) error {
		err := inflate.GunzipBuffers(src, next, emit, check)
		if err != nil && err != errStopped {
			err = fmt.Errorf("gzip: %w", err)
		}
		return err
	})
}

// newReadAheadFunc runs produce on its own goroutine with chunks+1
// buffers of bufLen bytes. produce gets a buffer from next (the same one
// again until it has emitted part of it), hands part of it to the reader
// with emit, which gives the buffer up (both may block, and return
// errStopped once Close was called), and returns io.EOF or nil at a clean
// end, or the stream's error. With sum, produce calls check with the
// CRC-32 the bytes since its previous call must have (a gzip member's
// trailer), and Read fails with inflate.ErrChecksum where they do not.
func newReadAheadFunc(sum bool, chunks, bufLen int, produce func(next func() ([]byte, error), emit func([]byte) error, check func(crc uint32) error) error) *readAhead {
	ra := &readAhead{
		ch:   make(chan chunk, chunks),
		free: make(chan []byte, chunks+1),
		done: make(chan struct{}),
		errc: make(chan error, 1),
		sum:  sum,
	}
	for range chunks + 1 {
		ra.free <- make([]byte, bufLen)
	}
	ra.wg.Add(1)
	go ra.fill(produce)
	return ra
}

// errStopped ends a producer after Close.
var errStopped = errors.New("read-ahead closed")

// errNoBuffer is a producer's emit without a buffer from next.
var errNoBuffer = errors.New("read-ahead: emit without a buffer")

func (ra *readAhead) fill(produce func(next func() ([]byte, error), emit func([]byte) error, check func(crc uint32) error) error) {
	defer ra.wg.Done()
	defer close(ra.ch)
	var cur []byte // the producer's buffer
	send := func(c chunk) error {
		select {
		case ra.ch <- c:
			return nil
		case <-ra.done:
			return errStopped
		}
	}
	next := func() ([]byte, error) {
		if cur == nil {
			select {
			case cur = <-ra.free:
			case <-ra.done:
				return nil, errStopped
			}
		}
		return cur, nil
	}
	emit := func(p []byte) error {
		if cur == nil {
			return errNoBuffer
		}
		if len(p) == 0 {
			return nil
		}
		if err := send(chunk{b: p, full: cur}); err != nil {
			return err
		}
		cur = nil
		return nil
	}
	check := func(crc uint32) error { return send(chunk{crc: crc, mark: true}) }
	err := produce(next, emit, check)
	if err == errStopped {
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
	if ra.full != nil {
		ra.free <- ra.full
		ra.full = nil
	}
	for {
		c, ok := <-ra.ch
		if !ok {
			ra.err = <-ra.errc
			return false
		}
		if !c.mark {
			ra.full, ra.cur = c.full, c.b
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
