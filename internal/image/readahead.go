package image

import (
	"io"
	"sync"
)

// readAhead decompresses on its own goroutine, a few chunks ahead of the
// reader, so that decompression (most of a scan's CPU on one big gzip
// layer) overlaps with parsing the tar stream and feeding the catalogers on
// a second core. At most chunks×chunkSize bytes are buffered.
type readAhead struct {
	ch   chan []byte
	free chan []byte
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	// buf is the chunk being read, cur its unread part.
	buf, cur []byte
	err      error
	errc     chan error
}

const (
	readAheadChunks    = 4
	readAheadChunkSize = 256 << 10
)

func newReadAhead(r io.Reader) *readAhead {
	ra := &readAhead{
		ch:   make(chan []byte, readAheadChunks),
		free: make(chan []byte, readAheadChunks+1),
		done: make(chan struct{}),
		errc: make(chan error, 1),
	}
	for range readAheadChunks + 1 {
		ra.free <- make([]byte, readAheadChunkSize)
	}
	ra.wg.Add(1)
	go ra.fill(r)
	return ra
}

func (ra *readAhead) fill(r io.Reader) {
	defer ra.wg.Done()
	defer close(ra.ch)
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.done:
			return
		}
		n, err := io.ReadFull(r, buf[:cap(buf)])
		if n > 0 {
			select {
			case ra.ch <- buf[:n]:
			case <-ra.done:
				return
			}
		}
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		if err != nil {
			ra.errc <- err
			return
		}
	}
}

// Read returns decompressed bytes in order, then the decompressor's error
// (io.EOF at a clean end).
func (ra *readAhead) Read(p []byte) (int, error) {
	for len(ra.cur) == 0 {
		if ra.err != nil {
			return 0, ra.err
		}
		if ra.buf != nil {
			ra.free <- ra.buf[:cap(ra.buf)]
			ra.buf = nil
		}
		buf, ok := <-ra.ch
		if !ok {
			ra.err = <-ra.errc
			return 0, ra.err
		}
		ra.buf, ra.cur = buf, buf
	}
	n := copy(p, ra.cur)
	ra.cur = ra.cur[n:]
	return n, nil
}

// Close stops the goroutine and waits for it, so the decompressor under
// it can be closed safely afterwards; reading after Close is not allowed.
func (ra *readAhead) Close() error {
	ra.once.Do(func() { close(ra.done) })
	ra.wg.Wait()
	return nil
}
