package vulndb

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
)

func TestChunkReaderAt(t *testing.T) {
	data := make([]byte, 3*chunkSize+12345)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	size := int64(len(data))
	for _, tc := range []struct {
		name    string
		off     int64
		n       int
		wantN   int
		wantErr error
	}{
		{"start", 0, 100, 100, nil},
		{"across a chunk boundary", chunkSize - 10, 20, 20, nil},
		{"across three chunks", chunkSize - 1, 2*chunkSize + 2, 2*chunkSize + 2, nil},
		{"to the end", size - 50, 50, 50, nil},
		{"past the end", size - 50, 60, 50, io.EOF},
		{"at the end", size, 1, 0, io.EOF},
		{"negative offset", -1, 1, 0, io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newChunkReaderAt(bytes.NewReader(data), size)
			p := make([]byte, tc.n)
			n, err := c.ReadAt(p, tc.off)
			if n != tc.wantN || !errors.Is(err, tc.wantErr) && err != tc.wantErr {
				t.Fatalf("ReadAt = %d, %v; want %d, %v", n, err, tc.wantN, tc.wantErr)
			}
			if n > 0 && !bytes.Equal(p[:n], data[tc.off:tc.off+int64(n)]) {
				t.Fatal("wrong bytes")
			}
		})
	}
	t.Run("file shrank", func(t *testing.T) {
		c := newChunkReaderAt(bytes.NewReader(data[:chunkSize+10]), size)
		if _, err := c.ReadAt(make([]byte, 100), chunkSize); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
		}
	})
	t.Run("concurrent readers", func(t *testing.T) {
		c := newChunkReaderAt(bytes.NewReader(data), size)
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(w), 7))
				for range 2000 {
					off := rng.Int64N(size)
					n := min(int64(rng.IntN(3000)), size-off)
					p := make([]byte, n)
					if _, err := c.ReadAt(p, off); err != nil || !bytes.Equal(p, data[off:off+n]) {
						t.Errorf("ReadAt(%d, %d): %v or wrong bytes", off, n, err)
						return
					}
				}
			})
		}
		wg.Wait()
	})
}
