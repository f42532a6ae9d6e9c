package vulndb

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"io"
	"testing"

	"github.com/palisade-sec/palisade/internal/inflate"
)

// sameAsOpen checks readZipEntry against archive/zip's File.Open on
// every entry of an archive: the same content, or an error from both.
func sameAsOpen(t *testing.T, data []byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return
	}
	var dec inflate.Decoder
	for _, zf := range zr.File {
		if zf.UncompressedSize64 > MaxRecordSize {
			continue // never read
		}
		var want []byte
		rc, werr := zf.Open()
		if werr == nil {
			want, werr = io.ReadAll(io.LimitReader(rc, MaxRecordSize+1))
			rc.Close()
		}
		got, err := readZipEntry(bytes.NewReader(data), zf, &dec, []byte("prefix"))
		if (err == nil) != (werr == nil) {
			t.Fatalf("%s: readZipEntry error %v, File.Open error %v", zf.Name, err, werr)
		}
		if err == nil && (!bytes.HasPrefix(got, []byte("prefix")) || !bytes.Equal(got[len("prefix"):], want)) {
			t.Fatalf("%s: content differs from File.Open's", zf.Name)
		}
	}
}

// testZip builds an archive of one entry as zip.Writer writes it
// (method, data descriptor or not) and returns it with the offsets of the
// central directory's CRC-32 and of the data.
func testZip(t testing.TB, method uint16, descriptor bool, body []byte) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	if descriptor {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "a.json", Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(body)
	} else {
		comp := body
		if method == zip.Deflate {
			var c bytes.Buffer
			fw, _ := flate.NewWriter(&c, flate.BestCompression)
			fw.Write(body)
			fw.Close()
			comp = c.Bytes()
		}
		w, err := zw.CreateRaw(&zip.FileHeader{Name: "a.json", Method: method, CRC32: crc32.ChecksumIEEE(body),
			CompressedSize64: uint64(len(comp)), UncompressedSize64: uint64(len(body))})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(comp)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestReadZipEntryMatchesOpen(t *testing.T) {
	body := []byte(`{"id":"X-1","modified":"2024-01-01T00:00:00Z","details":"` + string(bytes.Repeat([]byte("abc "), 300)) + `"}`)
	// centralCRC is the offset of the central directory header's CRC-32.
	centralCRC := func(z []byte) int { return bytes.LastIndex(z, []byte("PK\x01\x02")) + 16 }
	for _, tc := range []struct {
		name       string
		method     uint16
		descriptor bool
		mutate     func(z []byte)
		wantErr    bool
	}{
		{"deflate with data descriptor", zip.Deflate, true, nil, false},
		{"deflate without data descriptor", zip.Deflate, false, nil, false},
		{"stored", zip.Store, true, nil, false},
		{"wrong CRC in the central directory", zip.Deflate, false, func(z []byte) { z[centralCRC(z)] ^= 1 }, true},
		{"wrong CRC in central directory and descriptor", zip.Deflate, true, func(z []byte) { z[centralCRC(z)] ^= 1 }, true},
		{"wrong CRC in the data descriptor", zip.Deflate, true, func(z []byte) {
			i := bytes.Index(z, []byte("PK\x07\x08"))
			z[i+4] ^= 1
		}, true},
		{"CRC of zero: not checked", zip.Deflate, false, func(z []byte) {
			binary.LittleEndian.PutUint32(z[centralCRC(z):], 0)
		}, false},
		{"corrupt data", zip.Deflate, true, func(z []byte) { z[40] ^= 0xff; z[45] ^= 0xff }, true},
		{"declared size too small", zip.Deflate, true, func(z []byte) {
			i := centralCRC(z) + 8
			binary.LittleEndian.PutUint32(z[i:], binary.LittleEndian.Uint32(z[i:])-1)
		}, true},
		{"declared size too large", zip.Deflate, false, func(z []byte) {
			i := centralCRC(z) + 8
			binary.LittleEndian.PutUint32(z[i:], binary.LittleEndian.Uint32(z[i:])+1)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := testZip(t, tc.method, tc.descriptor, body)
			if tc.mutate != nil {
				tc.mutate(z)
			}
			sameAsOpen(t, z)
			zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
			if err != nil {
				t.Fatal(err)
			}
			var dec inflate.Decoder
			if _, err := readZipEntry(bytes.NewReader(z), zr.File[0], &dec, nil); (err != nil) != tc.wantErr {
				t.Errorf("readZipEntry error %v, want an error: %v", err, tc.wantErr)
			}
		})
	}
}

func FuzzReadZipEntryMatchesOpen(f *testing.F) {
	body := []byte(`{"id":"X-1","modified":"2024-01-01T00:00:00Z"}`)
	f.Add(testZip(f, zip.Deflate, true, body))
	f.Add(testZip(f, zip.Deflate, false, body))
	f.Add(testZip(f, zip.Store, true, body))
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsOpen(t, data)
	})
}
