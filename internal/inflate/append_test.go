package inflate

import (
	"bytes"
	"compress/gzip"
	"errors"
	"math"
	"runtime"
	"testing"
)

func gzipOf(t testing.TB, level int, parts ...[]byte) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		w, err := gzip.NewWriterLevel(&b, level)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p)
		w.Close()
	}
	return b.Bytes()
}

func TestGunzipAppendMatchesInput(t *testing.T) {
	var z Decoder // one for every stream, as the hub keeps its decoders
	for name, data := range corpus() {
		for _, level := range []int{gzip.NoCompression, gzip.BestSpeed, gzip.HuffmanOnly} {
			// One member, and the same data in three (a small first one,
			// as the agent's batches start): later members' windows start
			// where the earlier ones' output ends.
			half := len(data) / 2
			for members, gz := range map[string][]byte{"one member": gzipOf(t, level, data), "three members": gzipOf(t, level, data[:min(100, half)], data[min(100, half):half], data[half:])} {
				for room, extra := range appendRooms {
					got, err := collect(gunzipAppendRoom(&z, extra), bytes.NewReader(gz))
					if err != nil || !bytes.Equal(got, data) {
						t.Errorf("%s, level %d, %s, %s: %d bytes (want %d), err %v", name, level, members, room, len(got), len(data), err)
					}
				}
			}
		}
	}
}

// TestGunzipAppendInPlace: with room for the output and a window, the
// output is dst's own array and z never makes a buffer of its own (no
// byte is copied out of one); a Decoder then still inflates.
func TestGunzipAppendInPlace(t *testing.T) {
	data := corpus()["mixed"]
	gz := gzipOf(t, gzip.BestSpeed, data[:50], data[50:])
	var z Decoder
	dst := make([]byte, 0, len(data)+OutBufferLen)
	out, err := z.GunzipAppend(dst, gz, int64(len(data)))
	if err != nil || !bytes.Equal(out, data) {
		t.Fatalf("%d bytes (want %d), err %v", len(out), len(data), err)
	}
	if &out[0] != &dst[:1][0] {
		t.Error("the output is not in dst's array")
	}
	if z.d.out != nil {
		t.Errorf("the decoder made or kept a %d-byte buffer", len(z.d.out))
	}
	// Half the room: the decoder's own buffer takes the rest.
	out, err = z.GunzipAppend(make([]byte, 0, len(data)/2), gz, int64(len(data)))
	if err != nil || !bytes.Equal(out, data) || len(z.d.out) != OutBufferLen {
		t.Fatalf("half the room: %d bytes (want %d), err %v, own buffer %d bytes", len(out), len(data), err, len(z.d.out))
	}
	raw := deflate(t, data, 6)
	got, err := collect(z.Inflate, bytes.NewReader(raw))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Inflate after GunzipAppend: %d bytes, err %v", len(got), err)
	}
}

// TestGunzipAppendLimit: output past the limit is refused with ErrLimit
// and dst never grows past the limit, however far the stream would
// inflate (a bomb: 64 MiB of zeros in 64 KB) or wherever dst's room
// ends; exactly the limit is accepted.
func TestGunzipAppendLimit(t *testing.T) {
	var bomb bytes.Buffer
	w, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 64 {
		w.Write(zeros)
	}
	w.Close()
	const limit = 3<<20 + 5
	data := bytes.Repeat(corpus()["mixed"], 2)[:limit]
	for _, tc := range []struct {
		name    string
		gz      []byte
		dstCap  int
		wantErr bool
	}{
		{"bomb, no room", bomb.Bytes(), 0, true},
		{"bomb, room for the limit", bomb.Bytes(), limit + OutBufferLen, true},
		{"bomb in a second member", gzipOf(t, gzip.BestSpeed, []byte("{}"), bytes.Repeat([]byte{'a'}, limit)), 1000, true},
		{"one byte over, in place", gzipOf(t, gzip.BestSpeed, append(data, 'x')), limit + 1 + OutBufferLen, true},
		{"one byte over, appended", gzipOf(t, gzip.BestSpeed, append(data, 'x')), 0, true},
		{"exactly the limit, in place", gzipOf(t, gzip.BestSpeed, data), limit + OutBufferLen, false},
		{"exactly the limit, appended", gzipOf(t, gzip.BestSpeed, data), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var z Decoder
			dst := make([]byte, 0, tc.dstCap)
			out, err := z.GunzipAppend(dst, tc.gz, limit)
			if tc.wantErr != errors.Is(err, ErrLimit) {
				t.Fatalf("err = %v, want ErrLimit: %v", err, tc.wantErr)
			}
			if bound := max(tc.dstCap, limit); cap(out) > bound {
				t.Errorf("dst grew to %d bytes, bound %d", cap(out), bound)
			}
			if !tc.wantErr && len(out) != limit {
				t.Errorf("%d bytes, want %d", len(out), limit)
			}
		})
	}
}

// TestGunzipAppendNoLimitGrowsByDoubling: with no practical limit
// (math.MaxInt64) and a dst already holding bytes, the output still grows
// by doubling. start+limit overflowed to a negative bound, and the buffer
// then grew to exactly what each emit needed: 523 MiB allocated for a
// 16 MiB output (audit, session 13).
func TestGunzipAppendNoLimitGrowsByDoubling(t *testing.T) {
	data := bytes.Repeat(corpus()["mixed"], 1)
	for len(data) < 4<<20 {
		data = append(data, data...)
	}
	gz := gzipOf(t, gzip.BestSpeed, data)
	var z Decoder
	if _, err := z.GunzipAppend([]byte("x"), gz, math.MaxInt64); err != nil { // decoder's own buffers made
		t.Fatal(err)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	out, err := z.GunzipAppend([]byte("x"), gz, math.MaxInt64)
	runtime.ReadMemStats(&after)
	if err != nil || len(out) != 1+len(data) || !bytes.Equal(out[1:], data) {
		t.Fatalf("%d bytes, err %v; want %d", len(out), err, 1+len(data))
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(4*len(data)) {
		t.Errorf("%d bytes out: allocated %d, want at most %d (growth by doubling)", len(data), grew, 4*len(data))
	}
}
