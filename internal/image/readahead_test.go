package image

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"math/rand"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/palisade-sec/palisade/internal/inflate"
)

func TestReadAheadReturnsTheStreamInOrder(t *testing.T) {
	for _, size := range []int{0, 1, readAheadChunkSize - 1, readAheadChunkSize, readAheadChunkSize*7 + 13} {
		data := make([]byte, size)
		rand.New(rand.NewSource(int64(size))).Read(data)
		ra := newReadAhead(iotest.HalfReader(bytes.NewReader(data)), readAheadChunks)
		got, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(ra, int64(size)+1)))
		ra.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("size %d: got %d bytes, err %v", size, len(got), err)
		}
	}
}

func TestReadAheadPassesErrorsAndStopsEarly(t *testing.T) {
	boom := errors.New("boom")
	ra := newReadAhead(io.MultiReader(bytes.NewReader(make([]byte, 1000)), iotest.ErrReader(boom)), readAheadChunks)
	if _, err := io.ReadAll(ra); !errors.Is(err, boom) {
		t.Errorf("err = %v, want boom", err)
	}
	ra.Close()
	// Closing while the producer is still ahead must not leak or block.
	big := newReadAhead(bytes.NewReader(make([]byte, 50*readAheadChunkSize)), readAheadChunks)
	if _, err := big.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	big.Close()
}

// TestReadAheadSkip skips and reads in turn across chunk boundaries and
// past the end: the bytes read are those of the stream after each skip,
// a skip stops at the end (or error) and the next Read reports it.
func TestReadAheadSkip(t *testing.T) {
	const size = readAheadChunkSize*3 + 100
	data := make([]byte, size)
	rand.New(rand.NewSource(1)).Read(data)
	boom := errors.New("boom")
	tests := []struct {
		name    string
		steps   []int64 // skip, read, skip, read, ...
		wantEnd error   // what the last read returns
		src     io.Reader
	}{
		{"within one chunk", []int64{10, 5, 20, 7}, nil, nil},
		{"across chunks", []int64{readAheadChunkSize - 3, 10, readAheadChunkSize * 2, 50}, nil, nil},
		{"to the end exactly", []int64{size - 4, 4, 0, 1}, io.EOF, nil},
		{"past the end", []int64{size + 999, 1}, io.EOF, nil},
		{"into an error", []int64{1000, 10, 5000, 1}, boom, io.MultiReader(bytes.NewReader(data[:2000]), iotest.ErrReader(boom))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.src
			if src == nil {
				src = bytes.NewReader(data)
			}
			ra := newReadAhead(src, readAheadChunks)
			defer ra.Close()
			limit := int64(size)
			if tt.src != nil {
				limit = 2000
			}
			var pos int64
			var err error
			for i := 0; i < len(tt.steps); i += 2 {
				skipped := ra.skip(tt.steps[i])
				if want := min(tt.steps[i], limit-pos); skipped != want {
					t.Fatalf("skip(%d) at %d = %d, want %d", tt.steps[i], pos, skipped, want)
				}
				pos += skipped
				buf := make([]byte, tt.steps[i+1])
				var n int
				n, err = io.ReadFull(ra, buf)
				if !bytes.Equal(buf[:n], data[pos:pos+int64(n)]) {
					t.Fatalf("read at %d: wrong bytes", pos)
				}
				pos += int64(n)
			}
			if tt.wantEnd == nil && err != nil || tt.wantEnd != nil && !errors.Is(err, tt.wantEnd) && !(tt.wantEnd == io.EOF && err == io.ErrUnexpectedEOF) {
				t.Errorf("last read: %v, want %v", err, tt.wantEnd)
			}
		})
	}
}

