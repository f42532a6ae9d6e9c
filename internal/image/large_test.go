package image

import (
	"archive/tar"
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDebianBookworm walks the real debootstrap image that
// hack/images/debian-bookworm.sh builds. It is skipped when the image is
// not in the cache, unless PALISADE_REQUIRE_IMAGES=1.
func TestDebianBookworm(t *testing.T) {
	dir := debianImageDir()
	if _, err := os.Stat(dir + "/index.json"); err != nil {
		msg := "debootstrap bookworm image not built: run hack/images/debian-bookworm.sh (" + dir + ")"
		if os.Getenv("PALISADE_REQUIRE_IMAGES") == "1" {
			t.Fatal(msg + "; PALISADE_REQUIRE_IMAGES=1 makes this a failure")
		}
		t.Skip(msg)
	}
	ctx := context.Background()
	start, cpuStart := time.Now(), cpuTime()
	src, err := Open(ctx, "oci:"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sel := Combine(SelectPaths("etc/os-release", "usr/lib/os-release", "var/lib/dpkg/status"), SecretSelector(SecretOptions{}))
	fsys, err := src.FS(ctx, sel, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpuStart
	osr, err := fs.ReadFile(fsys, "etc/os-release") // a symlink to ../usr/lib/os-release
	if err != nil || !strings.Contains(string(osr), "VERSION_CODENAME=bookworm") {
		t.Fatalf("os-release: %q, %v", osr, err)
	}
	status, err := fs.ReadFile(fsys, "var/lib/dpkg/status")
	if err != nil {
		t.Fatal(err)
	}
	pkgs := strings.Count(string(status), "\nPackage: ") + 1
	if pkgs < 80 {
		t.Errorf("%d packages in dpkg status, want the ~88 of minbase", pkgs)
	}
	if l, ok := fsys.LayerOf("usr/bin/bash"); !ok || l.Index != 0 || l.Digest == "" {
		t.Errorf("LayerOf(usr/bin/bash) = %+v, %v", l, ok)
	}
	if b, err := fs.Stat(fsys, "bin/bash"); err != nil || !b.Mode().IsRegular() {
		t.Errorf("bin/bash through the merged-/usr symlink: %v, %v", b, err)
	}
	start = time.Now()
	cpu0 := cpuTime()
	plain, err := src.FS(ctx, SelectPaths("etc/os-release", "usr/lib/os-release", "var/lib/dpkg/status"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("walk without the secret selector: %v wall, %v CPU (%d entries)", time.Since(start).Round(time.Millisecond), (cpuTime() - cpu0).Round(time.Millisecond), len(plain.Entries()))
	secrets := SecretFindings(fsys, "debian:bookworm")
	for _, f := range secrets {
		t.Logf("secret finding in a stock Debian image (false positive?): %s %s", f.RuleID, f.Message)
	}
	t.Logf("bookworm: %d entries, %d packages, %d secret findings, walk with secrets %v wall, %v CPU, peak RSS %s",
		len(fsys.Entries()), pkgs, len(secrets), elapsed.Round(time.Millisecond), cpu.Round(time.Millisecond), peakRSS())
}

func debianImageDir() string {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = home + "/.cache"
	}
	return cache + "/palisade/images/debian-bookworm"
}

// TestLargeImageMemory walks a generated 1 GiB image (4 layers of 256
// random 1 MiB files, uncompressed) with every file streamed and the secret
// selector on, and reports the peak RSS. Set PALISADE_LARGE_IMAGE=1 to run.
func TestLargeImageMemory(t *testing.T) {
	if os.Getenv("PALISADE_LARGE_IMAGE") != "1" {
		t.Skip("set PALISADE_LARGE_IMAGE=1 to walk a generated 1 GiB image")
	}
	const layers, files, size = 4, 256, 1 << 20
	var ls []fakeLayerT
	for l := range layers {
		ls = append(ls, genLayer{name: fmt.Sprintf("big%d", l), gen: func(w io.Writer) error {
			bw := bufio.NewWriterSize(w, 1<<20)
			tw := tar.NewWriter(bw)
			rng := rand.NewChaCha8([32]byte{byte(l)})
			for i := range files {
				if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("data/l%d/f%04d.bin", l, i), Mode: 0o755, Size: size, Typeflag: tar.TypeReg}); err != nil {
					return err
				}
				if _, err := io.CopyN(tw, rng, size); err != nil {
					return err
				}
			}
			if err := tw.Close(); err != nil {
				return err
			}
			return bw.Flush()
		}})
	}
	var streamed int64
	count := Stream{Name: "count", Read: func(_ string, r io.Reader) (any, error) {
		n, err := io.Copy(io.Discard, r)
		return n, err
	}}
	sel := Combine(SecretSelector(SecretOptions{MaxFileSize: 2 << 20}), func(string, *tar.Header) Want {
		return Want{Streams: []Stream{count}}
	})
	start, cpu0 := time.Now(), cpuTime()
	fsys, err := Walk(context.Background(), fakeImg(toLayers(ls)...), sel, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range fsys.Results("count") {
		streamed += r.Value.(int64)
	}
	if streamed != layers*files*size {
		t.Errorf("streamed %d bytes, want %d", streamed, layers*files*size)
	}
	t.Logf("1 GiB image: %d files streamed to two streams (count + secrets) in %v wall, %v CPU, peak RSS %s",
		layers*files, time.Since(start).Round(time.Millisecond), (cpuTime() - cpu0).Round(time.Millisecond), peakRSS())
}

// peakRSS reads the process's high-water resident set size (Linux).
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
		}
	}
	return "unknown"
}

// cpuTime is the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
