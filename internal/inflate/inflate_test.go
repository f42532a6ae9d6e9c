package inflate

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"testing"
	"testing/iotest"
)

// collect runs a push decoder and returns its output.
func collect(run func(io.Reader, func([]byte) error) error, r io.Reader) ([]byte, error) {
	var out bytes.Buffer
	err := run(r, func(p []byte) error { out.Write(p); return nil })
	return out.Bytes(), err
}

// corpus returns inputs that exercise every block type, long and short
// distances, runs, and output far larger than the buffers.
func corpus() map[string][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 600<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	text := bytes.Repeat([]byte("Package: libc6\nVersion: 2.36-9+deb12u7\nStatus: install ok installed\n"), 20000)
	mixed := make([]byte, 0, 2<<20)
	for len(mixed) < 2<<20 {
		switch rng.IntN(4) {
		case 0:
			mixed = append(mixed, random[:rng.IntN(5000)]...)
		case 1:
			mixed = append(mixed, bytes.Repeat([]byte{byte(rng.Uint32())}, rng.IntN(3000))...)
		case 2:
			off := rng.IntN(len(mixed) + 1)
			mixed = append(mixed, mixed[max(0, off-40000):off]...)
		default:
			mixed = append(mixed, text[:rng.IntN(9000)]...)
		}
	}
	return map[string][]byte{"empty": nil, "one byte": {'x'}, "random": random, "text": text, "mixed": mixed,
		"run": bytes.Repeat([]byte{0}, 1<<20), "short period": bytes.Repeat([]byte("abcde"), 100000),
		// Random bytes repeated at the farthest distance DEFLATE allows:
		// matches reach the whole history wherever the output is split.
		"32 KiB period": bytes.Repeat(random[:32<<10], 40)}
}

func deflate(t testing.TB, data []byte, level int) []byte {
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func TestInflateMatchesInput(t *testing.T) {
	for name, data := range corpus() {
		// Level 0 writes stored blocks, 1 mostly fixed/dynamic, -2 Huffman only.
		for _, level := range []int{flate.NoCompression, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression, flate.HuffmanOnly} {
			comp := deflate(t, data, level)
			for rname, r := range map[string]io.Reader{"whole": bytes.NewReader(comp), "one byte at a time": iotest.OneByteReader(bytes.NewReader(comp))} {
				got, err := collect(Inflate, r)
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("%s, level %d, %s: %d bytes (want %d), err %v", name, level, rname, len(got), len(data), err)
				}
			}
		}
	}
}

// TestGunzipBuffersMatchesInput decodes every block type and output far
// larger than a buffer into the caller's buffers (gunzipBuffersCheckingTrailers),
// whole and a byte at a time.
func TestGunzipBuffersMatchesInput(t *testing.T) {
	for name, data := range corpus() {
		for _, level := range []int{gzip.NoCompression, gzip.BestSpeed, gzip.BestCompression, gzip.HuffmanOnly} {
			var b bytes.Buffer
			w, _ := gzip.NewWriterLevel(&b, level)
			w.Write(data)
			w.Close()
			for rname, r := range map[string]io.Reader{"whole": bytes.NewReader(b.Bytes()), "one byte at a time": iotest.OneByteReader(bytes.NewReader(b.Bytes()))} {
				got, err := collect(gunzipBuffersCheckingTrailers, r)
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("%s, level %d, %s: %d bytes (want %d), err %v", name, level, rname, len(got), len(data), err)
				}
			}
		}
	}
	// A buffer of the wrong size is refused, not written past.
	err := GunzipBuffers(bytes.NewReader(nil), func() ([]byte, error) { return make([]byte, 100), nil },
		func([]byte) error { return nil }, func(uint32) error { return nil })
	if err == nil {
		t.Error("a 100-byte buffer was accepted")
	}
}