// TestBombReaderSeek checks the skip archive/tar uses for bodies nobody
// reads: the probe, forward skips giving the offset reached, the limits
// counting skipped bytes (an endless stream is stopped, not skipped for
// ever), and the refusal over a stream that is not a read-ahead.
func TestBombReaderSeek(t *testing.T) {
	tests := []struct {
		name    string
		src     func() io.Reader
		ahead   bool
		lim     Limits
		skips   []int64
		want    []int64 // offset after each skip
		wantErr error
	}{
		{"forward skips", func() io.Reader { return bytes.NewReader(make([]byte, 3*readAheadChunkSize)) }, true, Limits{},
			[]int64{0, 10, readAheadChunkSize * 2}, []int64{0, 10, 10 + readAheadChunkSize*2}, nil},
		{"past the end stops there", func() io.Reader { return bytes.NewReader(make([]byte, 1000)) }, true, Limits{},
			[]int64{0, 5000}, []int64{0, 1000}, nil},
		{"an endless stream hits the limit", func() io.Reader { return zeroReader{} }, true, Limits{MaxUncompressedBytes: 4 << 20},
			[]int64{0, 1 << 40}, []int64{0}, ErrLimit},
		{"not a read-ahead", func() io.Reader { return bytes.NewReader(make([]byte, 1000)) }, false, Limits{},
			[]int64{0}, nil, errNoSeek},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.src()
			if tt.ahead {
				ra := newReadAhead(r, readAheadChunks)
				defer ra.Close()
				r = ra
			}
			comp := &countReader{}
			comp.n.Store(1)
			b := &bombReader{r: r, comp: comp, w: &walker{lim: tt.lim}}
			var err error
			for i, n := range tt.skips {
				var off int64
				off, err = b.Seek(n, io.SeekCurrent)
				if err != nil {
					break
				}
				if off != tt.want[i] {
					t.Errorf("Seek(%d) = %d, want %d", n, off, tt.want[i])
				}
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestReadAheadChecksumMarks checks the CRC-32 marks a gzip producer
// sends: bytes read or skipped since the previous mark must match it, a
// mismatch fails the read at that point with inflate.ErrChecksum, and a
// stream without sum ignores nothing it is not given.
func TestReadAheadChecksumMarks(t *testing.T) {
	a := bytes.Repeat([]byte("member one "), readAheadChunkSize/5)
	b := []byte("member two")
	tests := []struct {
		name    string
		crcs    [2]uint32
		skip    int64 // skipped before reading the rest
		wantErr error
	}{
		{"both members match", [2]uint32{crc32.ChecksumIEEE(a), crc32.ChecksumIEEE(b)}, 0, nil},
		{"both match, part skipped", [2]uint32{crc32.ChecksumIEEE(a), crc32.ChecksumIEEE(b)}, readAheadChunkSize + 7, nil},
		{"first member differs", [2]uint32{crc32.ChecksumIEEE(a) ^ 1, crc32.ChecksumIEEE(b)}, 0, inflate.ErrChecksum},
		{"second member differs, first skipped", [2]uint32{crc32.ChecksumIEEE(a), 0}, int64(len(a)), inflate.ErrChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ra := newReadAheadFunc(true, readAheadChunks, readAheadChunkSize, func(next func() ([]byte, error), emit func([]byte) error, check func(uint32) error) error {
				for i, m := range [][]byte{a, b} {
					for len(m) > 0 {
						buf, err := next()
						if err != nil {
							return err
						}
						n := copy(buf, m)
						m = m[n:]
						if err := emit(buf[:n]); err != nil {
							return err
						}
					}
					if err := check(tt.crcs[i]); err != nil {
						return err
					}
				}
				return nil
			})
			defer ra.Close()
			skipped := ra.skip(tt.skip)
			rest, err := io.ReadAll(ra)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if whole := append(append([]byte{}, a...), b...); err == nil && (skipped != tt.skip || !bytes.Equal(rest, whole[tt.skip:])) {
				t.Errorf("skipped %d, read %d bytes: not the stream", skipped, len(rest))
			}
		})
	}
}

// boundedSource is an endless stream that counts the reads made of it.
type boundedSource struct {
	reads atomic.Int32
	seen  chan struct{} // gets a value at every read
}

func (s *boundedSource) Read(p []byte) (int, error) {
	s.reads.Add(1)
	s.seen <- struct{}{}
	return len(p), nil
}

// TestReadAheadBound: the compressed read-ahead never holds more than
// chunks+1 chunks, whatever the reader does (it holds one and reads no
// further here); the walk's ratio limit counts the bytes read ahead as
// compressed bytes read, as it counted the 1 MiB bufio.Reader's before.
func TestReadAheadBound(t *testing.T) {
	if got := (compressedReadAheadChunks + 1) * readAheadChunkSize; got != 1<<20 {
		t.Errorf("compressed read-ahead holds %d bytes, want 1 MiB", got)
	}
	src := &boundedSource{seen: make(chan struct{}, 100)}
	ra := newReadAhead(src, compressedReadAheadChunks)
	if _, err := ra.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	for range compressedReadAheadChunks + 1 {
		<-src.seen
	}
	// A read past the bound would come now, if anything let it.
	select {
	case <-src.seen:
		t.Errorf("read ahead further than %d chunks", compressedReadAheadChunks+1)
	case <-time.After(100 * time.Millisecond):
	}
	ra.Close()
	if n := src.reads.Load(); n != compressedReadAheadChunks+1 {
		t.Errorf("%d reads, want %d", n, compressedReadAheadChunks+1)
	}
}

// TestReadAheadEmitNeedsBuffer: a producer may emit only part of a buffer
// that next gave it, once; a second emit of the same buffer would hand
// it to the reader twice and is refused.
func TestReadAheadEmitNeedsBuffer(t *testing.T) {
	for name, produce := range map[string]func(next func() ([]byte, error), emit func([]byte) error, _ func(uint32) error) error{
		"without next": func(_ func() ([]byte, error), emit func([]byte) error, _ func(uint32) error) error {
			return emit([]byte("x"))
		},
		"twice": func(next func() ([]byte, error), emit func([]byte) error, _ func(uint32) error) error {
			buf, err := next()
			if err != nil {
				return err
			}
			if err := emit(buf[:1]); err != nil {
				return err
			}
			return emit(buf[1:2])
		},
	} {
		ra := newReadAheadFunc(false, 1, 16, produce)
		done := make(chan error, 1)
		go func() {
			_, err := io.ReadAll(ra)
			done <- err
		}()
		// A buffer handed to the reader twice is given back twice, and
		// the second give-back blocks for ever: report that, not hang.
		select {
		case err := <-done:
			ra.Close()
			if !errors.Is(err, errNoBuffer) {
				t.Errorf("%s: err = %v, want errNoBuffer", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s: the reader is stuck giving a buffer back", name)
		}
	}
}
