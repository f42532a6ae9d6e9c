package vulndb

import (
	"io"
	"sync"
)

// chunkReaderAt serves the many small reads that archive/zip makes of an
// archive (a local header, the compressed data and the data descriptor
// of each entry: three or four reads of a few hundred bytes per record,
// each a system call on a file) from a few aligned chunks read whole. The
// entries of a batch lie one after the other, so each chunk is read about
// once. It is safe for concurrent use (the decoding workers read their
// batches at once); memory is fixed at chunkSlots × chunkSize.
type chunkReaderAt struct {
	r    io.ReaderAt
	size int64

	mu     sync.Mutex
	slots  [chunkSlots]chunk
	victim int // next slot to replace, round robin
}

const (
	chunkSize  = 256 << 10
	chunkSlots = 8 // two per decoding worker
)

type chunk struct {
	off  int64 // -1: empty
	data []byte
}

func newChunkReaderAt(r io.ReaderAt, size int64) *chunkReaderAt {
	c := &chunkReaderAt{r: r, size: size}
	for i := range c.slots {
		c.slots[i].off = -1
	}
	return c
}

// ReadAt reads as io.ReaderAt does: len(p) bytes, or fewer and an error
// (io.EOF past the end of the file).
func (c *chunkReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, io.ErrUnexpectedEOF
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= c.size {
			return n, io.EOF
		}
		data, err := c.chunk(pos - pos%chunkSize)
		if err != nil {
			return n, err
		}
		n += copy(p[n:], data[pos%chunkSize:])
	}
	return n, nil
}

// chunk returns the chunk at off, reading it if it is not held.
func (c *chunkReaderAt) chunk(off int64) ([]byte, error) {
	for i := range c.slots {
		if c.slots[i].off == off {
			return c.slots[i].data, nil
		}
	}
	s := &c.slots[c.victim]
	c.victim = (c.victim + 1) % chunkSlots
	if s.data == nil {
		s.data = make([]byte, chunkSize)
	}
	want := int(min(chunkSize, c.size-off))
	s.off = -1
	n, err := c.r.ReadAt(s.data[:want], off)
	if n < want {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF // the file shrank under us
		}
		return nil, err
	}
	s.off = off
	return s.data[:want], nil
}