func TestGunzipMembersAndHeaders(t *testing.T) {
	data := corpus()["mixed"]
	var multi bytes.Buffer
	for i, part := range [][]byte{data[:1000], nil, data[1000:]} {
		w := gzip.NewWriter(&multi)
		if i == 0 {
			w.Name, w.Comment, w.Extra = "name.tar", "a comment", []byte("extra")
		}
		w.Write(part)
		w.Close()
	}
	good := multi.Bytes()
	withHCRC := func() []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write(data[:5000])
		w.Close()
		h := b.Bytes()
		// FHCRC over the 10 fixed bytes, inserted after them.
		h[3] |= flagHdrCRC
		c := crc32ieee(h[:10])
		return append(append(append([]byte{}, h[:10]...), byte(c), byte(c>>8)), h[10:]...)
	}()
	badCRC := append([]byte{}, good...)
	badCRC[len(badCRC)-6] ^= 1
	// The first member's trailer: its CRC-32 sits 8 bytes before the
	// second member's header.
	first := bytes.Index(good[10:], []byte{0x1f, 0x8b, 8}) + 10
	badFirstCRC := append([]byte{}, good...)
	badFirstCRC[first-8] ^= 1
	badLen := append([]byte{}, good...)
	badLen[len(badLen)-2] ^= 1
	for _, tc := range []struct {
		name    string
		in      []byte
		want    []byte
		wantErr error
	}{
		{"three members", good, data, nil},
		{"header CRC", withHCRC, data[:5000], nil},
		{"empty input", nil, nil, io.EOF},
		{"truncated header", good[:5], nil, io.ErrUnexpectedEOF},
		{"truncated data", good[:len(good)/2], nil, io.ErrUnexpectedEOF},
		{"truncated trailer", good[:len(good)-3], nil, io.ErrUnexpectedEOF},
		{"bad CRC", badCRC, nil, ErrChecksum},
		{"bad CRC of the first member", badFirstCRC, nil, ErrChecksum},
		{"bad length", badLen, nil, ErrChecksum},
		{"bad magic", append([]byte{0x1f, 0x8c}, good[2:]...), nil, ErrHeader},
		{"trailing garbage", append(append([]byte{}, good...), make([]byte, 12)...), nil, ErrHeader},
	} {
		// GunzipTrailers, with the caller checking each member's CRC-32,
		// must answer as Gunzip does.
		funcs := map[string]func(io.Reader, func([]byte) error) error{"Gunzip": Gunzip, "GunzipTrailers": gunzipCheckingTrailers, "GunzipBuffers": gunzipBuffersCheckingTrailers}
		var z Decoder // one for every case: each starts from what the last left
		for room, extra := range appendRooms {
			funcs["GunzipAppend, "+room] = gunzipAppendRoom(&z, extra)
		}
		for fname, fn := range funcs {
			t.Run(fname+"/"+tc.name, func(t *testing.T) {
				got, err := collect(fn, bytes.NewReader(tc.in))
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) {
						t.Errorf("err = %v, want %v", err, tc.wantErr)
					}
					return
				}
				if err != nil || !bytes.Equal(got, tc.want) {
					t.Errorf("%d bytes (want %d), err %v", len(got), len(tc.want), err)
				}
			})
		}
	}
}

func TestInflateRejectsCorruptStreams(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"block type 3", []byte{0x07}},
		{"stored length check", []byte{0x01, 0x05, 0x00, 0x00, 0x00}},
		// fixed block: a distance before the start of the output.
		{"distance too far", deflateWithFarDistance()},
		{"truncated fixed block", deflate(t, []byte("hello hello hello"), 1)[:3]},
		{"empty", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := collect(Inflate, bytes.NewReader(tc.in))
			_, serr := io.ReadAll(flate.NewReader(bytes.NewReader(tc.in)))
			if err == nil || serr == nil {
				t.Errorf("err = %v, stdlib err = %v: want both to fail", err, serr)
			}
		})
	}
}

