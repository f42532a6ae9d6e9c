package manifest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// A YAML stream no longer than one document (maxDocumentBytes) is read
// whole into a buffer and split in place (yamlSplitter.splitBytes): its
// documents are slices of the buffer rather than copies, and the buffer
// goes back to the reader's pool once every document is parsed, for the
// next stream. On a directory of manifests this saves copying every
// document twice (into the splitter's buffer, then out of it) and
// allocating each copy. Longer streams are split line by line as
// before, so the memory held per document in flight is bounded the same
// way: at most one document's limit per queued document either way.

// wholeFile is a stream read whole, shared by the documents cut from it.
type wholeFile struct {
	data []byte
	// refs counts the documents not yet parsed, plus one for the reader
	// while it splits.
	refs atomic.Int32
	pool *bufferPool
}

func (w *wholeFile) retain() {
	if w != nil {
		w.refs.Add(1)
	}
}

// release drops one reference; the last returns the buffer to the pool.
// Nothing parsed from a document keeps a slice of its data (objects,
// problems and Helm sources are copies), so the buffer can be reused.
func (w *wholeFile) release() {
	if w != nil && w.refs.Add(-1) == 0 {
		w.pool.put(w.data)
	}
}

// bufferPool keeps a few buffers of streams read whole. It is bounded in
// count and in the size of what it keeps, so it never holds more than a
// few documents' worth of memory once a load is done.
type bufferPool struct {
	mu   sync.Mutex
	free [][]byte
}

const (
	maxPooledBuffers    = 8
	maxPooledBufferSize = 1 << 20
)

func (p *bufferPool) get() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b[:0]
	}
	return nil
}

func (p *bufferPool) put(b []byte) {
	if cap(b) > maxPooledBufferSize {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < maxPooledBuffers {
		p.free = append(p.free, b)
	}
}

// readUpTo reads br into buf until EOF or until more than limit bytes
// are read. whole reports whether it reached EOF within the limit.
func readUpTo(br io.Reader, buf []byte, limit int) (data []byte, whole bool, err error) {
	if buf == nil {
		buf = make([]byte, 0, 64<<10)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := br.Read(buf[len(buf):min(cap(buf), limit+1)])
		buf = buf[:len(buf)+n]
		switch {
		case errors.Is(err, io.EOF):
			return buf, true, nil
		case err != nil:
			return buf, false, err
		case len(buf) > limit:
			return buf, false, nil
		}
	}
}

// splitWhole splits a YAML stream, in place when it is read whole within
// a document's limit, and line by line otherwise. Whatever happens, the
// documents and the error are those that splitYAML gives on the stream.
func (r *reader) splitWhole(br *bufio.Reader, emit func(document) error) error {
	if r.opts.streamOnly {
		return splitYAML(br, emit)
	}
	data, whole, err := readUpTo(br, r.buffers.get(), maxDocumentBytes)
	if !whole {
		// Too long, or a read error: split what was read, then the rest
		// (or the error), line by line.
		rest := io.Reader(br)
		if err != nil {
			rest = errorReader{err}
		}
		err := splitYAML(io.MultiReader(bytes.NewReader(data), rest), emit)
		r.buffers.put(data)
		return err
	}
	w := &wholeFile{data: data, pool: &r.buffers}
	w.refs.Store(1)
	r.whole = w
	defer func() {
		r.whole = nil
		w.release()
	}()
	return yamlSplitter{limit: maxDocumentBytes, listLimit: maxListBytes}.splitBytes(data, emit)
}

// errorReader returns its error on every read.
type errorReader struct{ err error }

func (e errorReader) Read([]byte) (int, error) { return 0, e.err }
