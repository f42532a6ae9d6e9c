package procmem

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestExecutableMappings(t *testing.T) {
	maps := []byte(`00400000-0247a000 r-xp 00000000 fd:00 1234 /bin/agent
0247a000-04c59000 r--p 0207a000 fd:00 1234 /bin/agent
04c59000-04d37000 rw-p 04859000 fd:00 1234 /bin/agent
04d37000-04d90000 rw-p 00000000 00:00 0
7f0000000000-7f0000100000 r--p 00000000 fd:00 999 /lib/other.so
7f0000100000-7f0000200000 r--s 00000000 00:0f 1234 anon_inode:bpf-map
bogus
zzzz-0001 r-xp 00000000 fd:00 1234 /bin/agent
00002000-00001000 r-xp 00000000 fd:00 1234 /bin/agent
`)
	got := executableMappings(maps, 1234)
	want := []mapping{{0x400000, 0x247a000}, {0x247a000, 0x4c59000}}
	if len(got) != len(want) {
		t.Fatalf("got %x, want %x", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mapping %d: got %x, want %x", i, got[i], want[i])
		}
	}
}

func rssFileKiB(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// TestReleaseExecutablePages drops the test binary's own code pages and
// keeps running: the pages fault back in on use.
func TestReleaseExecutablePages(t *testing.T) {
	before := rssFileKiB(t)
	n, err := ReleaseExecutablePages()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFileKiB(t)
	if n == 0 {
		t.Fatal("no executable mapping found")
	}
	if after >= before {
		t.Errorf("RssFile %d KiB before, %d KiB after: nothing released", before, after)
	}
	// Still working: code and read-only data come back on their next use.
	if s := strings.Repeat("ab", 3); s != "ababab" {
		t.Fatal(s)
	}
	t.Logf("released %d bytes of mappings; RssFile %d → %d KiB", n, before, after)
}

// FuzzExecutableMappings: any listing parses without a panic, and every
// mapping returned is a non-empty range.
func FuzzExecutableMappings(f *testing.F) {
	f.Add([]byte("00400000-0247a000 r-xp 00000000 fd:00 1234 /bin/agent\n"), uint64(1234))
	f.Add([]byte("0-1 r--p 0 0:0 7\n\n x y z\n"), uint64(7))
	f.Fuzz(func(t *testing.T, maps []byte, ino uint64) {
		for _, m := range executableMappings(maps, ino) {
			if m.end <= m.start {
				t.Fatalf("empty or inverted mapping %x", m)
			}
		}
	})
}
