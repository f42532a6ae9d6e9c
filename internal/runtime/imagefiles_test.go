package runtime

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestImageFiles(t *testing.T) {
	set := NewImageFiles([]string{"/usr/bin/env", "bin/sh", "/usr/bin/env", "/app/../app/server"})
	if set.Len() != 3 {
		t.Fatalf("%d paths, want 3 (one repeated)", set.Len())
	}
	back, err := DecodeImageFiles(set.Encode())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path     string
		has, ok  bool
		decision string
	}{
		{"/usr/bin/env", true, true, "listed"},
		{"/bin/sh", true, true, "listed without its leading slash"},
		{"/app/server", true, true, "listed through .."},
		{"/bin//sh", true, true, "unclean exec path"},
		{"/tmp/miner", false, true, "not listed"},
		{"sh", false, false, "relative: cannot tell"},
		{"", false, false, "empty"},
	} {
		for _, s := range []*ImageFiles{set, back} {
			if has, ok := s.Has(tc.path); has != tc.has || ok != tc.ok {
				t.Errorf("%s (%s): Has = %v, %v; want %v, %v", tc.path, tc.decision, has, ok, tc.has, tc.ok)
			}
		}
	}
	if len(set.Encode()) != 24 {
		t.Errorf("encoded %d bytes, want 8 per path", len(set.Encode()))
	}
}

func TestDecodeImageFilesRefuses(t *testing.T) {
	enc := NewImageFiles([]string{"/a", "/b", "/c"}).Encode()
	swapped := append(append(append([]byte{}, enc[8:16]...), enc[:8]...), enc[16:]...)
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"truncated", enc[:20], "multiple of 8"},
		{"out of order", swapped, "out of order"},
		{"repeated", append(append([]byte{}, enc[:8]...), enc[:8]...), "out of order"},
		{"too many", bytes.Repeat([]byte{0}, 8*(MaxImageFiles+1)), "over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeImageFiles(tc.in)
			if !errors.Is(err, ErrImageFiles) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	if s, err := DecodeImageFiles(nil); err != nil || s.Len() != 0 {
		t.Errorf("empty set: %v, %v", s, err)
	}
}

func TestImageFilesKey(t *testing.T) {
	hex := "0a" + strings.Repeat("f", 62)
	for _, tc := range []struct {
		digest string
		key    string
		shard  int
		ok     bool
	}{
		{"sha256:" + hex, "sha256-" + hex, 0x0a % ImageFilesShards, true},
		{"sha256:ff" + strings.Repeat("0", 62), "sha256-ff" + strings.Repeat("0", 62), 0xff % ImageFilesShards, true},
		{"sha256:" + strings.ToUpper(hex), "", 0, false},
		{"sha512:" + hex, "", 0, false},
		{"sha256:" + hex[:10], "", 0, false},
		{"", "", 0, false},
	} {
		key, shard, ok := ImageFilesKey(tc.digest)
		if key != tc.key || shard != tc.shard || ok != tc.ok {
			t.Errorf("%q: %q %d %v, want %q %d %v", tc.digest, key, shard, ok, tc.key, tc.shard, tc.ok)
		}
	}
}

// FuzzDecodeImageFiles: a ConfigMap value is untrusted input to the
// sensor: no panic, and what decodes encodes back to itself.
func FuzzDecodeImageFiles(f *testing.F) {
	f.Add(NewImageFiles([]string{"/bin/sh", "/usr/bin/env"}).Encode())
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeImageFiles(b)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Encode(), b) {
			t.Fatalf("decoded set encodes differently")
		}
		s.Has("/bin/sh")
	})
}