// deflateWithFarDistance is a final fixed block of a length-3 match at
// distance 1 with no output before it.
func deflateWithFarDistance() []byte {
	var bw bitWriter
	bw.put(1, 1)            // final
	bw.put(1, 2)            // fixed
	bw.putRev(0b0000001, 7) // symbol 257 (length 3)
	bw.putRev(0, 5)         // distance code 0 (1)
	bw.putRev(0b0000000, 7) // end of block
	return bw.bytes()
}

type bitWriter struct {
	b  []byte
	nb uint
}

func (w *bitWriter) put(v uint32, n uint) {
	for i := uint(0); i < n; i++ {
		if w.nb%8 == 0 {
			w.b = append(w.b, 0)
		}
		w.b[len(w.b)-1] |= byte((v>>i)&1) << (w.nb % 8)
		w.nb++
	}
}

// putRev writes a Huffman code, most significant bit first.
func (w *bitWriter) putRev(code uint32, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		w.put((code>>uint(i))&1, 1)
	}
}

func (w *bitWriter) bytes() []byte { return w.b }

// The bookworm layer, when present, through both decoders.
func TestGunzipRealLayer(t *testing.T) {
	path := os.Getenv("PALISADE_INFLATE_LAYER")
	if path == "" {
		t.Skip("PALISADE_INFLATE_LAYER unset")
	}
	f, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := collect(Gunzip, bytes.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	zr, _ := gzip.NewReader(bytes.NewReader(f))
	want, _ := io.ReadAll(zr)
	if !bytes.Equal(got, want) {
		t.Fatalf("%d bytes, want %d", len(got), len(want))
	}
}

// TestTableBuildShortCodes checks a table built over a reused one (as a
// reused Decoder does) against the definition: every primary index
// whose low bits are a code's reversed bits holds that code's entry,
// and every other index is invalid. Short codes are written once and
// copied up, so a copy that misses or overlaps shows here.
func TestTableBuildShortCodes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		lengths []uint8
	}{
		{"single code of length one", []uint8{0, 1}},
		{"two codes", []uint8{1, 1}},
		{"code-length sized", []uint8{2, 2, 3, 3, 3, 4, 5, 6, 7, 7}},
		{"exactly the primary size", append(bytesOf(2, 10), bytesOf(1022, 10)...)},
		{"no code", []uint8{0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tb table
			// First a table with long codes, so that stale entries and
			// subtable links are left where the new one must overwrite.
			long := []uint8{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 15}
			if !tb.build(long, litBits, clSym) || len(tb.e) == 1<<litBits {
				t.Fatal("the long code built no subtable")
			}
			if !tb.build(tc.lengths, litBits, clSym) {
				t.Fatal("build refused a valid code")
			}
			want := make([]entry, 1<<litBits)
			var count [maxCode + 1]int
			for _, l := range tc.lengths {
				if l != 0 {
					count[l]++
				}
			}
			var next [maxCode + 2]int
			code := 0
			for l := 1; l <= maxCode; l++ {
				code = (code + count[l-1]) << 1
				next[l] = code
			}
			for s, l := range tc.lengths {
				if l == 0 {
					continue
				}
				c := next[l]
				next[l]++
				rev := 0
				for i := 0; i < int(l); i++ {
					rev |= (c >> i & 1) << (int(l) - 1 - i)
				}
				for i := range want {
					if i&(1<<l-1) == rev {
						want[i] = clSym(s) | entry(l)
					}
				}
			}
			if len(tb.e) != len(want) {
				t.Fatalf("table of %d entries, want %d", len(tb.e), len(want))
			}
			for i := range want {
				if tb.e[i] != want[i] {
					t.Fatalf("entry %d = %#x, want %#x", i, tb.e[i], want[i])
				}
			}
		})
	}
}

func bytesOf(n int, v uint8) []uint8 { return bytes.Repeat([]byte{v}, n) }
