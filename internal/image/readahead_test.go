package image

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"testing"
	"testing/iotest"
)

func TestReadAheadReturnsTheStreamInOrder(t *testing.T) {
	for _, size := range []int{0, 1, readAheadChunkSize - 1, readAheadChunkSize, readAheadChunkSize*7 + 13} {
		data := make([]byte, size)
		rand.New(rand.NewSource(int64(size))).Read(data)
		ra := newReadAhead(iotest.HalfReader(bytes.NewReader(data)))
		got, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(ra, int64(size)+1)))
		ra.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("size %d: got %d bytes, err %v", size, len(got), err)
		}
	}
}

func TestReadAheadPassesErrorsAndStopsEarly(t *testing.T) {
	boom := errors.New("boom")
	ra := newReadAhead(io.MultiReader(bytes.NewReader(make([]byte, 1000)), iotest.ErrReader(boom)))
	if _, err := io.ReadAll(ra); !errors.Is(err, boom) {
		t.Errorf("err = %v, want boom", err)
	}
	ra.Close()
	// Closing while the producer is still ahead must not leak or block.
	big := newReadAhead(bytes.NewReader(make([]byte, 50*readAheadChunkSize)))
	if _, err := big.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	big.Close()
}
