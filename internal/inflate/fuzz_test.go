package inflate

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"io"
	"strings"
	"testing"
)

// Differential fuzzing against the standard library: every input either
// decodes to the same bytes with both, or fails with both. Seeds (in
// testdata/fuzz) are valid streams of each block type and broken ones.

func FuzzInflateMatchesStdlib(f *testing.F) {
	for _, level := range []int{flate.NoCompression, flate.BestSpeed, flate.BestCompression, flate.HuffmanOnly} {
		f.Add(deflate(f, []byte("Package: libc6\nVersion: 2.36\nPackage: libc6\n"), level))
	}
	f.Add([]byte{0x07})
	f.Add(deflateWithFarDistance())
	f.Fuzz(func(t *testing.T, in []byte) {
		want, werr := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(in)), 64<<20))
		got, err := collect(Inflate, bytes.NewReader(in))
		if (err == nil) != (werr == nil) {
			t.Fatalf("err = %v, stdlib err = %v", err, werr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("output differs: %d bytes, stdlib %d", len(got), len(want))
		}
	})
}

func FuzzGunzipMatchesStdlib(f *testing.F) {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Name = "x"
	w.Write([]byte("hello, hello, hello"))
	w.Close()
	f.Add(b.Bytes())
	f.Add(append(append([]byte{}, b.Bytes()...), b.Bytes()...))
	f.Fuzz(func(t *testing.T, in []byte) {
		var want []byte
		zr, werr := gzip.NewReader(bytes.NewReader(in))
		if werr == nil {
			want, werr = io.ReadAll(io.LimitReader(zr, 64<<20))
		}
		got, err := collect(Gunzip, bytes.NewReader(in))
		if werr == nil && err != nil && strings.Contains(err.Error(), "reserved flags") {
			// RFC 1952 says a reserved flag bit set is an error;
			// compress/gzip ignores them. The one intended difference.
			return
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("err = %v, stdlib err = %v", err, werr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("output differs: %d bytes, stdlib %d", len(got), len(want))
		}
		// GunzipTrailers with the CRC-32 checked by the caller: the same.
		got, err = collect(gunzipCheckingTrailers, bytes.NewReader(in))
		if (err == nil) != (werr == nil) {
			t.Fatalf("GunzipTrailers: err = %v, stdlib err = %v", err, werr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("GunzipTrailers: output differs: %d bytes, stdlib %d", len(got), len(want))
		}
		// GunzipBuffers, into the caller's buffers: the same.
		got, err = collect(gunzipBuffersCheckingTrailers, bytes.NewReader(in))
		if (err == nil) != (werr == nil) {
			t.Fatalf("GunzipBuffers: err = %v, stdlib err = %v", err, werr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("GunzipBuffers: output differs: %d bytes, stdlib %d", len(got), len(want))
		}
		// GunzipAppend, in place or not, with one Decoder: the same. A
		// fuzzed trailer's size is not the output's: the real one's room
		// is tried too.
		var z Decoder
		for room, extra := range appendRooms {
			if len(in) >= 4 && werr == nil {
				extra += len(want) - int(min(binary.LittleEndian.Uint32(in[len(in)-4:]), 4<<20))
			}
			got, err = collect(gunzipAppendRoom(&z, extra), bytes.NewReader(in))
			if (err == nil) != (werr == nil) {
				t.Fatalf("GunzipAppend, %s: err = %v, stdlib err = %v", room, err, werr)
			}
			if err == nil && !bytes.Equal(got, want) {
				t.Fatalf("GunzipAppend, %s: output differs: %d bytes, stdlib %d", room, len(got), len(want))
			}
		}
	})
}

// FuzzDecoderReuseMatchesStdlib decodes two streams with one Decoder:
// whatever the first left behind (a failed stream's state, its output in
// the window), the second decodes as the standard library does.
func FuzzDecoderReuseMatchesStdlib(f *testing.F) {
	ok := deflate(f, []byte("Package: libc6\nVersion: 2.36\nPackage: libc6\n"), flate.BestCompression)
	f.Add(ok, ok)
	f.Add([]byte{0x07}, ok)
	f.Add(deflateWithFarDistance(), deflate(f, []byte("abcabcabc"), flate.HuffmanOnly))
	f.Fuzz(func(t *testing.T, first, second []byte) {
		var z Decoder
		for _, in := range [][]byte{first, second} {
			want, werr := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(in)), 64<<20))
			got, err := collect(z.Inflate, bytes.NewReader(in))
			if (err == nil) != (werr == nil) {
				t.Fatalf("err = %v, stdlib err = %v", err, werr)
			}
			if err == nil && !bytes.Equal(got, want) {
				t.Fatalf("output differs: %d bytes, stdlib %d", len(got), len(want))
			}
		}
	})
}
